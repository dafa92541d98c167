//! The page's components, one concern each. They read [`crate::state::AppState`] from context
//! and never touch the network themselves.

mod connection_status;
mod invite;
mod messaging;
mod peer_list;
mod sections;
mod settings;
pub mod share;
mod welcome;

pub use connection_status::ConnectionStatus;
pub use invite::{InviteNotice, MakeInvite};
pub use messaging::Messaging;
pub use peer_list::PeerList;
pub use sections::{Section, SectionNav};
pub use settings::SettingsPanel;
pub use welcome::Welcome;
