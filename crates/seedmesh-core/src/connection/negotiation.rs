//! One connection's exchange of descriptions and candidates, whichever way it travels.
//!
//! [`Negotiation`] decides what the browser does with what arrives: an answer is applied once,
//! and only by the side that made the offer; candidates that come before the remote description
//! wait (at most [`MAX_EARLY_CANDIDATES`], [`MAX_EARLY_CANDIDATE_BYTES`] in all) and are added
//! once it is set; and for an invite, nothing trickles: the local description and every
//! candidate gathered become one [`Invite`] when gathering completes or
//! [`INVITE_GATHERING_TIMEOUT`] passes.

use core::time::Duration;
use std::collections::VecDeque;

use super::Role;
use crate::PeerId;
use crate::invite::{Invite, InviteError, Kind};
use crate::signaling::Candidate;
use crate::time::Instant;

/// The most candidates kept while the remote description is not set; later ones are dropped.
pub const MAX_EARLY_CANDIDATES: usize = 64;
/// The most bytes of candidate lines kept while the remote description is not set.
pub const MAX_EARLY_CANDIDATE_BYTES: usize = 16 * 1024;
/// How long an invite waits for its candidates before it goes out with those it has.
pub const INVITE_GATHERING_TIMEOUT: Duration = Duration::from_secs(5);

/// What the driver must do for the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiationOutput {
    /// Set this answer as the remote description, then report
    /// [`Negotiation::handle_remote_description_set`].
    ApplyAnswer(String),
    /// Add this remote candidate.
    AddCandidate(Candidate),
    /// The invite for a person to carry: its text, or why there is none.
    InviteReady(Result<Invite, InviteError>),
}

/// An invite waiting for its candidates.
#[derive(Debug)]
struct Gathering {
    from: PeerId,
    in_reply_to: Option<String>,
    deadline: Instant,
    local_sdp: Option<String>,
    gathered: Vec<String>,
}

/// One connection's negotiation; see the [module](self) docs.
#[derive(Debug)]
pub struct Negotiation {
    role: Role,
    by_invite: bool,
    remote_set: bool,
    answered: bool,
    early: Vec<Candidate>,
    early_bytes: usize,
    dropped_candidates: usize,
    gathering: Option<Gathering>,
    outputs: VecDeque<NegotiationOutput>,
}

impl Negotiation {
    /// A negotiation whose descriptions and candidates travel by a signaling server or the
    /// mesh, one by one. The answering side has the remote description set from the start.
    #[must_use]
    pub fn trickled(role: Role) -> Self {
        Self {
            role,
            by_invite: false,
            remote_set: role == Role::Answerer,
            answered: false,
            early: Vec::new(),
            early_bytes: 0,
            dropped_candidates: 0,
            gathering: None,
            outputs: VecDeque::new(),
        }
    }

    /// A negotiation by invite: this page (`from`) makes the offer (as [`Role::Dialer`]) or
    /// answers one whose ICE ufrag is `in_reply_to`; the invite goes out once its candidates
    /// are gathered, or at `now` + [`INVITE_GATHERING_TIMEOUT`].
    #[must_use]
    pub fn by_invite(role: Role, from: PeerId, in_reply_to: Option<String>, now: Instant) -> Self {
        let mut negotiation = Self::trickled(role);
        negotiation.by_invite = true;
        negotiation.gathering = Some(Gathering {
            from,
            in_reply_to,
            deadline: now + INVITE_GATHERING_TIMEOUT,
            local_sdp: None,
            gathered: Vec::new(),
        });
        negotiation
    }

    /// Whether local candidates go to the peer one by one (rather than in an invite).
    #[must_use]
    pub fn trickles(&self) -> bool {
        !self.by_invite
    }

    /// The browser made our description (offer or answer).
    pub fn handle_local_description(&mut self, sdp: &str) {
        if let Some(gathering) = &mut self.gathering {
            gathering.local_sdp = Some(sdp.to_owned());
        }
    }

