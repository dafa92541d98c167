//! A page's whole network without I/O: the mesh, the files in transit, which way each link is
//! signaled, and who is proven to be at the end of each, every link under one handle
//! ([`LinkId`]).
//!
//! The endpoint goes by its key's ID ([`PeerKey::peer_id`]). Every hello it sends carries its
//! proof for that link ([`crate::proof`]), and a peer's hello is taken only with a proof that
//! holds for the link's DTLS fingerprints ([`ChannelBinding`], which the driver reads from the
//! connection's descriptions): no peer can speak as another, whatever it or the signaling
//! claims.
//!
//! The driver reports what happened (a link opened, a frame arrived, a dial failed), polls
//! [`Endpoint::poll_action`] for what to do (dial, send, close, claim a slot) and
//! [`Endpoint::poll_event`] for what to show, and sleeps until [`Endpoint::poll_timeout`]. The
//! browser app and the native simulator drive the same machine.
//!
//! ```
//! use seedmesh_core::endpoint::{Action, Endpoint};
//! use seedmesh_core::mesh::MeshConfig;
//! use seedmesh_core::proof::{ChannelBinding, Fingerprint, PeerKey};
//! use seedmesh_core::Instant;
//!
//! let now = Instant::from_millis(0);
//! let alice = PeerKey::from_secret([1; 32]);
//! let bob = PeerKey::from_secret([2; 32]).peer_id();
//! let mut page = Endpoint::new(alice, "Alice", MeshConfig::default())?;
//! page.start(now);
//! // Bob's connection reached us: the endpoint takes it as a link and says hello on it, with
//! // its proof for the DTLS fingerprints of this connection.
//! let fingerprint = |byte: &str| Fingerprint::parse(&format!("sha-256 {}", [byte; 32].join(":")));
//! let binding = ChannelBinding { local: fingerprint("AA").unwrap(), remote: fingerprint("BB").unwrap() };
//! let link = page.connected(now, bob, false, binding).expect("room for a link");
//! assert!(matches!(page.poll_action(), Some(Action::Send { link: l, .. }) if l == link));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use core::time::Duration;

use crate::PeerId;
use crate::call::{CallAction, CallEvent, CallView, Calls};
use crate::channel::Message;
use crate::client::{self, ClientError, ClientInput, Clients, Taken};
use crate::connection::CloseReason;
use crate::mesh::gossip::GossipMessage;
use crate::mesh::post;
use crate::mesh::{
    ChatError, FileNotice, FileOffer, FoundBy, LinkId, Mesh, MeshConfig, MeshError, MeshMessage,
    MeshOutput, OutgoingChat, PeerState, PeerView, PostKind, ReceivedChat, RoomPost, SignalError,
    SlotResult,
};
use crate::proof::{ChannelBinding, PeerKey, Proof, ProofError};
use crate::signaling::Serialization;
use crate::time::Instant;
use crate::transfer::{self, Progress};

/// How long a file we shared with the room is sent to pages past our links that ask for it.
pub const SHARE_FOR: Duration = Duration::from_secs(600);
/// The most files we keep to send to pages that ask for them.
pub const MAX_SHARED_FILES: usize = 16;
/// The most bytes of files we keep to send to pages that ask for them; a larger file goes to
/// our links only.
pub const MAX_SHARED_BYTES: usize = 64 * 1024 * 1024;
/// How many peers past our links each shared file is sent to, at most.
pub const MAX_SENDS_PER_SHARED_FILE: usize = 32;

/// A file we shared with the room, kept for pages past our links that ask for it.
#[derive(Debug)]
struct SharedFile {
    transfer: String,
    /// Our room post that announced it.
    post: RoomPost,
    bytes: Vec<u8>,
    until: Instant,
    /// The peers it went to on request: each gets it once, and at most
    /// [`MAX_SENDS_PER_SHARED_FILE`] do.
    sent_to: BTreeSet<PeerId>,
}

