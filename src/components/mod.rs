//! The page's components, one concern each.

mod connection_status;
mod messaging;
mod peer_list;

pub use connection_status::ConnectionStatus;
pub use messaging::Messaging;
pub use peer_list::PeerList;
