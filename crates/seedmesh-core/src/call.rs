//! Audio and video calls, as PeerJS makes them (`peer.call` and `call.answer`): every decision
//! about a page's calls, with no I/O.
//!
//! A call is its own WebRTC connection, signaled like a data connection but with
//! `"type":"media"` and an ID starting `mc_` ([`CALL_ID_PREFIX`]); the caller adds a small data
//! channel whose close tells the other side the call ended, as PeerJS does. [`Calls`] keeps
//! each call's state and what the person asked (mute, camera off), rings for at most
//! [`RING_FOR`], gives an answered call [`CONNECT_WITHIN`] to get media flowing (both counted
//! from when our camera and microphone are ready, [`Calls::media_ready`]), keeps at most
//! [`MAX_RINGING`] calls ringing at once and one per caller, and allows one call in progress at
//! a time: an incoming call while one is in progress rings, and answering it is refused until
//! the first ends.
//!
//! The driver reports what the browser did ([`Calls::answered`], [`Calls::media_flowing`],
//! [`Calls::ended`]), does what [`Calls::poll_action`] asks, shows what
//! [`Calls::poll_event`] says, and calls [`Calls::handle_timeout`] by
//! [`Calls::poll_timeout`].
//!
//! ```
//! use seedmesh_core::call::{CallAction, CallEvent, CallState, Calls};
//! use seedmesh_core::{Instant, PeerId};
//!
//! let now = Instant::from_millis(0);
//! let mut calls = Calls::default();
//! let ada = PeerId::parse("ada").unwrap();
//! calls.incoming(now, ada, "mc_abc", true)?;
//! calls.answer(now, "mc_abc")?;
//! assert_eq!(calls.poll_action(), Some(CallAction::Answer { id: "mc_abc".into() }));
//! calls.media_flowing(now, "mc_abc");
//! let states: Vec<_> = std::iter::from_fn(|| calls.poll_event())
//!     .map(|CallEvent::Changed(view)| view.state)
//!     .collect();
//! assert_eq!(states.last(), Some(&CallState::Active));
//! # Ok::<(), seedmesh_core::call::CallError>(())
//! ```

use core::fmt;
use core::time::Duration;
use std::collections::{BTreeMap, VecDeque};

use crate::PeerId;
use crate::time::Instant;

/// What the ID of every call starts with, as in PeerJS.
pub const CALL_ID_PREFIX: &str = "mc_";

/// How long a call rings, either way, before it ends unanswered.
pub const RING_FOR: Duration = Duration::from_secs(45);

/// How long an answered call has to get media flowing before it ends.
pub const CONNECT_WITHIN: Duration = Duration::from_secs(30);

/// The most incoming calls ringing at once; more are declined.
pub const MAX_RINGING: usize = 4;

/// Which way a call was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// We called.
    Outgoing,
    /// We are called.
    Incoming,
}

/// Where a call stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallState {
    /// Waiting for an answer: theirs for a call we made, ours for one we got.
    Ringing,
    /// Answered; the connection is opening.
    Connecting,
    /// Media is flowing.
    Active,
    /// Over; the text says why, for people to read.
    Ended(String),
}

/// A call as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallView {
    /// The call's ID (`mc_…`).
    pub id: String,
    /// The peer at the other end, as its signaling named it.
    pub peer: PeerId,
    /// Which way it was made.
    pub direction: Direction,
    /// Where it stands.
    pub state: CallState,
    /// Whether the caller offered video (else audio only).
    pub video: bool,
    /// Whether our microphone is muted.
    pub muted: bool,
    /// Whether our camera is off.
    pub camera_off: bool,
}

/// What the driver must do for a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallAction {
    /// Answer the incoming call `id` with our media; then report [`Calls::media_flowing`] or
    /// [`Calls::ended`].
    Answer {
        /// The call.
        id: String,
    },
    /// End the call `id` (decline it, hang up, or give up on it) and close its connection.
    End {
        /// The call.
        id: String,
    },
    /// Send or stop our microphone and camera on call `id`.
    SetMedia {
        /// The call.
        id: String,
        /// Whether our audio goes out.
        audio: bool,
        /// Whether our video goes out.
        video: bool,
    },
}

/// What the page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    /// A call appeared or changed; one whose state is [`CallState::Ended`] is gone.
    Changed(CallView),
}