/// How a dial's offer, answer and candidates travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Through {
    /// Through a connected peer, as mesh signals ([`Endpoint::send_signal`] carries ours).
    Mesh,
    /// Through the PeerServer.
    PeerServer,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open a data connection to `peer` for `link`, signaled `through` the mesh or the
    /// PeerServer, then report [`Endpoint::dialed`].
    Dial {
        /// The link's handle.
        link: LinkId,
        /// Whom to dial.
        peer: PeerId,
        /// Which way its signaling goes.
        through: Through,
    },
    /// Send this mesh message on `link`.
    Send {
        /// The link.
        link: LinkId,
        /// The message.
        message: MeshMessage,
    },
    /// Send this file chunk (binary) on `link`; once it is out, `done` bytes of the transfer
    /// `id` are sent.
    SendChunk {
        /// The link.
        link: LinkId,
        /// The chunk, as [`transfer::encode_chunk`] makes it.
        chunk: Vec<u8>,
        /// The transfer.
        id: String,
        /// Bytes of the file sent once this chunk is.
        done: u64,
    },
    /// Send this message to the plain PeerJS client on `link`, as it is (see
    /// [`crate::client`]); for a file, once it is out, `file`'s transfer is done.
    SendToClient {
        /// The client's link.
        link: LinkId,
        /// The message.
        message: Message,
        /// For a file: its transfer ID and size.
        file: Option<(String, u64)>,
    },
    /// Do this for a call ([`Endpoint::calls_mut`]).
    Call(CallAction),
    /// Close `link`'s connection.
    Close {
        /// The link.
        link: LinkId,
    },
    /// Register `id` on the PeerServer as rendezvous slot `slot`, then report
    /// [`Endpoint::slot_result`].
    ClaimSlot {
        /// The slot's number.
        slot: u8,
        /// Its ID.
        id: PeerId,
    },
    /// Leave the slot registered as `id`.
    ReleaseSlot {
        /// The slot's ID.
        id: PeerId,
    },
    /// Signaling for us from `from` came through the mesh: hand it to the connections
    /// (an offer starts one, an answer or candidate goes to its own), and report
    /// [`Endpoint::signal_refused`] if they do not take it.
    TakeSignal {
        /// Its source.
        from: PeerId,
        /// The signaling message, as PeerJS writes it to a PeerServer.
        body: String,
    },
}

/// What signaling through the mesh did so far, for people to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignalingCounts {
    /// Signaling messages of ours sent through the mesh.
    pub sent: u64,
    /// Signaling messages for us that came through the mesh.
    pub received: u64,
    /// Signaling messages passed on for other peers.
    pub relayed: u64,
    /// Signaling messages from other peers dropped (duplicates, floods, forgeries) or refused.
    pub dropped: u64,
}

/// What the application shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A peer appeared or changed.
    Peer(PeerView),
    /// A peer left.
    PeerRemoved(PeerId),
    /// We hold this rendezvous slot now, or none.
    Slot(Option<PeerId>),
    /// A chat message arrived.
    Chat(ReceivedChat),
    /// Peers confirmed one of our messages or files.
    Delivered {
        /// Its ID.
        id: String,
        /// How many confirmed it.
        delivered: usize,
    },
    /// A direct message of ours was given up on: its recipient never confirmed it.
    Undelivered {
        /// Its ID.
        id: String,
        /// Why, for people.
        reason: crate::mesh::Undelivered,
    },
    /// A peer is sending a file.
    FileOffered(FileOffer),
    /// Bytes of an arriving file came in.
    FileProgress {
        /// The transfer's ID.
        id: String,
        /// Bytes so far.
        done: u64,
    },
    /// A file arrived whole.
    FileReceived {
        /// The transfer's ID.
        id: String,
        /// The file.
        bytes: Vec<u8>,
        /// The media type its sender named.
        mime: String,
    },
    /// A file from a peer could not be taken; the text says why.
    FileFailed {
        /// The transfer's ID, if known.
        id: Option<String>,
        /// What went wrong.
        reason: String,
    },
    /// Signaling through the mesh changed.
    Signaling(SignalingCounts),
    /// A page shared a file with the room; we heard of it by gossip. Ask for it with
    /// [`Endpoint::want_file`].
    FileAnnounced(FileNotice),
    /// A page in the room said it is there, or gave another name (heard by gossip; it may
    /// have no link with us).
    Present {
        /// The page.
        id: PeerId,
        /// The name it gave.
        name: String,
    },
    /// A page in the room was not heard from in time: it left.
    Absent(PeerId),
    /// A call appeared or changed; one that [`ended`](crate::call::CallState::Ended) is gone.
    Call(CallView),
    /// A linked peer told which peers it is linked with now: the mesh past our own links.
    Neighbourhood {
        /// The linked peer.
        peer: PeerId,
        /// Its links (us left out).
        links: Vec<PeerId>,
    },
    /// A peer sent something the page cannot take (a plain PeerJS client's number, say); the
    /// link stays open.
    Ignored {
        /// The peer.
        peer: PeerId,
        /// What it sent, and what it could send instead.
        reason: String,
    },
    /// A peer broke the protocol (spoke as another peer, say) and its link was closed.
    Refused {
        /// Who it claimed to be.
        peer: PeerId,
        /// What it did.
        reason: String,
    },
}

/// A file of ours on its way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingFile {
    /// The transfer's ID.
    pub id: String,
    /// How many pages it goes to; each confirms it.
    pub recipients: usize,
    /// How many plain PeerJS clients it goes to as well, which confirm nothing.
    pub clients: usize,
}

