//! Direct messages their recipient has not confirmed yet.
//!
//! A data channel takes a message long before it reaches the other page, and a path that died
//! unnoticed (a home router forgot its mapping, say) takes messages for seconds before the
//! link counts as lost. Every direct message therefore waits in the [`Outbox`] until its
//! recipient confirms it, and goes again on each new link to that peer; the receiver drops
//! what it already had. A message unconfirmed after [`UNCONFIRMED_KEEP`], or pushed out by
//! [`MAX_UNCONFIRMED`] newer ones, is given up on, and the sender is told ([`GaveUp`]): no
//! message is lost silently.
//!
//! ```
//! use seedmesh_core::mesh::outbox::Outbox;
//! use seedmesh_core::mesh::MeshMessage;
//! use seedmesh_core::{Instant, PeerId};
//!
//! let bob = PeerId::parse("bob").unwrap();
//! let hi = MeshMessage::Ack { id: "a message".into() };
//! let mut outbox = Outbox::default();
//! outbox.push(Instant::from_millis(0), &bob, "1", hi.clone());
//! // Bob's link was lost; a new one opens: what he did not confirm goes again.
//! assert_eq!(outbox.waiting_for(&bob).collect::<Vec<_>>(), [&hi]);
//! assert!(outbox.confirm(&bob, "1"));
//! assert_eq!(outbox.waiting_for(&bob).count(), 0);
//! ```

use core::fmt;
use core::time::Duration;
use std::collections::VecDeque;

use super::MeshMessage;
use crate::peer_id::PeerId;
use crate::time::Instant;

/// How long a direct message waits for its recipient to confirm it, across lost links, before
/// the sender is told it was not delivered.
pub const UNCONFIRMED_KEEP: Duration = Duration::from_secs(120);
/// The most direct messages waiting for confirmation, for all peers together; a newer one
/// pushes the oldest out (and its sender is told).
pub const MAX_UNCONFIRMED: usize = 256;

/// Why a direct message was given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undelivered {
    /// Its recipient did not confirm it in this time: it could not be reached, or did not
    /// answer. Send it again once the peer is connected.
    Unconfirmed {
        /// How long it waited.
        waited: Duration,
    },
    /// So many newer direct messages waited for confirmation that this one was dropped.
    /// Send it again once the peer is connected.
    TooManyWaiting {
        /// The bound that was reached ([`MAX_UNCONFIRMED`]).
        limit: usize,
    },
}

impl fmt::Display for Undelivered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unconfirmed { waited } => write!(
                f,
                "not delivered: the peer did not confirm it within {} s; it may have left or \
                 lost its connection. Send it again once it is connected",
                waited.as_secs()
            ),
            Self::TooManyWaiting { limit } => write!(
                f,
                "not delivered: more than {limit} newer direct messages were waiting for \
                 their peers. Send it again once the peer is connected"
            ),
        }
    }
}

/// A direct message given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaveUp {
    /// The message's ID.
    pub id: String,
    /// Its recipient.
    pub to: PeerId,
    /// Why.
    pub reason: Undelivered,
}

#[derive(Debug)]
struct Unconfirmed {
    id: String,
    to: PeerId,
    message: MeshMessage,
    sent_at: Instant,
}

/// Direct messages waiting for their recipients' confirmations, oldest first; see the
/// [module docs](self).
#[derive(Debug, Default)]
pub struct Outbox {
    waiting: VecDeque<Unconfirmed>,
}

impl Outbox {
    /// Keeps `message` (ID `id`, sent to `to` at `now`) until `to` confirms it. Returns the
    /// oldest message when this one pushed it out.
    pub fn push(
        &mut self,
        now: Instant,
        to: &PeerId,
        id: &str,
        message: MeshMessage,
    ) -> Option<GaveUp> {
        self.waiting.push_back(Unconfirmed {
            id: id.to_owned(),
            to: to.clone(),
            message,
            sent_at: now,
        });
        if self.waiting.len() <= MAX_UNCONFIRMED {
            return None;
        }
        self.waiting.pop_front().map(|old| GaveUp {
            id: old.id,
            to: old.to,
            reason: Undelivered::TooManyWaiting {
                limit: MAX_UNCONFIRMED,
            },
        })
    }

    /// `from` confirmed message `id`; whether it was waiting for that. Only the peer a message
    /// went to can confirm it.
    pub fn confirm(&mut self, from: &PeerId, id: &str) -> bool {
        let before = self.waiting.len();
        self.waiting.retain(|m| !(m.id == id && &m.to == from));
        self.waiting.len() != before
    }

