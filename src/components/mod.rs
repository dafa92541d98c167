//! The page's components, one concern each. They read [`crate::state::AppState`] from context
//! and never touch the network themselves.

mod calls;
mod connection_status;
mod invite;
mod mesh_picture;
mod messaging;
mod peer_list;
mod room_roster;
mod sections;
mod settings;
pub mod share;
mod welcome;

pub use calls::Calls;
pub use connection_status::ConnectionStatus;
pub use invite::{InviteNotice, MakeInvite};
pub use messaging::Messaging;
pub use peer_list::PeerList;
pub use sections::{Section, SectionNav};
pub use settings::SettingsPanel;
pub use welcome::Welcome;

/// `value / unit` rounded to one decimal, as "12.3": integer arithmetic, so the page carries no
/// floating-point formatting code.
fn tenths(value: u64, unit: u64) -> String {
    let tenths = (value.saturating_mul(10) + unit / 2) / unit.max(1);
    format!("{}.{}", tenths / 10, tenths % 10)
}