/// Why a call could not be made, answered or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError {
    /// Another call is in progress: hang it up first.
    Busy,
    /// No call has this ID (it ended, or never was).
    Unknown(String),
    /// The call is not one that can be answered (ours, or answered already).
    NotRinging(String),
    /// [`MAX_RINGING`] calls ring already.
    TooManyRinging,
    /// This caller has a call ringing already.
    AlreadyRinging(PeerId),
    /// A call with this ID exists already.
    Duplicate(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Busy => write!(f, "another call is in progress; hang it up first"),
            Self::Unknown(id) => write!(f, "there is no call {id}; it may have ended"),
            Self::NotRinging(id) => write!(f, "call {id} is not waiting to be answered"),
            Self::TooManyRinging => write!(
                f,
                "{MAX_RINGING} calls are ringing already; the new one was declined"
            ),
            Self::AlreadyRinging(peer) => write!(
                f,
                "{peer} has a call ringing already; the new one was declined"
            ),
            Self::Duplicate(id) => write!(f, "there is a call {id} already"),
        }
    }
}

impl std::error::Error for CallError {}

#[derive(Debug)]
struct Call {
    view: CallView,
    /// When it rings out, or must have media flowing.
    deadline: Option<Instant>,
}

/// A page's calls; see the [module](self) docs.
#[derive(Debug, Default)]
pub struct Calls {
    calls: BTreeMap<String, Call>,
    actions: VecDeque<CallAction>,
    events: VecDeque<CallEvent>,
}

impl Calls {
    /// We call `peer` on a new connection `id`, with video or audio only.
    pub fn place(
        &mut self,
        now: Instant,
        peer: PeerId,
        id: &str,
        video: bool,
    ) -> Result<(), CallError> {
        if self.in_progress().is_some() {
            return Err(CallError::Busy);
        }
        self.add(now, peer, id, video, Direction::Outgoing)
    }

    /// `peer` calls us on connection `id`, with video or audio only. Past [`MAX_RINGING`]
    /// ringing calls, or while `peer` has one ringing, it is refused: end its connection.
    pub fn incoming(
        &mut self,
        now: Instant,
        peer: PeerId,
        id: &str,
        video: bool,
    ) -> Result<(), CallError> {
        let ringing = self
            .calls
            .values()
            .filter(|c| {
                c.view.direction == Direction::Incoming && c.view.state == CallState::Ringing
            })
            .count();
        if ringing >= MAX_RINGING {
            return Err(CallError::TooManyRinging);
        }
        let theirs = self.calls.values().any(|c| {
            c.view.peer == peer
                && c.view.direction == Direction::Incoming
                && c.view.state == CallState::Ringing
        });
        if theirs {
            return Err(CallError::AlreadyRinging(peer));
        }
        self.add(now, peer, id, video, Direction::Incoming)
    }

    fn add(
        &mut self,
        now: Instant,
        peer: PeerId,
        id: &str,
        video: bool,
        direction: Direction,
    ) -> Result<(), CallError> {
        if self.calls.contains_key(id) {
            return Err(CallError::Duplicate(id.to_owned()));
        }
        let view = CallView {
            id: id.to_owned(),
            peer,
            direction,
            state: CallState::Ringing,
            video,
            muted: false,
            camera_off: false,
        };
        self.events.push_back(CallEvent::Changed(view.clone()));
        self.calls.insert(
            id.to_owned(),
            Call {
                view,
                deadline: Some(now + RING_FOR),
            },
        );
        Ok(())
    }

    /// The call in progress (placed, answered or active), if any.
    #[must_use]
    pub fn in_progress(&self) -> Option<&CallView> {
        self.calls
            .values()
            .map(|c| &c.view)
            .find(|v| v.direction == Direction::Outgoing || v.state != CallState::Ringing)
    }

