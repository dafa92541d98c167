use std::collections::BTreeSet;

use leptos::prelude::*;
use seedmesh_core::PeerId;
use seedmesh_core::mesh::picture::{FULL_TURN, Picture, Spot};

use crate::state::AppState;

/// The inner ring's radius, in the drawing's units: our links.
const INNER_RADIUS: f64 = 68.0;
/// The outer ring's radius: the peers our links told of.
const OUTER_RADIUS: f64 = 128.0;

/// The mesh around this page as a small live graph: this page in the middle, its links
/// around it, and the peers they are linked with further out.
#[component]
pub fn MeshPicture() -> impl IntoView {
    let state = expect_context::<AppState>();
    let picture = Memo::new(move |_| {
        let me = state
            .identity
            .with(|identity| identity.as_ref().map(|i| i.id.clone()))?;
        let links: BTreeSet<PeerId> = state.linked_ids().into_iter().collect();
        let picture = state
            .neighbourhood
            .with(|told| Picture::new(&me, &links, told));
        (!picture.links.is_empty()).then_some(picture)
    });
    let name_of = move |id: &PeerId| {
        state.peers.with_untracked(|peers| {
            peers
                .get(id)
                .and_then(|p| p.name.clone())
                .unwrap_or_else(|| id.to_string())
        })
    };
    // Pages past our links are known by the names they gave the room, if they did.
    let room_name = move |id: &PeerId| {
        state.room.with_untracked(|room| {
            room.get(id)
                .map_or_else(|| id.to_string(), |name| format!("{name}, {id}"))
        })
    };
    move || {
        picture.get().map(|picture| {
            let caption = caption(&picture);
            let points: Vec<(i32, i32)> = picture
                .links
                .iter()
                .map(|s| point(s, INNER_RADIUS))
                .chain(picture.outer.iter().map(|s| point(s, OUTER_RADIUS)))
                .collect();
            let to_links = points[..picture.links.len()]
                .iter()
                .map(|&(x, y)| view! { <line class="to-link" x1="0" y1="0" x2=x y2=y/> })
                .collect_view();
            let beyond = picture
                .lines
                .iter()
                .map(|&(a, b)| {
                    let ((x1, y1), (x2, y2)) = (points[a], points[b]);
                    view! { <line class="beyond" x1=x1 y1=y1 x2=x2 y2=y2/> }
                })
                .collect_view();
            let links = picture
                .links
                .iter()
                .zip(&points)
                .map(|(spot, &(x, y))| {
                    let name = name_of(&spot.id);
                    let initials = initials(&name);
                    view! {
                        <g class="node link" data-peer-id=spot.id.to_string()>
                            <title>{format!("{name} ({})", spot.id)}</title>
                            <circle cx=x cy=y r="12"/>
                            <text x=x y=y>{initials}</text>
                        </g>
                    }
                })
                .collect_view();
            let outer = picture
                .outer
                .iter()
                .zip(&points[picture.links.len()..])
                .enumerate()
                .map(|(k, (spot, &(x, y)))| {
                    let index = picture.links.len() + k;
                    let told_by = picture
                        .lines
                        .iter()
                        .filter(|(_, b)| *b == index)
                        .map(|(a, _)| picture.links[*a].id.to_string())
                        .collect::<Vec<_>>()
                        .join(" ");
                    view! {
                        <g class="node outer" data-peer-id=spot.id.to_string() data-told-by=told_by>
                            <title>{format!("{} (linked with your links)", room_name(&spot.id))}</title>
                            <circle cx=x cy=y r="5"/>
                        </g>
                    }
                })
                .collect_view();
            view! {
                <figure class="mesh-picture" data-testid="mesh-picture">
                    <svg viewBox="-150 -150 300 300" role="img" aria-label=caption.clone()>
                        {beyond}
                        {to_links}
                        {outer}
                        {links}
                        <g class="node me">
                            <circle cx="0" cy="0" r="15"/>
                            <text x="0" y="0">"you"</text>
                        </g>
                    </svg>
                    <figcaption>{caption}</figcaption>
                </figure>
            }
        })
    }
}

/// Where `spot` is drawn on a ring of `radius`, clockwise from the top, in whole units.
fn point(spot: &Spot, radius: f64) -> (i32, i32) {
    let turn = f64::from(spot.angle) / f64::from(FULL_TURN) * std::f64::consts::TAU;
    (
        (radius * turn.sin()).round() as i32,
        (-radius * turn.cos()).round() as i32,
    )
}

/// What the picture shows, in words.
fn caption(picture: &Picture) -> String {
    let links = picture.links.len() + picture.links_hidden;
    let outer = picture.outer.len() + picture.outer_hidden;
    let mut text = format!(
        "You have {links} {}; they are linked with {outer} more {}.",
        if links == 1 { "link" } else { "links" },
        if outer == 1 { "page" } else { "pages" }
    );
    let hidden = picture.links_hidden + picture.outer_hidden;
    if hidden > 0 {
        text.push_str(&format!(" {hidden} not drawn."));
    }
    text
}

/// Two characters that tell peers apart in the picture: the start of the name's last word
/// ("4x" for "Guest 4xq6").
fn initials(name: &str) -> String {
    name.split_whitespace()
        .next_back()
        .unwrap_or(name)
        .chars()
        .take(2)
        .collect()
}
