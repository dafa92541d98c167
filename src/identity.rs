//! Who this page is: a peer ID and token that survive reloads, and a display name.

use seedmesh_core::{PeerId, Token};
use seedmesh_web::clock::random_u32;
use serde::{Deserialize, Serialize};

use crate::storage;

const IDENTITY_KEY: &str = "seedmesh.identity";

/// This page's identity on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The peer ID, registered on the PeerServer.
    pub id: PeerId,
    /// The secret that proves the ID is ours when we register it again.
    pub token: Token,
    /// The name other people see.
    pub name: String,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    id: String,
    token: String,
    name: String,
}

impl Identity {
    /// The saved identity, or a new one (saved at once).
    #[must_use]
    pub fn load_or_create() -> Self {
        let stored = storage::load::<Stored>(IDENTITY_KEY).and_then(|s| {
            Some(Self {
                id: PeerId::parse(&s.id).ok()?,
                token: Token::restore(&s.token)?,
                name: s.name,
            })
        });
        stored.unwrap_or_else(|| {
            let identity = Self::fresh();
            identity.save();
            identity
        })
    }

    /// A new random identity with a name made from the ID.
    #[must_use]
    pub fn fresh() -> Self {
        let mut random = random_u32;
        let id = PeerId::random(None, &mut random);
        let token = Token::random(&mut random);
        let name = format!("Guest {}", &id.as_str()[..4]);
        Self { id, token, name }
    }

    /// Keeps the identity for the next visit.
    pub fn save(&self) {
        storage::save(
            IDENTITY_KEY,
            &Stored {
                id: self.id.to_string(),
                token: self.token.as_str().to_owned(),
                name: self.name.clone(),
            },
        );
    }
}