/// A file arriving: its ID as the page shows it, and its type.
#[derive(Debug, Clone)]
struct Arriving {
    id: String,
    mime: String,
}

/// The page's network; see the [module](self) docs.
#[derive(Debug)]
pub struct Endpoint {
    mesh: Mesh,
    /// Our key: our ID is its hash, and our hellos carry its proofs.
    key: PeerKey,
    /// Each open link's DTLS fingerprints, which its peer's hellos are proven against, and our
    /// proof for it, signed once and sent in every hello on it.
    bindings: HashMap<LinkId, (ChannelBinding, Proof)>,
    /// Files arriving, under the link they come on and their sender's transfer ID.
    files: transfer::Receiver<LinkId>,
    arriving: HashMap<(LinkId, String), Arriving>,
    /// Files we shared with the room, oldest first, within [`MAX_SHARED_FILES`] and
    /// [`MAX_SHARED_BYTES`].
    shared: VecDeque<SharedFile>,
    /// Links being dialed through the mesh: the PeerServer is tried once if that fails.
    mesh_dials: HashSet<LinkId>,
    /// Plain PeerJS clients' connections, within [`Clients`]' bounds.
    clients: Clients,
    /// Messages and files to and from clients so far, for their IDs.
    client_items: u64,
    /// Audio and video calls.
    calls: Calls,
    signals_sent: u64,
    signals_refused: u64,
    counts: SignalingCounts,
    /// The latest time the driver gave.
    now: Instant,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
}

