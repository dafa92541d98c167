use leptos::prelude::*;

use crate::state::AppState;

/// The page's panels, as the phone layout shows them one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The conversation.
    Messages,
    /// The peer list.
    Peers,
    /// Discovery, signaling and the mesh.
    Connection,
    /// Settings.
    Settings,
}

impl Section {
    const ALL: [Section; 4] = [
        Section::Messages,
        Section::Peers,
        Section::Connection,
        Section::Settings,
    ];

    /// The section's name in class names and IDs.
    #[must_use]
    pub fn slug(self) -> &'static str {
        match self {
            Self::Messages => "messages",
            Self::Peers => "peers",
            Self::Connection => "connection",
            Self::Settings => "settings",
        }
    }

    /// The ID of the element that holds the section's panel.
    #[must_use]
    pub fn area_id(self) -> String {
        format!("area-{}", self.slug())
    }

    fn label(self) -> &'static str {
        match self {
            Self::Messages => "Messages",
            Self::Peers => "Peers",
            Self::Connection => "Connection",
            Self::Settings => "Settings",
        }
    }
}

/// The bar that picks the panel a narrow screen shows, as chat apps do; wide screens show
/// every panel and hide it.
#[component]
pub fn SectionNav(
    /// The section shown.
    shown: RwSignal<Section>,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <nav class="section-nav" aria-label="Sections">
            {Section::ALL.into_iter().map(|section| {
                let label = move || match section {
                    Section::Peers if state.connected_count() > 0 => {
                        format!("{} ({})", section.label(), state.connected_count())
                    }
                    _ => section.label().to_owned(),
                };
                view! {
                    <button
                        type="button"
                        aria-controls=section.area_id()
                        aria-pressed=move || (shown.get() == section).to_string()
                        on:click=move |_| shown.set(section)
                    >
                        {label}
                    </button>
                }
            }).collect_view()}
        </nav>
    }
}
