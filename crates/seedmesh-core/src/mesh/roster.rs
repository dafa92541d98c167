//! Who is in the room, past a page's own links: the authors of the presence posts
//! ([`super::post::PostKind::Presence`]) and room messages that came by gossip.
//!
//! Every page says it is there every little while, and says how often; a page not heard from
//! for [`MISSED_BEFORE_GONE`] of its own intervals has left. The roster holds at most
//! [`MAX_MEMBERS`]; past that, the member due to leave first makes room.

use std::collections::BTreeMap;

use core::time::Duration;

use crate::peer_id::PeerId;
use crate::time::Instant;

/// The most pages the roster holds.
pub const MAX_MEMBERS: usize = 4096;
/// How many of its own intervals a page may go unheard before it counts as gone.
pub const MISSED_BEFORE_GONE: u32 = 3;
/// The longest interval a page may name between its presence posts.
pub const MAX_PRESENCE_EVERY: Duration = Duration::from_secs(3600);

/// A page in the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The name it last gave.
    pub name: String,
    /// When it counts as gone unless heard from again.
    pub until: Instant,
}

/// What hearing from a page changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// It is new to the roster.
    Joined,
    /// It was known, and gave another name.
    Renamed,
    /// It is new to the roster, in place of this page, which was due to leave first.
    Replaced(PeerId),
    /// Nothing to show: known, same name.
    Again,
    /// The roster is full of pages due later: not kept.
    NoRoom,
}

/// The pages heard from in the room; see the [module docs](self).
#[derive(Debug, Default)]
pub struct Roster {
    members: BTreeMap<PeerId, Member>,
}

impl Roster {
    /// `id` said it is here, as `name`, and will say so again every `every` (at most
    /// [`MAX_PRESENCE_EVERY`]).
    pub fn heard(&mut self, now: Instant, id: &PeerId, name: &str, every: Duration) -> Heard {
        let until = now + every.min(MAX_PRESENCE_EVERY) * MISSED_BEFORE_GONE;
        if let Some(member) = self.members.get_mut(id) {
            member.until = member.until.max(until);
            if member.name == name {
                return Heard::Again;
            }
            name.clone_into(&mut member.name);
            return Heard::Renamed;
        }
        let mut replaced = None;
        if self.members.len() >= MAX_MEMBERS {
            let soonest = self
                .members
                .iter()
                .min_by_key(|(_, m)| m.until)
                .map(|(id, m)| (id.clone(), m.until));
            match soonest {
                Some((gone, due)) if due < until => {
                    self.members.remove(&gone);
                    replaced = Some(gone);
                }
                _ => return Heard::NoRoom,
            }
        }
        self.members.insert(
            id.clone(),
            Member {
                name: name.to_owned(),
                until,
            },
        );
        replaced.map_or(Heard::Joined, Heard::Replaced)
    }

    /// Takes out the pages not heard from in time, and returns them.
    pub fn expire(&mut self, now: Instant) -> Vec<PeerId> {
        let gone: Vec<PeerId> = self
            .members
            .iter()
            .filter(|(_, m)| m.until <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &gone {
            self.members.remove(id);
        }
        gone
    }

    /// When the next page counts as gone, if any is in the roster.
    #[must_use]
    pub fn next_expiry(&self) -> Option<Instant> {
        self.members.values().map(|m| m.until).min()
    }

    /// How many pages the roster holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The page `id`, if it is in the roster.
    #[must_use]
    pub fn get(&self, id: &PeerId) -> Option<&Member> {
        self.members.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> PeerId {
        PeerId::parse(&format!("p{n}")).unwrap()
    }

    const EVERY: Duration = Duration::from_secs(30);

    #[test]
    fn a_page_stays_while_it_is_heard_and_goes_after_three_silent_intervals() {
        let mut roster = Roster::default();
        let t0 = Instant::from_millis(0);
        assert_eq!(roster.heard(t0, &id(1), "Ada", EVERY), Heard::Joined);
        assert_eq!(roster.heard(t0 + EVERY, &id(1), "Ada", EVERY), Heard::Again);
        assert_eq!(
            roster.heard(t0 + EVERY, &id(1), "Ada L", EVERY),
            Heard::Renamed
        );
        assert_eq!(roster.next_expiry(), Some(t0 + EVERY * 4));
        assert!(
            roster
                .expire(t0 + (EVERY * 4 - Duration::from_millis(1)))
                .is_empty()
        );
        assert_eq!(roster.expire(t0 + EVERY * 4), [id(1)]);
        assert!(roster.is_empty());
    }

    #[test]
    fn a_page_cannot_stay_for_more_than_three_hours_unheard() {
        let mut roster = Roster::default();
        let t0 = Instant::from_millis(0);
        roster.heard(t0, &id(1), "Ada", Duration::from_secs(1_000_000));
        assert_eq!(roster.next_expiry(), Some(t0 + MAX_PRESENCE_EVERY * 3));
    }

    #[test]
    fn a_full_roster_makes_room_by_the_page_due_first() {
        let mut roster = Roster::default();
        let t0 = Instant::from_millis(0);
        for n in 0..MAX_MEMBERS {
            let at = t0 + Duration::from_millis(n as u64);
            assert_eq!(roster.heard(at, &id(n), "x", EVERY), Heard::Joined);
        }
        // A newcomer due later takes the place of the one due first.
        let later = t0 + Duration::from_secs(1);
        assert_eq!(
            roster.heard(later, &id(MAX_MEMBERS), "new", EVERY),
            Heard::Replaced(id(0))
        );
        assert_eq!(roster.len(), MAX_MEMBERS);
        assert!(roster.get(&id(0)).is_none());
        // One due before everyone is not kept.
        let early = Duration::from_millis(1);
        assert_eq!(
            roster.heard(t0, &id(MAX_MEMBERS + 1), "old", early),
            Heard::NoRoom
        );
        assert_eq!(roster.len(), MAX_MEMBERS);
    }
}