    /// The browser gathered a local candidate line: for an invite it is kept for the invite
    /// (true), otherwise the driver sends it to the peer (false).
    pub fn handle_local_candidate(&mut self, line: &str) -> bool {
        match &mut self.gathering {
            Some(gathering) => {
                gathering.gathered.push(line.to_owned());
                true
            }
            None => false,
        }
    }

    /// The browser finished gathering local candidates.
    pub fn handle_gathering_complete(&mut self) {
        self.finish_invite();
    }

    /// The peer's answer arrived. Only the side that offered takes one, and only the first.
    pub fn handle_answer(&mut self, sdp: String) {
        if self.role == Role::Dialer && !self.answered && !self.remote_set {
            self.answered = true;
            self.outputs.push_back(NegotiationOutput::ApplyAnswer(sdp));
        }
    }

    /// The remote description is set: candidates that waited for it are added.
    pub fn handle_remote_description_set(&mut self) {
        self.remote_set = true;
        self.early_bytes = 0;
        for candidate in self.early.drain(..) {
            self.outputs
                .push_back(NegotiationOutput::AddCandidate(candidate));
        }
    }

    /// A remote candidate arrived: added now, or kept until the remote description is set
    /// (within the bounds; beyond them it is dropped and counted).
    pub fn handle_candidate(&mut self, candidate: Candidate) {
        if self.remote_set {
            self.outputs
                .push_back(NegotiationOutput::AddCandidate(candidate));
            return;
        }
        let bytes = candidate.candidate.len();
        if self.early.len() < MAX_EARLY_CANDIDATES
            && self.early_bytes + bytes <= MAX_EARLY_CANDIDATE_BYTES
        {
            self.early_bytes += bytes;
            self.early.push(candidate);
        } else {
            self.dropped_candidates += 1;
        }
    }

    /// How many early candidates were dropped for being over the bounds.
    #[must_use]
    pub fn dropped_candidates(&self) -> usize {
        self.dropped_candidates
    }