    /// The call `id`, while it lasts.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&CallView> {
        self.calls.get(id).map(|c| &c.view)
    }

    /// Every call, by ID.
    pub fn iter(&self) -> impl Iterator<Item = &CallView> {
        self.calls.values().map(|c| &c.view)
    }

    /// The person answers the incoming call `id`.
    pub fn answer(&mut self, now: Instant, id: &str) -> Result<(), CallError> {
        let call = self
            .calls
            .get(id)
            .ok_or_else(|| CallError::Unknown(id.to_owned()))?;
        if call.view.direction != Direction::Incoming || call.view.state != CallState::Ringing {
            return Err(CallError::NotRinging(id.to_owned()));
        }
        if self.in_progress().is_some() {
            return Err(CallError::Busy);
        }
        self.actions
            .push_back(CallAction::Answer { id: id.to_owned() });
        self.set_state(id, CallState::Connecting, Some(now + CONNECT_WITHIN));
        Ok(())
    }

    /// The person declines the ringing call `id`, or hangs up the call `id`.
    pub fn hang_up(&mut self, id: &str) -> Result<(), CallError> {
        let call = self
            .calls
            .get(id)
            .ok_or_else(|| CallError::Unknown(id.to_owned()))?;
        let reason = match (call.view.direction, &call.view.state) {
            (Direction::Incoming, CallState::Ringing) => "you declined",
            (Direction::Outgoing, CallState::Ringing) => "you cancelled the call",
            _ => "you hung up",
        };
        self.finish(id, reason, true);
        Ok(())
    }

    /// Our camera and microphone for call `id` are ready (the person may have been asked to
    /// allow them): its time to ring, or to connect once answered, starts now.
    pub fn media_ready(&mut self, now: Instant, id: &str) {
        if let Some(call) = self.calls.get_mut(id) {
            call.deadline = match (&call.view.state, call.view.direction) {
                (CallState::Ringing, Direction::Outgoing) => Some(now + RING_FOR),
                (CallState::Connecting, _) => Some(now + CONNECT_WITHIN),
                _ => call.deadline,
            };
        }
    }

    /// The other side answered our call `id`.
    pub fn answered(&mut self, now: Instant, id: &str) {
        if self
            .get(id)
            .is_some_and(|v| v.direction == Direction::Outgoing && v.state == CallState::Ringing)
        {
            self.set_state(id, CallState::Connecting, Some(now + CONNECT_WITHIN));
        }
    }

    /// Media from the other side of call `id` is playing.
    pub fn media_flowing(&mut self, _now: Instant, id: &str) {
        // Media on a call we made means it was answered; on one we got, only once we answered.
        let connecting = self.get(id).is_some_and(|v| {
            v.state == CallState::Connecting
                || (v.direction == Direction::Outgoing && v.state == CallState::Ringing)
        });
        if connecting {
            self.set_state(id, CallState::Active, None);
        }
    }

    /// Call `id`'s connection ended for this reason (the other side hung up, the path
    /// failed); it needs no closing.
    pub fn ended(&mut self, id: &str, reason: &str) {
        if self.calls.contains_key(id) {
            self.finish(id, reason, false);
        }
    }

    /// Mutes or unmutes our microphone on call `id`.
    pub fn set_muted(&mut self, id: &str, muted: bool) -> Result<(), CallError> {
        self.change_media(id, |view| view.muted = muted)
    }

    /// Turns our camera off or on for call `id`.
    pub fn set_camera_off(&mut self, id: &str, off: bool) -> Result<(), CallError> {
        self.change_media(id, |view| view.camera_off = off)
    }

    fn change_media(
        &mut self,
        id: &str,
        change: impl FnOnce(&mut CallView),
    ) -> Result<(), CallError> {
        let call = self
            .calls
            .get_mut(id)
            .ok_or_else(|| CallError::Unknown(id.to_owned()))?;
        change(&mut call.view);
        self.actions.push_back(CallAction::SetMedia {
            id: id.to_owned(),
            audio: !call.view.muted,
            video: !call.view.camera_off,
        });
        self.events.push_back(CallEvent::Changed(call.view.clone()));
        Ok(())
    }

    /// Ends the calls that rang out or did not connect in time.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<(String, CallState, Direction)> = self
            .calls
            .values()
            .filter(|c| c.deadline.is_some_and(|d| d <= now))
            .map(|c| (c.view.id.clone(), c.view.state.clone(), c.view.direction))
            .collect();
        for (id, state, direction) in due {
            let reason = match (state, direction) {
                (CallState::Ringing, Direction::Outgoing) => "nobody answered",
                (CallState::Ringing, Direction::Incoming) => "missed: it was not answered in time",
                _ => {
                    "the call did not connect; the path between the pages may be blocked, or \
                     the caller gave up"
                }
            };
            self.finish(&id, reason, true);
        }
    }

    /// When [`Calls::handle_timeout`] wants to be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.calls.values().filter_map(|c| c.deadline).min()
    }

    /// The next thing to do.
    pub fn poll_action(&mut self) -> Option<CallAction> {
        self.actions.pop_front()
    }

    /// The next thing to show.
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    fn set_state(&mut self, id: &str, state: CallState, deadline: Option<Instant>) {
        if let Some(call) = self.calls.get_mut(id) {
            call.view.state = state;
            call.deadline = deadline;
            self.events.push_back(CallEvent::Changed(call.view.clone()));
        }
    }

    /// Ends call `id` for `reason`, closing its connection when `close`.
    fn finish(&mut self, id: &str, reason: &str, close: bool) {
        if let Some(mut call) = self.calls.remove(id) {
            call.view.state = CallState::Ended(reason.to_owned());
            if close {
                self.actions
                    .push_back(CallAction::End { id: id.to_owned() });
            }
            self.events.push_back(CallEvent::Changed(call.view));
        }
    }
}

#[cfg(test)]
mod tests;