    /// What `peer` has not confirmed, oldest first: to send again on a new link to it.
    pub fn waiting_for<'a>(&'a self, peer: &'a PeerId) -> impl Iterator<Item = &'a MeshMessage> {
        self.waiting
            .iter()
            .filter(move |m| &m.to == peer)
            .map(|m| &m.message)
    }

    /// How many messages wait for confirmation.
    #[must_use]
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether no message waits.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Gives up on the messages that waited [`UNCONFIRMED_KEEP`] by `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<GaveUp> {
        let mut gave_up = Vec::new();
        // Oldest first, and times only grow: the expired ones are at the front.
        while let Some(old) = self
            .waiting
            .front()
            .filter(|m| m.sent_at + UNCONFIRMED_KEEP <= now)
        {
            let waited = now.saturating_since(old.sent_at);
            if let Some(old) = self.waiting.pop_front() {
                gave_up.push(GaveUp {
                    id: old.id,
                    to: old.to,
                    reason: Undelivered::Unconfirmed { waited },
                });
            }
        }
        gave_up
    }

    /// When the oldest message is given up on, if none confirms it first.
    #[must_use]
    pub fn next_expiry(&self) -> Option<Instant> {
        self.waiting.front().map(|m| m.sent_at + UNCONFIRMED_KEEP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn peer(n: usize) -> PeerId {
        PeerId::parse(&format!("peer-{n}")).unwrap()
    }

    fn chat(id: &str) -> MeshMessage {
        MeshMessage::Chat {
            id: id.to_owned(),
            text: format!("text of {id}"),
            sent_at: 0,
            direct: true,
        }
    }

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn only_the_recipient_confirms_a_message() {
        let mut outbox = Outbox::default();
        outbox.push(at(0), &peer(1), "m", chat("m"));
        assert!(
            !outbox.confirm(&peer(2), "m"),
            "another peer cannot confirm it"
        );
        assert_eq!(outbox.waiting_for(&peer(1)).count(), 1);
        assert!(outbox.confirm(&peer(1), "m"));
        assert!(
            !outbox.confirm(&peer(1), "m"),
            "a second confirmation counts for nothing"
        );
        assert!(outbox.is_empty());
    }

    #[test]
    fn a_peer_gets_its_own_messages_again_in_order() {
        let mut outbox = Outbox::default();
        outbox.push(at(0), &peer(1), "a", chat("a"));
        outbox.push(at(1), &peer(2), "b", chat("b"));
        outbox.push(at(2), &peer(1), "c", chat("c"));
        let again: Vec<_> = outbox.waiting_for(&peer(1)).cloned().collect();
        assert_eq!(again, [chat("a"), chat("c")]);
    }

    #[test]
    fn an_unconfirmed_message_is_given_up_on_after_the_keep_time() {
        let mut outbox = Outbox::default();
        outbox.push(at(0), &peer(1), "a", chat("a"));
        outbox.push(at(10_000), &peer(1), "b", chat("b"));
        assert_eq!(outbox.next_expiry(), Some(at(0) + UNCONFIRMED_KEEP));
        assert!(outbox.expire(at(119_999)).is_empty());
        let gave_up = outbox.expire(at(120_500));
        assert_eq!(
            gave_up,
            [GaveUp {
                id: "a".into(),
                to: peer(1),
                reason: Undelivered::Unconfirmed {
                    waited: Duration::from_millis(120_500)
                },
            }]
        );
        assert_eq!(outbox.next_expiry(), Some(at(10_000) + UNCONFIRMED_KEEP));
        assert!(gave_up[0].reason.to_string().contains("within 120 s"));
    }

    proptest! {
        /// However many messages go out, at most the bound wait, and every one is either still
        /// waiting, confirmed, or given up on with its sender told: none vanishes.
        #[test]
        fn every_message_is_accounted_for(
            ops in proptest::collection::vec((0usize..5, any::<bool>(), 0u64..50_000), 0..700)
        ) {
            let mut outbox = Outbox::default();
            let mut now = 0;
            let mut confirmed = 0;
            let mut gave_up = 0;
            for (n, (to, confirm, step)) in ops.iter().enumerate() {
                now += step;
                let id = n.to_string();
                if let Some(old) = outbox.push(at(now), &peer(*to), &id, chat(&id)) {
                    let pushed_out = matches!(old.reason, Undelivered::TooManyWaiting { .. });
                    prop_assert!(pushed_out);
                    gave_up += 1;
                }
                if *confirm && outbox.confirm(&peer(*to), &id) {
                    confirmed += 1;
                }
                gave_up += outbox.expire(at(now)).len();
                prop_assert!(outbox.len() <= MAX_UNCONFIRMED);
                prop_assert!(outbox.next_expiry().is_none_or(|t| t > at(now)));
            }
            prop_assert_eq!(outbox.len() + confirmed + gave_up, ops.len());
        }
    }
}