    /// Time passed: an invite still gathering goes out with what it has.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.gathering.as_ref().is_some_and(|g| now >= g.deadline) {
            self.finish_invite();
        }
    }

    /// When [`Negotiation::handle_timeout`] wants to be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.gathering.as_ref().map(|g| g.deadline)
    }

    /// The next thing for the driver to do.
    pub fn poll_output(&mut self) -> Option<NegotiationOutput> {
        self.outputs.pop_front()
    }

    fn finish_invite(&mut self) {
        let Some(gathering) = self.gathering.take() else {
            return;
        };
        let kind = match self.role {
            Role::Dialer => Kind::Offer,
            Role::Answerer => Kind::Answer,
        };
        let invite = match &gathering.local_sdp {
            Some(sdp) => Invite::from_sdp(
                kind,
                gathering.from,
                sdp,
                gathering.gathered.iter().map(String::as_str),
            )
            .map(|mut invite| {
                invite.in_reply_to = gathering.in_reply_to;
                invite
            }),
            None => Err(InviteError::Description("session description")),
        };
        self.outputs
            .push_back(NegotiationOutput::InviteReady(invite));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n\
        a=ice-ufrag:h5Ye\r\na=ice-pwd:qW3kMwJkXH2ZyA0Fs4tG1pnB\r\n\
        a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n\
        a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n";

    fn candidate(n: u16) -> Candidate {
        Candidate {
            candidate: format!("candidate:{n} 1 udp 2113937151 127.0.0.1 {n} typ host"),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
            username_fragment: None,
        }
    }

    fn outputs(n: &mut Negotiation) -> Vec<NegotiationOutput> {
        std::iter::from_fn(|| n.poll_output()).collect()
    }

    #[test]
    fn early_candidates_wait_for_the_answer_and_only_one_answer_is_taken() {
        let mut dialer = Negotiation::trickled(Role::Dialer);
        assert!(dialer.trickles());
        dialer.handle_candidate(candidate(1));
        dialer.handle_candidate(candidate(2));
        assert!(outputs(&mut dialer).is_empty());
        dialer.handle_answer("answer".into());
        dialer.handle_answer("a second answer".into());
        assert_eq!(
            outputs(&mut dialer),
            [NegotiationOutput::ApplyAnswer("answer".into())]
        );
        dialer.handle_remote_description_set();
        dialer.handle_candidate(candidate(3));
        assert_eq!(
            outputs(&mut dialer),
            [1, 2, 3].map(|n| NegotiationOutput::AddCandidate(candidate(n)))
        );
    }

    #[test]
    fn the_answering_side_takes_no_answer_and_adds_candidates_at_once() {
        let mut answerer = Negotiation::trickled(Role::Answerer);
        answerer.handle_answer("answer".into());
        answerer.handle_candidate(candidate(1));
        assert_eq!(
            outputs(&mut answerer),
            [NegotiationOutput::AddCandidate(candidate(1))]
        );
    }

    #[test]
    fn early_candidates_are_bounded_by_count_and_bytes() {
        let mut dialer = Negotiation::trickled(Role::Dialer);
        for n in 0..(MAX_EARLY_CANDIDATES as u16 + 10) {
            dialer.handle_candidate(candidate(n));
        }
        assert_eq!(dialer.dropped_candidates(), 10);
        let mut big = Negotiation::trickled(Role::Dialer);
        let huge = Candidate {
            candidate: "x".repeat(MAX_EARLY_CANDIDATE_BYTES / 2 + 1),
            ..candidate(0)
        };
        big.handle_candidate(huge.clone());
        big.handle_candidate(huge);
        assert_eq!(big.dropped_candidates(), 1);
        big.handle_answer("a".into());
        big.handle_remote_description_set();
        assert_eq!(
            outputs(&mut big).len(),
            2,
            "the answer and the one kept candidate"
        );
    }

    #[test]
    fn an_invite_goes_out_whole_when_gathering_completes_or_times_out() {
        let from = PeerId::parse("alice").unwrap();
        let now = Instant::from_millis(0);
        let mut offer = Negotiation::by_invite(Role::Dialer, from.clone(), None, now);
        assert!(!offer.trickles());
        offer.handle_local_description(OFFER);
        assert!(offer.handle_local_candidate("candidate:1 1 udp 1 127.0.0.1 5000 typ host"));
        assert!(outputs(&mut offer).is_empty());
        offer.handle_gathering_complete();
        let [NegotiationOutput::InviteReady(Ok(invite))] = &outputs(&mut offer)[..] else {
            panic!("no invite");
        };
        assert_eq!((invite.kind, invite.candidates.len()), (Kind::Offer, 1));
        // Gathering that never completes: the invite goes with what it has, once.
        let mut answer = Negotiation::by_invite(Role::Answerer, from, Some("h5Ye".into()), now);
        answer.handle_local_description(OFFER);
        assert_eq!(answer.poll_timeout(), Some(now + INVITE_GATHERING_TIMEOUT));
        answer.handle_timeout(now + INVITE_GATHERING_TIMEOUT);
        answer.handle_gathering_complete();
        let out = outputs(&mut answer);
        assert_eq!(out.len(), 1);
        let NegotiationOutput::InviteReady(Ok(invite)) = &out[0] else {
            panic!("no invite");
        };
        assert_eq!(invite.in_reply_to.as_deref(), Some("h5Ye"));
        assert_eq!(answer.poll_timeout(), None);
    }

    #[test]
    fn an_invite_without_a_description_says_so() {
        let mut offer = Negotiation::by_invite(
            Role::Dialer,
            PeerId::parse("a").unwrap(),
            None,
            Instant::from_millis(0),
        );
        offer.handle_gathering_complete();
        assert!(matches!(
            offer.poll_output(),
            Some(NegotiationOutput::InviteReady(Err(
                InviteError::Description(_)
            )))
        ));
    }
}