impl Endpoint {
    /// An endpoint for the page whose key is `key` (its ID is the key's), named `name`.
    pub fn new(key: PeerKey, name: &str, config: MeshConfig) -> Result<Self, MeshError> {
        Ok(Self {
            mesh: Mesh::new(key.peer_id(), name, config)?,
            key,
            bindings: HashMap::new(),
            files: transfer::Receiver::default(),
            arriving: HashMap::new(),
            shared: VecDeque::new(),
            mesh_dials: HashSet::new(),
            clients: Clients::default(),
            client_items: 0,
            calls: Calls::default(),
            signals_sent: 0,
            signals_refused: 0,
            counts: SignalingCounts::default(),
            now: Instant::from_millis(0),
            actions: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    /// Starts rendezvous and dials the bootstrap peers.
    pub fn start(&mut self, now: Instant) {
        self.now = self.now.max(now);
        self.mesh.start(now);
        self.process();
    }

    /// Our peer ID, made from our key.
    #[must_use]
    pub fn id(&self) -> &PeerId {
        self.mesh.me()
    }

    /// Our display name.
    #[must_use]
    pub fn name(&self) -> &str {
        self.mesh.name()
    }

    /// Changes our display name and tells every connected peer.
    pub fn set_name(&mut self, name: &str) {
        self.mesh.set_name(name);
        self.process();
    }

    /// The peer on `link`, once it introduced itself (a plain PeerJS client at once).
    #[must_use]
    pub fn peer_on(&self, link: LinkId) -> Option<PeerId> {
        self.mesh
            .peer_on(link)
            .or_else(|| self.clients.peer_on(link).cloned())
    }

    /// The page's calls, to read.
    #[must_use]
    pub fn calls(&self) -> &Calls {
        &self.calls
    }

    /// The page's calls, to place, answer, hang up or report on: what they ask comes from
    /// [`Endpoint::poll_action`] as [`Action::Call`], what they show from
    /// [`Endpoint::poll_event`] as [`Event::Call`], and their timers are the endpoint's.
    pub fn calls_mut(&mut self) -> &mut Calls {
        &mut self.calls
    }

    /// Whether `link` is a plain PeerJS client's.
    #[must_use]
    pub fn is_client(&self, link: LinkId) -> bool {
        self.clients.contains(link)
    }

    /// The mesh under the endpoint, to read.
    #[must_use]
    pub fn mesh(&self) -> &Mesh {
        &self.mesh
    }

    /// A connection from `peer` (as its signaling named it) opened to us, with these DTLS
    /// fingerprints (`by_invite` when a person carried an invite between us): its link's
    /// handle, or `None` when the page has no room (close it).
    pub fn connected(
        &mut self,
        now: Instant,
        peer: PeerId,
        by_invite: bool,
        binding: ChannelBinding,
    ) -> Option<LinkId> {
        self.now = self.now.max(now);
        let link = if by_invite {
            Some(self.mesh.accept_invited(now, peer))
        } else {
            self.mesh.accept(now, peer)
        };
        if let Some(link) = link {
            self.bind(link, binding);
            self.mesh.handle_link_open(now, link);
        }
        self.process();
        link
    }

    /// A plain PeerJS client's connection opened to us ([`crate::client`]): `peer` is the ID
    /// its signaling named (unproven) and `serialization` the one its offer named. Its link's
    /// handle, or why it is refused (close it): the page has
    /// [`MAX_CLIENTS`](client::MAX_CLIENTS) connections already, or the ID is ours or a
    /// connected seedmesh peer's. One connection more than
    /// [`MAX_CONNECTIONS_PER_CLIENT`](client::MAX_CONNECTIONS_PER_CLIENT) for one ID closes its
    /// oldest: PeerJS code reconnects before the page can tell that the old connection is gone.
    pub fn client_connected(
        &mut self,
        now: Instant,
        peer: PeerId,
        serialization: Serialization,
    ) -> Result<LinkId, ClientError> {
        self.now = self.now.max(now);
        let link = self.mesh.reserve_link();
        let admitted = if peer == *self.id() || self.mesh.is_connected(&peer) {
            Err(ClientError::IdInUse)
        } else {
            self.clients.admit(now, link, peer.clone(), serialization)
        };
        let closed = match admitted {
            Ok(closed) => closed,
            Err(error) => {
                self.events.push_back(Event::Refused {
                    peer,
                    reason: error.to_string(),
                });
                return Err(error);
            }
        };
        for earlier in closed {
            self.actions.push_back(Action::Close { link: earlier });
        }
        self.events.push_back(Event::Peer(PeerView {
            id: peer,
            name: None,
            state: PeerState::Connected,
            found_by: FoundBy::Incoming,
            link: Some(link),
            peerjs_client: Some(serialization),
        }));
        Ok(link)
    }

    /// A message from the plain PeerJS client on `link` arrived at `now` (`wall_clock` in ms
    /// since the Unix epoch): its text is chat from it, its bytes a file from it, and anything
    /// else [`Event::Ignored`] with the reason.
    pub fn client_message(
        &mut self,
        now: Instant,
        wall_clock: u64,
        link: LinkId,
        message: Message,
    ) {
        self.now = self.now.max(now);
        let Some(peer) = self.clients.peer_on(link).cloned() else {
            return;
        };
        let input = match self.clients.take(now, link, message) {
            Taken::Input(input) => input,
            Taken::Refused(error) => {
                self.events.push_back(Event::Ignored {
                    peer,
                    reason: error.to_string(),
                });
                return;
            }
            Taken::Dropped => return,
        };
        let (id, n) = self.client_item(&peer, wall_clock);
        match input {
            ClientInput::Text(text) => self.events.push_back(Event::Chat(ReceivedChat {
                id,
                from: peer,
                from_name: None,
                text,
                sent_at: wall_clock,
                direct: true,
            })),
            ClientInput::Bytes(bytes) => {
                let mime = "application/octet-stream".to_owned();
                let size = bytes.len() as u64;
                self.events.push_back(Event::FileOffered(FileOffer {
                    id: id.clone(),
                    transfer: id.clone(),
                    from: peer,
                    from_name: None,
                    name: format!("peerjs-data-{n}.bin"),
                    size,
                    mime: mime.clone(),
                    sent_at: wall_clock,
                    direct: true,
                    link,
                }));
                self.events.push_back(Event::FileProgress {
                    id: id.clone(),
                    done: size,
                });
                self.events
                    .push_back(Event::FileReceived { id, bytes, mime });
            }
        }
    }

    /// The plain PeerJS client on `link` sent something its connection could not read (bad
    /// BinaryPack, say): shown as [`Event::Ignored`]; the connection carries on.
    pub fn client_unreadable(&mut self, link: LinkId, reason: &str) {
        if let Some(peer) = self.clients.peer_on(link) {
            self.events.push_back(Event::Ignored {
                peer: peer.clone(),
                reason: reason.to_owned(),
            });
        }
    }

    /// A new ID for a message or file to or from `peer`, and its number: unique across the
    /// page's visits, as the history keeps them.
    fn client_item(&mut self, peer: &PeerId, wall_clock: u64) -> (String, u64) {
        self.client_items += 1;
        let n = self.client_items;
        (format!("{peer}/peerjs-{wall_clock}-{n}"), n)
    }

    /// What came of [`Action::Dial`] for `link`: open, with the connection's DTLS
    /// fingerprints, or failed for this reason. A dial through the mesh that failed is tried
    /// once more through the PeerServer.
    pub fn dialed(&mut self, now: Instant, link: LinkId, result: Result<ChannelBinding, String>) {
        self.now = self.now.max(now);
        match result {
            Ok(binding) => {
                self.mesh_dials.remove(&link);
                self.bind(link, binding);
                self.mesh.handle_link_open(now, link);
            }
            Err(_) if self.mesh_dials.remove(&link) => {
                if let Some(peer) = self.mesh.remote_of(link) {
                    self.actions.push_back(Action::Dial {
                        link,
                        peer,
                        through: Through::PeerServer,
                    });
                }
            }
            Err(reason) => self.mesh.handle_link_failed(now, link, &reason),
        }
        self.process();
    }

    /// A text frame arrived on `link`. One that is not a mesh message is ignored; a hello
    /// without a proof that holds for this link closes it.
    pub fn received_text(&mut self, now: Instant, link: LinkId, text: &str) {
        self.now = self.now.max(now);
        if let Ok(message) = MeshMessage::decode(text.as_bytes()) {
            let checked = self
                .check_hello(link, &message)
                .map_err(|e| e.to_string())
                .and_then(|()| self.check_post(&message));
            match checked {
                Ok(()) => self.mesh.handle_message(now, link, message),
                Err(reason) => {
                    self.bindings.remove(&link);
                    self.mesh.refuse_link(link, &reason);
                }
            }
        }
        self.process();
    }

    /// Checks the author's signature of a room post the first time it comes; other messages
    /// pass. A page passes on only posts it checked, so a peer that hands us a bad one is
    /// not honest, and its link is closed.
    fn check_post(&self, message: &MeshMessage) -> Result<(), String> {
        let MeshMessage::Gossip {
            gossip: GossipMessage::Push { id, payload, .. },
        } = message
        else {
            return Ok(());
        };
        if self.mesh.has_seen_post(id) {
            return Ok(());
        }
        post::open(payload, id)
            .map(|_| ())
            .map_err(|e| format!("it passed on {e}"))
    }

    /// Checks the proof of a hello against the link's fingerprints; other messages pass.
    fn check_hello(&self, link: LinkId, message: &MeshMessage) -> Result<(), ProofError> {
        let MeshMessage::Hello { id, key, sig, .. } = message else {
            return Ok(());
        };
        let (Some(key), Some(signature)) = (key, sig) else {
            return Err(ProofError::Missing);
        };
        let Some((binding, _)) = self.bindings.get(&link) else {
            // Not open (or already refused): the mesh ignores it.
            return Ok(());
        };
        let claimed = PeerId::parse(id).map_err(|_| ProofError::Missing)?;
        let proof = Proof {
            key: key.clone(),
            signature: signature.clone(),
        };
        proof.verify(&claimed, binding)
    }

    /// A binary frame arrived on `link`: a chunk of one of the files its peer announced.
    pub fn received_binary(&mut self, now: Instant, link: LinkId, chunk: &[u8]) {
        self.now = self.now.max(now);
        let named = transfer::decode_chunk(chunk)
            .ok()
            .map(|(transfer, _, _)| (link, transfer.to_owned()));
        match self.files.receive(now, &link, chunk) {
            Ok(Progress::Partial { id, received, .. }) => {
                if let Some(arriving) = self.arriving.get(&(link, id)) {
                    self.events.push_back(Event::FileProgress {
                        id: arriving.id.clone(),
                        done: received,
                    });
                }
            }
            Ok(Progress::Complete { id, bytes }) => self.finish_file(link, id, bytes),
            Err(error) => {
                // A chunk that named one of this link's files dropped it.
                let id = named
                    .and_then(|key| self.arriving.remove(&key))
                    .map(|arriving| arriving.id);
                self.events.push_back(Event::FileFailed {
                    id,
                    reason: error.to_string(),
                });
            }
        }
        self.process();
    }

    /// `link`'s connection ended, for `reason`. When its path failed
    /// ([`CloseReason::is_path_lost`]) the peer may still be there: an attempt to link again
    /// starts, and its row says so meanwhile (see [`Mesh::handle_link_lost`]).
    pub fn closed(&mut self, now: Instant, link: LinkId, reason: &CloseReason) {
        self.now = self.now.max(now);
        if let Some((peer, last)) = self.clients.remove(link) {
            if last {
                self.events.push_back(Event::PeerRemoved(peer));
            }
            return;
        }
        self.mesh_dials.remove(&link);
        self.bindings.remove(&link);
        let dropped = self.files.sender_gone(&link);
        self.files_dropped(dropped);
        if reason.is_path_lost() {
            self.mesh.handle_link_lost(now, link, &reason.to_string());
        } else {
            self.mesh.handle_link_closed(now, link);
        }
        self.process();
    }

    /// What came of [`Action::ClaimSlot`].
    pub fn slot_result(&mut self, now: Instant, slot: u8, result: SlotResult) {
        self.now = self.now.max(now);
        let claimed = result == SlotResult::Claimed;
        self.mesh.handle_slot_result(now, slot, result);
        if claimed {
            self.events.push_back(Event::Slot(self.mesh.held_slot()));
        }
        self.process();
    }

    /// Sends a signaling message of ours for `to` through the mesh; `nonce` must not repeat.
    pub fn send_signal(
        &mut self,
        to: &PeerId,
        body: String,
        nonce: u64,
    ) -> Result<(), SignalError> {
        let sent = self.mesh.send_signal(to, body, nonce);
        if sent.is_ok() {
            self.signals_sent += 1;
        }
        self.process();
        sent
    }

    /// The connections did not take the signaling of an [`Action::TakeSignal`].
    pub fn signal_refused(&mut self) {
        self.signals_refused += 1;
        self.process();
    }

    /// Sends `text` to the room, or to `to` alone; `wall_clock` is the time of writing in ms
    /// since the Unix epoch. Plain PeerJS clients get room messages too, as plain strings.
    pub fn send_chat(
        &mut self,
        wall_clock: u64,
        text: &str,
        to: Option<&PeerId>,
    ) -> Result<OutgoingChat, ChatError> {
        if let Some((link, _)) = to.and_then(|peer| self.clients.destination(peer)) {
            crate::mesh::check_chat_text(text)?;
            let me = self.mesh.me().clone();
            let (id, _) = self.client_item(&me, wall_clock);
            self.actions.push_back(Action::SendToClient {
                link,
                message: client::text_message(text),
                file: None,
            });
            return Ok(OutgoingChat {
                id,
                recipients: 0,
                clients: 1,
            });
        }
        let sent = match to {
            Some(peer) => self.mesh.send_chat(self.now, wall_clock, text, peer),
            // A room message travels past our links, so it carries our signature.
            None => self.mesh.room_post(wall_clock, text).and_then(|post| {
                let payload = post::seal(&self.key, &post);
                self.mesh.publish_post(self.now, &post, payload)
            }),
        };
        let sent = match sent {
            Ok(mut sent) if to.is_none() => {
                let destinations = self.clients.destinations();
                for &(link, _) in &destinations {
                    self.actions.push_back(Action::SendToClient {
                        link,
                        message: client::text_message(text),
                        file: None,
                    });
                }
                sent.clients = destinations.len();
                Ok(sent)
            }
            other => other,
        };
        self.process();
        sent
    }

    /// Sends a file to the room, or to `to` alone: its announcement, then its chunks, on each
    /// recipient's link. A file for the room is also announced to pages past our links, by
    /// gossip, and kept for [`SHARE_FOR`] to send to those that ask.
    pub fn send_file(
        &mut self,
        wall_clock: u64,
        name: &str,
        mime: &str,
        bytes: &[u8],
        to: Option<&PeerId>,
    ) -> Result<OutgoingFile, ChatError> {
        let size = bytes.len() as u64;
        if let Some(destination) = to.and_then(|peer| self.clients.destination(peer)) {
            let me = self.mesh.me().clone();
            let (id, _) = self.client_item(&me, wall_clock);
            self.send_file_to_client(destination, &id, bytes)
                .map_err(ChatError::Client)?;
            return Ok(OutgoingFile {
                id,
                recipients: 0,
                clients: 1,
            });
        }
        let outgoing = self.mesh.send_file(wall_clock, name, mime, size, to)?;
        // The announcement goes first.
        self.process();
        for &link in &outgoing.links {
            Self::send_chunks(&mut self.actions, link, &outgoing.id, bytes);
        }
        // Clients that can take the file get it; the others are skipped.
        let mut clients = 0;
        if to.is_none() {
            for destination in self.clients.destinations() {
                if self
                    .send_file_to_client(destination, &outgoing.id, bytes)
                    .is_ok()
                {
                    clients += 1;
                }
            }
        }
        // A file too large to keep for pages that ask goes to our links only, unannounced.
        if to.is_none() && bytes.len() <= MAX_SHARED_BYTES {
            let post = self
                .mesh
                .file_post(wall_clock, &outgoing.id, name, size, mime);
            let payload = post::seal(&self.key, &post);
            // Past the allowance for our own posts, only our links get the file.
            let _ = self.mesh.publish_post(self.now, &post, payload);
            self.share(&outgoing.id, post, bytes);
            self.process();
        }
        Ok(OutgoingFile {
            id: outgoing.id,
            recipients: outgoing.links.len(),
            clients,
        })
    }

    /// Queues file `id` for a plain PeerJS client's connection, as bytes in its serialization.
    fn send_file_to_client(
        &mut self,
        (link, serialization): (LinkId, Serialization),
        id: &str,
        bytes: &[u8],
    ) -> Result<(), ClientError> {
        let message = client::file_message(serialization, bytes)?;
        self.actions.push_back(Action::SendToClient {
            link,
            message,
            file: Some((id.to_owned(), bytes.len() as u64)),
        });
        Ok(())
    }

    /// Asks the author of a file shared with the room ([`Event::FileAnnounced`]) for it; it
    /// then comes as any other file, or [`Event::FileFailed`] says why not.
    pub fn want_file(&mut self, id: &str) -> Result<(), ChatError> {
        let wanted = self.mesh.want_file(self.now, id);
        self.process();
        wanted
    }

    /// Queues the chunks of file `id` for `link`.
    fn send_chunks(actions: &mut VecDeque<Action>, link: LinkId, id: &str, bytes: &[u8]) {
        let size = bytes.len() as u64;
        let mut done = 0u64;
        for chunk in transfer::chunks(id, bytes) {
            done = (done + transfer::CHUNK_SIZE as u64).min(size);
            actions.push_back(Action::SendChunk {
                link,
                chunk,
                id: id.to_owned(),
                done,
            });
        }
    }

    /// Keeps a file we shared with the room for pages that ask for it, within the bounds.
    fn share(&mut self, transfer: &str, post: RoomPost, bytes: &[u8]) {
        if bytes.len() > MAX_SHARED_BYTES {
            return;
        }
        self.shared.push_back(SharedFile {
            transfer: transfer.to_owned(),
            post,
            bytes: bytes.to_vec(),
            until: self.now + SHARE_FOR,
            sent_to: BTreeSet::new(),
        });
        while self.shared.len() > MAX_SHARED_FILES
            || self.shared.iter().map(|f| f.bytes.len()).sum::<usize>() > MAX_SHARED_BYTES
        {
            self.shared.pop_front();
        }
    }

    /// A linked peer asks for a file we shared: each peer gets it once, while we share it.
    fn file_wanted(&mut self, link: LinkId, transfer: &str) {
        let now = self.now;
        self.shared.retain(|f| f.until > now);
        let Some(peer) = self.mesh.peer_on(link) else {
            return;
        };
        let Some(file) = self.shared.iter_mut().find(|f| f.transfer == transfer) else {
            return;
        };
        if file.sent_to.len() >= MAX_SENDS_PER_SHARED_FILE || !file.sent_to.insert(peer) {
            return;
        }
        let PostKind::File { name, size, mime } = file.post.kind.clone() else {
            return;
        };
        let message = MeshMessage::File {
            id: transfer.to_owned(),
            name,
            size,
            mime,
            sent_at: file.post.sent_at,
            direct: false,
        };
        self.actions.push_back(Action::Send { link, message });
        Self::send_chunks(&mut self.actions, link, transfer, &file.bytes);
    }

    /// Acts on what is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        self.mesh.handle_timeout(now);
        let stalled = self.files.expire(now);
        self.files_dropped(stalled);
        self.shared.retain(|f| f.until > now);
        self.calls.handle_timeout(now);
        self.process();
    }

    /// When [`Endpoint::handle_timeout`] wants to be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let shared = self.shared.iter().map(|f| f.until).min();
        [
            self.mesh.poll_timeout(),
            self.files.next_expiry(),
            shared,
            self.calls.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next thing to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions
            .pop_front()
            .or_else(|| self.calls.poll_action().map(Action::Call))
    }

    /// The next thing to show.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front().or_else(|| {
            self.calls
                .poll_event()
                .map(|CallEvent::Changed(view)| Event::Call(view))
        })
    }

    /// Turns what the mesh asks into actions and events.
    fn process(&mut self) {
        while let Some(output) = self.mesh.poll_output() {
            match output {
                MeshOutput::ClaimSlot { slot, id } => {
                    self.actions.push_back(Action::ClaimSlot { slot, id });
                }
                MeshOutput::ReleaseSlot { id } => {
                    self.actions.push_back(Action::ReleaseSlot { id })
                }
                // Through the mesh when a connected peer can carry the signaling; the
                // PeerServer only when none can (rendezvous slots, DNS bootstrap peers).
                MeshOutput::Dial { link, remote } => {
                    let through = if self.mesh.has_route_to(&remote) {
                        self.mesh_dials.insert(link);
                        Through::Mesh
                    } else {
                        Through::PeerServer
                    };
                    self.actions.push_back(Action::Dial {
                        link,
                        peer: remote,
                        through,
                    });
                }
                MeshOutput::Send { link, message } => {
                    let message = self.with_proof(link, message);
                    self.actions.push_back(Action::Send { link, message });
                }
                MeshOutput::Close { link } => {
                    self.mesh_dials.remove(&link);
                    self.bindings.remove(&link);
                    self.actions.push_back(Action::Close { link });
                }
                MeshOutput::PeerChanged(view) => {
                    // One ID is one row. A client's stays until a page of the mesh proves the
                    // ID (the client's is unproven): then the client is closed.
                    if self.clients.destination(&view.id).is_some() {
                        if view.state != PeerState::Connected {
                            continue;
                        }
                        for link in self.clients.remove_peer(&view.id) {
                            self.actions.push_back(Action::Close { link });
                        }
                    }
                    self.events.push_back(Event::Peer(view));
                }
                MeshOutput::PeerRemoved(id) => {
                    if self.clients.destination(&id).is_none() {
                        self.events.push_back(Event::PeerRemoved(id));
                    }
                }
                MeshOutput::ChatReceived(chat) => self.events.push_back(Event::Chat(chat)),
                MeshOutput::FileOffered(offer) => self.expect_file(self.now, offer),
                MeshOutput::SignalReceived { from, body, .. } => {
                    self.actions.push_back(Action::TakeSignal { from, body });
                }
                MeshOutput::Delivered { id, delivered, .. } => {
                    self.events.push_back(Event::Delivered { id, delivered });
                }
                MeshOutput::Undelivered { id, reason, .. } => {
                    self.events.push_back(Event::Undelivered { id, reason });
                }
                MeshOutput::Announce(post) => {
                    let payload = post::seal(&self.key, &post);
                    // Past the allowance for our own posts, this presence is skipped: the
                    // next one comes in time.
                    let _ = self.mesh.publish_post(self.now, &post, payload);
                }
                MeshOutput::FileAnnounced(notice) => {
                    self.events.push_back(Event::FileAnnounced(notice));
                }
                MeshOutput::FileWanted { link, transfer } => self.file_wanted(link, &transfer),
                MeshOutput::FileNotFetched { id, reason } => {
                    self.events.push_back(Event::FileFailed {
                        id: Some(id),
                        reason,
                    });
                }
                MeshOutput::Present { id, name } => {
                    self.events.push_back(Event::Present { id, name });
                }
                MeshOutput::Absent(id) => self.events.push_back(Event::Absent(id)),
                MeshOutput::Neighbourhood { peer, links } => {
                    self.events.push_back(Event::Neighbourhood { peer, links });
                }
                MeshOutput::Refused { peer, reason } => {
                    self.events.push_back(Event::Refused { peer, reason });
                }
            }
        }
        let stats = self.mesh.relay_stats();
        let counts = SignalingCounts {
            sent: self.signals_sent,
            received: stats.delivered,
            relayed: stats.forwarded,
            dropped: stats.dropped.values().sum::<u64>() + self.signals_refused,
        };
        if counts != self.counts {
            self.counts = counts;
            self.events.push_back(Event::Signaling(counts));
        }
    }

    /// Keeps `link`'s fingerprints, and signs our proof for them.
    fn bind(&mut self, link: LinkId, binding: ChannelBinding) {
        let proof = self.key.prove(&binding);
        self.bindings.insert(link, (binding, proof));
    }

    /// Our hello on `link`, with our proof for its fingerprints; other messages as they are.
    fn with_proof(&self, link: LinkId, mut message: MeshMessage) -> MeshMessage {
        if let MeshMessage::Hello { key, sig, .. } = &mut message
            && let Some((_, proof)) = self.bindings.get(&link)
        {
            *key = Some(proof.key.clone());
            *sig = Some(proof.signature.clone());
        }
        message
    }

    /// Gets ready for a file a peer announced.
    fn expect_file(&mut self, now: Instant, offer: FileOffer) {
        let (link, transfer) = (offer.link, offer.transfer.clone());
        // The offer shows either way; a refused one shows why.
        let refused = self.files.announce(now, &link, &transfer, offer.size).err();
        let id = offer.id.clone();
        self.events.push_back(Event::FileOffered(offer.clone()));
        if let Some(error) = refused {
            self.events.push_back(Event::FileFailed {
                id: Some(id),
                reason: error.to_string(),
            });
            return;
        }
        self.arriving.insert(
            (link, transfer.clone()),
            Arriving {
                id,
                mime: offer.mime,
            },
        );
        if let Some(Progress::Complete { bytes, .. }) = self.files.take_empty(&link, &transfer) {
            self.finish_file(link, transfer, bytes);
        }
    }

    /// Confirms a whole file on the link it came on, and shows it.
    fn finish_file(&mut self, link: LinkId, transfer: String, bytes: Vec<u8>) {
        let Some(arriving) = self.arriving.remove(&(link, transfer.clone())) else {
            return;
        };
        self.mesh.file_received(link, &transfer);
        self.events.push_back(Event::FileProgress {
            id: arriving.id.clone(),
            done: bytes.len() as u64,
        });
        self.events.push_back(Event::FileReceived {
            id: arriving.id,
            bytes,
            mime: arriving.mime,
        });
    }

    /// Shows the files that ended before they were whole.
    fn files_dropped(&mut self, dropped: Vec<transfer::Dropped<LinkId>>) {
        for gone in dropped {
            if let Some(arriving) = self.arriving.remove(&(gone.sender, gone.id)) {
                self.events.push_back(Event::FileFailed {
                    id: Some(arriving.id),
                    reason: gone.error.to_string(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests;
