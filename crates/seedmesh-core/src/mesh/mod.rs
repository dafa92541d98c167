//! The mesh: finding peers through rendezvous slots, DNS bootstrap peers and peer exchange, and
//! keeping one handshaken link per peer.
//!
//! [`Mesh`] decides whom to connect to and what to say; the driver opens signaling sockets and
//! data connections as told, and reports back. Links are named by [`LinkId`]s the mesh hands out.
//!
//! **Rendezvous.** The seed records name a namespace `ns` and a number of slots. A page tries to
//! register the IDs `ns-0`, `ns-1`, … on the PeerServer ([`MeshOutput::ClaimSlot`]). A taken ID
//! means someone holds it: the page dials it. A free ID is now the page's: newcomers dial it.
//! A page keeps at most one slot; the others it finds free it releases at once, so that every
//! newcomer reaches every slot holder. Scans repeat every [`RESCAN_INTERVAL`], so pages meet
//! again after slot holders leave. A page at its target of links does not scan, unless it
//! holds a slot itself (then it links with the holders of the others, so the holders hold the
//! room together) or its links say no slot holder can be reached through them
//! ([`message::MAX_SLOT_HOPS`]): then its part of the room has split off, and the scan joins
//! it to the rest.
//!
//! **Exchange.** On every new handshake a peer learns the others' peers and they learn of it;
//! the smaller ID dials, the larger waits [`EXCHANGE_GRACE`] first, so the pair rarely dials
//! twice. When both links open anyway, the peer with the smaller ID keeps the first handshaken
//! one and closes the other.
//!
//! ```
//! use seedmesh_core::mesh::{Mesh, MeshConfig, MeshOutput, SlotResult};
//! use seedmesh_core::{Instant, PeerId};
//!
//! let me = PeerId::parse("alice").unwrap();
//! let config = MeshConfig { namespace: Some("room".into()), slots: 2, ..MeshConfig::default() };
//! let mut mesh = Mesh::new(me, "Alice", config).unwrap();
//! let now = Instant::from_millis(0);
//! mesh.start(now);
//! // The driver registers `room-0` on the PeerServer ...
//! assert!(matches!(mesh.poll_output(), Some(MeshOutput::ClaimSlot { slot: 0, .. })));
//! // ... which says someone has it: the mesh lists them, dials them and tries the next slot.
//! mesh.handle_slot_result(now, 0, SlotResult::Taken);
//! assert!(matches!(mesh.poll_output(), Some(MeshOutput::PeerChanged(_))));
//! assert!(matches!(mesh.poll_output(), Some(MeshOutput::Dial { .. })));
//! assert!(matches!(mesh.poll_output(), Some(MeshOutput::ClaimSlot { slot: 1, .. })));
//! // The driver sleeps until `mesh.poll_timeout()` and then calls `mesh.handle_timeout(now)`.
//! ```

pub mod degree;
pub mod gossip;
pub mod message;
pub mod outbox;
pub mod picture;
pub mod post;
pub mod relay;
pub mod roster;

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

use core::fmt;
use core::time::Duration;

pub use message::{MeshMessage, MeshMessageError, clean_display_name};
pub use outbox::Undelivered;
pub use post::{PostKind, RoomPost};
pub use relay::{DropReason, RelayStats};

pub use degree::DegreeConfig;

use crate::peer_id::PeerId;
use crate::signaling::Serialization;
use crate::time::Instant;

/// How often a page with no peers, or fewer than its low bound of links, scans the rendezvous
/// slots again.
pub const RESCAN_INTERVAL: Duration = Duration::from_secs(15);
/// How often a page with some peers, but fewer than it may dial, scans them again, and how
/// often a slot holder checks that it is linked with the others.
pub const RESCAN_INTERVAL_CONNECTED: Duration = Duration::from_secs(60);
/// How long before a rendezvous slot is dialed again.
pub const SLOT_REDIAL: Duration = Duration::from_secs(60);
/// How soon a page scans the rendezvous slots again after the page holding one it was linked
/// to left.
pub const HOLDER_GONE_RESCAN: Duration = Duration::from_secs(2);
/// How long the larger ID of a pair waits before dialing a peer it learned of by exchange.
pub const EXCHANGE_GRACE: Duration = Duration::from_secs(3);
/// How long before a DNS bootstrap peer that could not be reached is tried again.
pub const BOOTSTRAP_RETRY: Duration = Duration::from_secs(30);
/// How often a hello is repeated until the other side confirms it.
pub const HELLO_RETRY: Duration = Duration::from_secs(1);
/// How long a failed peer stays in the list, so people can read why.
pub const FAILED_LINGER: Duration = Duration::from_secs(30);
/// How many chat IDs are remembered to drop duplicates.
const SEEN_CHATS: usize = 4096;
/// How many of our own messages and files have their confirmations counted; older ones
/// stop counting.
pub const MAX_TRACKED_DELIVERIES: usize = 1024;
/// Eviction never closes the longest-connected `1 / KEPT_ON_EVICTION` of our links.
pub const KEPT_ON_EVICTION: usize = 4;
/// How many peers may wait to be dialed later; IDs other peers tell of beyond this are
/// dropped, so a peer cannot fill our dial queue with made-up IDs.
pub const MAX_DEFERRED_DIALS: usize = 64;
/// How many peers learned by exchange are remembered with the link that told of them, as
/// routes for signaling through the mesh.
pub const MAX_ROUTES: usize = 4096;
/// How many peers that told of the same peer are kept as its routes: the first is used while its
/// link is open, the others when it closes; a later teller never displaces an earlier one.
pub const ROUTES_PER_PEER: usize = 8;
/// How many of our latest room messages' delivery counts make the estimate of the room's size.
pub const ROOM_ESTIMATE_MESSAGES: usize = 8;
/// How long a peer whose link closed is not dialed to make up for few links.
pub const GONE_MEMORY: Duration = Duration::from_secs(60);
/// The most peers remembered as gone.
pub const MAX_GONE: usize = 256;
/// How often, at most, our links are told to our peers ([`MeshMessage::Links`]) when they
/// change.
pub const LINKS_REPORT_INTERVAL: Duration = Duration::from_secs(1);
/// How many of each peer's own links are kept for the picture of the mesh.
pub const MAX_TOLD_LINKS: usize = 64;
/// The least time between our presence posts by default; with more pages in the room, each page says it
/// is there less often (see [`PRESENCE_PER_PAGE`]).
pub const PRESENCE_EVERY: Duration = Duration::from_secs(30);
/// How much longer between our presence posts for each page in the room: with this, each page
/// passes on at most ten presence posts a second, however large the room.
pub const PRESENCE_PER_PAGE: Duration = Duration::from_millis(100);
/// How long after its first link a page first says it is in the room.
pub const FIRST_PRESENCE: Duration = Duration::from_secs(1);
/// Pages cut off from every slot holder scan the slots within this time, each at a random
/// moment in it, so that a part of the room that split off does not scan all at once.
pub const STRANDED_RESCAN: Duration = Duration::from_secs(15);
/// How many files shared with the room by pages past our links are remembered, to ask their
/// authors for them.
pub const MAX_ANNOUNCED_FILES: usize = 256;
/// How many files we may be asking their authors for at once.
pub const MAX_WANTED_FILES: usize = 16;
/// How long a file asked for may take to start coming.
pub const FILE_WANT_TIMEOUT: Duration = Duration::from_secs(60);
/// What the author's ID for each of our presence posts starts with: their delivery counts
/// tell the room's size, and are shown as no message's.
const PRESENCE_ID_PREFIX: &str = "presence-";
/// How long after a dial through one route failed the next route is tried.
const REROUTE_DELAY: Duration = Duration::from_millis(500);

/// How a mesh behaves; usually from the seed records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshConfig {
    /// The rendezvous namespace; `None` turns rendezvous off.
    pub namespace: Option<String>,
    /// How many rendezvous slots there are.
    pub slots: u8,
    /// Peers to dial at start, named in DNS.
    pub bootstrap: Vec<PeerId>,
    /// How many links the page keeps (the seed records' `mesh=LOW,TARGET,HIGH`). It dials peers
    /// it learns of up to `target`, and when it has fewer than `low`, dials peers its links
    /// told of, picked at random, up to `target`. It accepts links up to `high` and a few more;
    /// past `high`, each newcomer it accepts replaces one of its peers, which gets our peer list
    /// to find others. So newcomers always find room, and room messages reach everyone by
    /// gossip however few links each page has.
    pub degree: DegreeConfig,
    /// The least time between this page's presence posts, which tell the room it is there
    /// (see [`roster`]); `None`: it never says so, but lists the pages it hears from.
    pub presence_every: Option<Duration>,
}

impl Default for MeshConfig {
    fn default() -> Self {
        Self {
            namespace: None,
            slots: 4,
            bootstrap: Vec::new(),
            degree: DegreeConfig::default(),
            presence_every: Some(PRESENCE_EVERY),
        }
    }
}

/// Why a [`MeshConfig`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MeshError {
    /// The namespace does not make valid peer IDs (`<namespace>-<slot>`).
    InvalidNamespace(String),
    /// No slots, or more than 64.
    InvalidSlotCount(u8),
    /// Link bounds out of order or too high.
    InvalidDegree(degree::DegreeError),
}

impl fmt::Display for MeshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidNamespace(ns) => write!(
                f,
                "the rendezvous namespace {ns:?} cannot form peer IDs: use letters, digits and single '-' or '_'"
            ),
            Self::InvalidSlotCount(n) => {
                write!(f, "{n} rendezvous slots: use between 1 and 64")
            }
            Self::InvalidDegree(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for MeshError {}

/// Why a chat message could not be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChatError {
    /// The text is longer than [`message::MAX_CHAT_BYTES`].
    TooLarge {
        /// Its length in bytes.
        len: usize,
    },
    /// The text is empty or only white space.
    Empty,
    /// The addressee is not connected.
    NotConnected(PeerId),
    /// The room message could not go out; the error says why.
    Publish(gossip::PublishError),
    /// The file asked for was never announced to this page, or was announced too long ago.
    UnknownFile(String),
    /// [`MAX_WANTED_FILES`] files are being asked for already.
    TooManyWanted,
    /// The plain PeerJS client it is for cannot take it; the error says why.
    Client(crate::client::ClientError),
}

impl fmt::Display for ChatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len } => write!(
                f,
                "the message is {len} bytes; the limit is {} bytes — shorten it or split it in several",
                message::MAX_CHAT_BYTES
            ),
            Self::Empty => write!(f, "the message is empty"),
            Self::NotConnected(peer) => {
                write!(
                    f,
                    "{peer} is not connected; wait until it is, or send to the room"
                )
            }
            Self::Publish(error) => write!(f, "the room message did not go out: {error}"),
            Self::UnknownFile(id) => write!(
                f,
                "no page announced the file {id} lately; it may have been shared too long ago"
            ),
            Self::TooManyWanted => write!(
                f,
                "{MAX_WANTED_FILES} files are being asked for already; wait until they come"
            ),
            Self::Client(error) => write!(f, "the PeerJS client cannot take it: {error}"),
        }
    }
}

impl std::error::Error for ChatError {}

/// Why a signaling message could not go through the mesh.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignalError {
    /// No link reaches the peer, and no linked peer told us of it: use a PeerServer.
    NoRoute(PeerId),
    /// The message is larger than [`relay::MAX_SIGNAL_BYTES`] bytes.
    TooLarge(usize),
}

impl fmt::Display for SignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoRoute(peer) => write!(
                f,
                "no connected peer can carry signaling to {peer}; use a signaling server"
            ),
            Self::TooLarge(len) => write!(
                f,
                "a signaling message of {len} bytes; the mesh carries at most {}",
                relay::MAX_SIGNAL_BYTES
            ),
        }
    }
}

impl std::error::Error for SignalError {}

/// The driver's handle for one data connection, handed out by the mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub u64);

/// How a peer was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FoundBy {
    /// It is a bootstrap peer named in the seed records.
    Dns,
    /// It holds a rendezvous slot.
    Rendezvous,
    /// A connected peer told us of it.
    Exchange,
    /// It dialed us.
    Incoming,
    /// A person carried an invite between us.
    Invite,
}

/// Where a connection to a peer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerState {
    /// Dialing, or open but not yet introduced.
    Connecting,
    /// Open and introduced: messages flow.
    Connected,
    /// The attempt failed; the reason is for people to read.
    Failed(String),
    /// The link was lost (the reason is for people to read) and is being formed again; see
    /// [`Mesh::handle_link_lost`].
    Reconnecting(String),
}

/// A peer as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerView {
    /// The peer's ID (a rendezvous slot's ID until the holder introduces itself).
    pub id: PeerId,
    /// The name it gave, if it introduced itself.
    pub name: Option<String>,
    /// Where the connection stands.
    pub state: PeerState,
    /// How it was found.
    pub found_by: FoundBy,
    /// The link that carries it, while there is one.
    pub link: Option<LinkId>,
    /// For a plain PeerJS client ([`crate::client`]), the serialization it speaks; `None` for
    /// a seedmesh peer. A client's ID is what its signaling said, never proven.
    pub peerjs_client: Option<Serialization>,
}

/// What a claim of a rendezvous slot came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotResult {
    /// The PeerServer registered the slot's ID for us.
    Claimed,
    /// Someone else holds it.
    Taken,
    /// The claim failed for another reason (the server is unreachable, say).
    Failed(String),
}

/// A chat message that arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedChat {
    /// Its unique ID here: the sender's ID, `/`, and the sender's ID for the message, so
    /// that no peer can take another's message ID.
    pub id: String,
    /// Who sent it.
    pub from: PeerId,
    /// The sender's display name when it arrived.
    pub from_name: Option<String>,
    /// The text.
    pub text: String,
    /// The sender's wall-clock time of writing, in ms since the Unix epoch.
    pub sent_at: u64,
    /// Sent to us alone rather than the room.
    pub direct: bool,
}

/// A chat message on its way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingChat {
    /// Its unique ID.
    pub id: String,
    /// How many pages it was sent to (for the room, about how many the room has); each
    /// confirms it.
    pub recipients: usize,
    /// How many plain PeerJS clients it went to as well ([`crate::client`]), which confirm
    /// nothing. The mesh sends to none.
    pub clients: usize,
}

/// A file a peer announced; its chunks follow on `link`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOffer {
    /// Its unique ID here: the sender's ID, `/`, and the sender's transfer ID.
    pub id: String,
    /// The sender's ID for the transfer, as its chunks carry it.
    pub transfer: String,
    /// The sender.
    pub from: PeerId,
    /// The sender's display name.
    pub from_name: Option<String>,
    /// The file's name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type; may be empty.
    pub mime: String,
    /// When it was sent, in ms since the Unix epoch.
    pub sent_at: u64,
    /// Sent to us alone rather than the room.
    pub direct: bool,
    /// The link its chunks arrive on.
    pub link: LinkId,
}

/// A file a page shared with the room, heard of by gossip; ask its author for it with
/// [`Mesh::want_file`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileNotice {
    /// Its ID here, as a [`FileOffer`]'s: the author's ID, `/`, and the transfer ID.
    pub id: String,
    /// The author.
    pub from: PeerId,
    /// The author's display name.
    pub from_name: String,
    /// The file's name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type; may be empty.
    pub mime: String,
    /// When it was shared, in ms since the Unix epoch, by the author's clock.
    pub sent_at: u64,
}

/// A file on its way: stream [`crate::transfer::chunks`] to each link, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingFile {
    /// The transfer's ID.
    pub id: String,
    /// The links to send the chunks on.
    pub links: Vec<LinkId>,
}

/// What the mesh wants done, or wants the UI to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeshOutput {
    /// A peer broke the protocol and its link was closed; people should know why.
    Refused {
        /// Who it claimed to be.
        peer: PeerId,
        /// What it did.
        reason: String,
    },
    /// Register `id` on the PeerServer as rendezvous slot `slot`, then call
    /// [`Mesh::handle_slot_result`].
    ClaimSlot {
        /// The slot number.
        slot: u8,
        /// The slot's peer ID.
        id: PeerId,
    },
    /// Give up the registration of slot `id`.
    ReleaseSlot {
        /// The slot's peer ID.
        id: PeerId,
    },
    /// Open a data connection to `remote`, known from now on as `link`.
    Dial {
        /// The handle to report the link's fate with.
        link: LinkId,
        /// The ID to dial on the PeerServer.
        remote: PeerId,
    },
    /// Send `message` on `link`.
    Send {
        /// The link.
        link: LinkId,
        /// The message.
        message: MeshMessage,
    },
    /// Close `link`.
    Close {
        /// The link.
        link: LinkId,
    },
    /// A peer appeared or changed.
    PeerChanged(PeerView),
    /// A peer left the list.
    PeerRemoved(PeerId),
    /// A chat message arrived.
    ChatReceived(ReceivedChat),
    /// A peer announced a file.
    FileOffered(FileOffer),
    /// A signaling message for us arrived through the mesh.
    SignalReceived {
        /// Its source.
        from: PeerId,
        /// The link it came on.
        via: LinkId,
        /// The signaling message, as PeerJS writes it to a PeerServer.
        body: String,
    },
    /// A linked peer told us which peers it is linked with now (at most [`MAX_TOLD_LINKS`],
    /// us left out): what the page knows of the mesh past its own links.
    Neighbourhood {
        /// The linked peer.
        peer: PeerId,
        /// Its links, in its order.
        links: Vec<PeerId>,
    },
    /// A page shared a file with the room: we heard of it by gossip.
    FileAnnounced(FileNotice),
    /// The peer on `link` asks for a file we shared with the room: send it (its
    /// [`MeshMessage::File`], then its chunks), if we still have it.
    FileWanted {
        /// The link to send it on.
        link: LinkId,
        /// Our transfer ID.
        transfer: String,
    },
    /// A file we asked for did not start coming in time.
    FileNotFetched {
        /// The file's ID (as in its [`FileNotice`]).
        id: String,
        /// Why, for people.
        reason: String,
    },
    /// Sign `post` (our presence) and publish it with [`Mesh::publish_post`].
    Announce(RoomPost),
    /// A page in the room said it is there, or gave another name: one we may have no link
    /// with, heard by gossip.
    Present {
        /// The page.
        id: PeerId,
        /// The name it gave.
        name: String,
    },
    /// A page in the room was not heard from in time: it left.
    Absent(PeerId),
    /// Peers confirmed one of our chat messages or files: the peers it went to, for a direct
    /// message or a file; for a room message, the pages the gossip's counts say got it.
    Delivered {
        /// The message's ID.
        id: String,
        /// How many peers have confirmed it so far.
        delivered: usize,
        /// How many it was sent to; for a room message, about how many pages the room has.
        recipients: usize,
    },
    /// A direct message of ours was given up on: its recipient never confirmed it, across
    /// every link to it (see [`outbox`]).
    Undelivered {
        /// The message's ID.
        id: String,
        /// Its recipient.
        to: PeerId,
        /// Why.
        reason: Undelivered,
    },
}

#[derive(Debug)]
struct Link {
    /// The ID dialed, or the ID that dialed us.
    remote: PeerId,
    /// The peer's own ID, once it introduced itself.
    peer: Option<PeerId>,
    found_by: FoundBy,
    open: bool,
    next_hello: Option<Instant>,
}

/// A file we ask its author for.
#[derive(Debug)]
struct WantedFile {
    author: PeerId,
    transfer: String,
    /// Whether the request went out (it waits for a link to the author otherwise).
    asked: bool,
    /// When we give up on it.
    until: Instant,
}

/// What a linked peer told of itself in its latest [`MeshMessage::Links`].
#[derive(Debug)]
struct Told {
    links: Vec<PeerId>,
    /// The rendezvous slot it holds.
    slot: Option<u8>,
    /// How many links away from it the nearest slot holder is.
    slot_hops: u8,
}

#[derive(Debug)]
struct PeerEntry {
    view: PeerView,
    failed_at: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rendezvous {
    Off,
    /// Waiting for the result of claiming `slot`.
    AwaitingClaim {
        slot: u8,
    },
    /// Between scans.
    Resting {
        until: Instant,
    },
}

#[derive(Debug)]
struct Delivery {
    /// The peers it went to: only they can confirm it.
    recipients: BTreeSet<PeerId>,
    delivered: BTreeSet<PeerId>,
}

/// The mesh state machine; see the [module docs](self).
#[derive(Debug)]
pub struct Mesh {
    me: PeerId,
    name: String,
    config: MeshConfig,
    started: bool,
    rendezvous: Rendezvous,
    held_slot: Option<u8>,
    links: BTreeMap<LinkId, Link>,
    next_link: u64,
    peers: BTreeMap<PeerId, PeerEntry>,
    deferred_dials: BTreeMap<PeerId, (Instant, FoundBy)>,
    /// Peers whose link was lost and is being formed again: a dial to one replaces a link
    /// the page had, so it may go past the cap on dials, up to the cap on links (at most
    /// [`MAX_DEFERRED_DIALS`] at once).
    replacing: BTreeSet<PeerId>,
    /// When each rendezvous slot was last dialed.
    slot_dialed_at: BTreeMap<PeerId, Instant>,
    seen_chats: (HashSet<String>, VecDeque<String>),
    deliveries: BTreeMap<String, Delivery>,
    /// Our direct messages until their recipients confirm them: sent again on each new link.
    outbox: outbox::Outbox,
    /// The IDs in `deliveries`, oldest first.
    delivery_order: VecDeque<String>,
    chat_counter: u64,
    /// Which links told us of each peer, first teller first, at most [`ROUTES_PER_PEER`]: for
    /// signaling through the mesh, through the first whose link is still open.
    routes: BTreeMap<PeerId, Vec<LinkId>>,
    /// The link signaling with each peer goes on, both ways: the one our offer went out on, or
    /// the one its offer came in on. Answers and candidates come back on it, and ours go on it.
    signaled_on: BTreeMap<PeerId, LinkId>,
    relay: relay::Relay,
    /// Room messages past our own links.
    gossip: gossip::Gossip,
    /// How many pages our latest room messages reached, newest last (at most
    /// [`ROOM_ESTIMATE_MESSAGES`]): the room's size, about.
    room_counts: VecDeque<(String, usize)>,
    /// Random choices of peers to dial when links are few.
    random: degree::Random,
    /// When the links are next checked against the low bound.
    next_repair: Instant,
    /// Peers whose link closed lately (they left, most likely), and when: not dialed to make up
    /// for few links until [`GONE_MEMORY`] has passed.
    gone: BTreeMap<PeerId, Instant>,
    /// What each introduced link told of its own links (at most [`MAX_TOLD_LINKS`] each) and
    /// of the rendezvous slots.
    told_links: BTreeMap<LinkId, Told>,
    /// The distance to the nearest slot holder we last told our links.
    reported_slot_hops: u8,
    /// Whether the scan under way links with slot holders past the target of links.
    bridging: bool,
    /// When this page last scanned because it knew of no slot holder.
    stranded_scan_at: Option<Instant>,
    /// The pages heard from in the room.
    roster: roster::Roster,
    /// When we next say we are in the room; from our first link on.
    next_presence: Option<Instant>,
    /// Files shared with the room that we heard of, by ID: their author and transfer ID;
    /// oldest first, at most [`MAX_ANNOUNCED_FILES`].
    announced: VecDeque<(String, PeerId, String)>,
    /// Files we asked (or will ask, once linked) their authors for, by ID.
    wanted: BTreeMap<String, WantedFile>,
    /// Whether our links changed since we last told our peers.
    links_changed: bool,
    /// When our links may next be told, at most every [`LINKS_REPORT_INTERVAL`].
    next_links_report: Instant,
    outputs: VecDeque<MeshOutput>,
}

impl Mesh {
    /// A mesh for the peer `me`, known to others as `name`.
    pub fn new(me: PeerId, name: &str, config: MeshConfig) -> Result<Self, MeshError> {
        config.degree.checked().map_err(MeshError::InvalidDegree)?;
        let seed = seed_of(&me);
        if let Some(ns) = &config.namespace {
            if PeerId::parse(&format!("{ns}-0")).is_err() {
                return Err(MeshError::InvalidNamespace(ns.clone()));
            }
            if config.slots == 0 || config.slots > 64 {
                return Err(MeshError::InvalidSlotCount(config.slots));
            }
        }
        Ok(Self {
            me,
            name: clean_display_name(name),
            config,
            started: false,
            rendezvous: Rendezvous::Off,
            held_slot: None,
            links: BTreeMap::new(),
            next_link: 0,
            peers: BTreeMap::new(),
            deferred_dials: BTreeMap::new(),
            replacing: BTreeSet::new(),
            slot_dialed_at: BTreeMap::new(),
            seen_chats: (HashSet::new(), VecDeque::new()),
            deliveries: BTreeMap::new(),
            outbox: outbox::Outbox::default(),
            delivery_order: VecDeque::new(),
            chat_counter: 0,
            routes: BTreeMap::new(),
            signaled_on: BTreeMap::new(),
            relay: relay::Relay::default(),
            gossip: gossip::Gossip::new(gossip::GossipConfig::default()),
            room_counts: VecDeque::new(),
            random: degree::Random::new(seed),
            next_repair: Instant::from_millis(0),
            gone: BTreeMap::new(),
            told_links: BTreeMap::new(),
            reported_slot_hops: message::MAX_SLOT_HOPS,
            bridging: false,
            stranded_scan_at: None,
            roster: roster::Roster::default(),
            next_presence: None,
            announced: VecDeque::new(),
            wanted: BTreeMap::new(),
            links_changed: false,
            next_links_report: Instant::from_millis(0),
            outputs: VecDeque::new(),
        })
    }

    /// Our own peer ID.
    #[must_use]
    pub fn me(&self) -> &PeerId {
        &self.me
    }

    /// The slot ID we hold, if any.
    #[must_use]
    pub fn held_slot(&self) -> Option<PeerId> {
        self.held_slot.and_then(|slot| self.slot_id(slot))
    }

    /// The peer a link belongs to, once it introduced itself.
    #[must_use]
    pub fn peer_on(&self, link: LinkId) -> Option<PeerId> {
        self.peer_of(link)
    }

    /// Whether `peer` is connected and introduced (proven, with an endpoint's checks).
    #[must_use]
    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.peers
            .get(peer)
            .is_some_and(|p| p.view.state == PeerState::Connected)
    }

    /// A fresh link handle the mesh will never use for a link of its own, for a connection
    /// outside the mesh (a plain PeerJS client's).
    pub fn reserve_link(&mut self) -> LinkId {
        let link = LinkId(self.next_link);
        self.next_link += 1;
        link
    }

    /// How many peers are connected and introduced.
    #[must_use]
    pub fn connected_count(&self) -> usize {
        self.peers
            .values()
            .filter(|p| p.view.state == PeerState::Connected)
            .count()
    }

    /// Starts rendezvous and dials the bootstrap peers; call once our own ID is registered.
    pub fn start(&mut self, now: Instant) {
        if self.started {
            return;
        }
        self.started = true;
        for peer in self.config.bootstrap.clone() {
            if peer != self.me {
                self.dial(now, peer, FoundBy::Dns);
            }
        }
        if self.config.namespace.is_some() {
            self.scan_from(now, 0);
        }
    }

    /// Our display name, as peers are told it.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Changes our display name and tells every connected peer.
    pub fn set_name(&mut self, name: &str) {
        self.name = clean_display_name(name);
        let message = MeshMessage::Name {
            name: self.name.clone(),
        };
        for link in self.introduced_links() {
            self.send(link, message.clone());
        }
        // The room hears the new name with our next presence, at once.
        if self.next_presence.is_some() {
            self.next_presence = Some(Instant::from_millis(0));
        }
    }

    /// Reports what claiming rendezvous slot `slot` came to.
    pub fn handle_slot_result(&mut self, now: Instant, slot: u8, result: SlotResult) {
        if self.rendezvous != (Rendezvous::AwaitingClaim { slot }) {
            // A late answer for a claim we no longer wait for: give a stray slot back.
            if result == SlotResult::Claimed && self.held_slot != Some(slot) {
                self.release(slot);
            }
            return;
        }
        match result {
            SlotResult::Claimed if self.held_slot.is_none() => {
                self.held_slot = Some(slot);
                self.links_changed = true;
            }
            SlotResult::Claimed => self.release(slot),
            SlotResult::Taken => {
                if let Some(id) = self.slot_id(slot) {
                    let dialed_lately = self
                        .slot_dialed_at
                        .get(&id)
                        .is_some_and(|at| *at + SLOT_REDIAL > now);
                    if !self.has_link_to(&id) && !dialed_lately {
                        self.slot_dialed_at.insert(id.clone(), now);
                        if self.bridging {
                            // One link past the bound: the page it reaches makes room.
                            let cap = usize::from(self.config.degree.high) + 1;
                            self.dial_up_to(now, id, FoundBy::Rendezvous, cap);
                        } else {
                            self.dial(now, id, FoundBy::Rendezvous);
                        }
                    }
                }
            }
            SlotResult::Failed(_) => {
                // The server may be down: rest and scan again later.
                self.rest(now);
                return;
            }
        }
        self.scan_from(now, slot + 1);
    }

    /// Reports a link that someone opened to us from `remote`; returns its handle, or `None`
    /// when even the links that replace older peers are all in use (the driver then refuses
    /// the connection).
    pub fn accept(&mut self, _now: Instant, remote: PeerId) -> Option<LinkId> {
        let links = self.active_count();
        if links >= usize::from(self.config.degree.high) + degree::ACCEPT_ROOM {
            return None;
        }
        Some(self.new_link(remote, FoundBy::Incoming))
    }

    /// Reports a link opened by an invite a person carried between us and `remote`; returns
    /// its handle. An invite is someone's deliberate choice, so it is taken even past the
    /// limit on links others open to us.
    pub fn accept_invited(&mut self, _now: Instant, remote: PeerId) -> LinkId {
        self.new_link(remote, FoundBy::Invite)
    }

    /// Reports that `link` is open.
    pub fn handle_link_open(&mut self, now: Instant, link: LinkId) {
        let Some(state) = self.links.get_mut(&link) else {
            return;
        };
        state.open = true;
        state.next_hello = Some(now + HELLO_RETRY);
        self.send_hello(link, false);
    }

    /// Reports that dialing `link` failed, with a reason for people to read.
    pub fn handle_link_failed(&mut self, now: Instant, link: LinkId, reason: &str) {
        let Some(state) = self.remove_link(link) else {
            return;
        };
        // Our offer went through a peer that could not deliver it: that peer is no route to
        // the remote any more. The next one that told of it is tried, if there is one.
        if state.found_by == FoundBy::Exchange
            && let Some(via) = self.signaled_on.remove(&state.remote)
        {
            if let Some(routes) = self.routes.get_mut(&state.remote) {
                routes.retain(|l| *l != via);
            }
            if self.route_to(&state.remote).is_some() {
                self.defer_dial(state.remote.clone(), now + REROUTE_DELAY, FoundBy::Exchange);
            }
        }
        let key = state.peer.clone().unwrap_or(state.remote.clone());
        if self.switch_to_other_link(&key, link) {
            return;
        }
        if let Some(entry) = self.peers.get_mut(&key)
            && (entry.view.link == Some(link) || entry.view.link.is_none())
        {
            entry.view.state = PeerState::Failed(reason.to_owned());
            entry.view.link = None;
            entry.failed_at = Some(now);
            self.outputs
                .push_back(MeshOutput::PeerChanged(entry.view.clone()));
        }
        if !self.deferred_dials.contains_key(&state.remote) {
            self.replacing.remove(&state.remote);
        }
        if state.found_by == FoundBy::Dns {
            self.defer_dial(state.remote, now + BOOTSTRAP_RETRY, FoundBy::Dns);
        }
    }

    /// Reports that `link` closed.
    pub fn handle_link_closed(&mut self, now: Instant, link: LinkId) {
        self.link_gone(now, link, None);
    }

    /// Forgets the closed or lost `link`. Its peer's row goes, or, when the link was `lost`
    /// (with that reason), stays as [`PeerState::Reconnecting`].
    fn link_gone(&mut self, now: Instant, link: LinkId, lost: Option<&str>) {
        let Some(state) = self.remove_link(link) else {
            return;
        };
        let key = state.peer.clone().unwrap_or(state.remote.clone());
        if self.switch_to_other_link(&key, link) {
            return;
        }
        self.remember_gone(now, &key);
        if let Some(entry) = self.peers.get_mut(&key)
            && entry.view.link == Some(link)
        {
            match lost {
                // Only a peer that introduced itself is known to be someone to link with again.
                Some(reason) if state.peer.is_some() => {
                    entry.view.state = PeerState::Reconnecting(reason.to_owned());
                    entry.view.link = None;
                    entry.failed_at = Some(now);
                    self.outputs
                        .push_back(MeshOutput::PeerChanged(entry.view.clone()));
                }
                _ => {
                    self.peers.remove(&key);
                    self.outputs.push_back(MeshOutput::PeerRemoved(key.clone()));
                }
            }
        }
        if state.found_by == FoundBy::Dns || self.config.bootstrap.contains(&key) {
            self.defer_dial(key, now + BOOTSTRAP_RETRY, FoundBy::Dns);
        }
        self.slot_holders_changed(now);
        // The page that held a rendezvous slot is gone: its slot may be free, and a newcomer
        // would meet nobody there until the next regular scan. Scan again soon.
        if state.found_by == FoundBy::Rendezvous
            && let Rendezvous::Resting { until } = self.rendezvous
            && until > now + HOLDER_GONE_RESCAN
        {
            self.rendezvous = Rendezvous::Resting {
                until: now + HOLDER_GONE_RESCAN,
            };
        }
    }

    /// Reports that `link` was lost rather than closed, for `reason` (for people to read):
    /// its path failed or its peer stopped answering, while the peer may well still be there.
    /// The peer's row stays, as [`PeerState::Reconnecting`], and the pair connects again (the
    /// smaller ID at once, the larger after [`EXCHANGE_GRACE`]): through a connected peer that
    /// told us of it, else through the PeerServer. The row turns
    /// [`Connected`](PeerState::Connected) when a link is back, or
    /// [`Failed`](PeerState::Failed) when the attempt fails, and leaves the list
    /// [`FAILED_LINGER`] after that (or after the loss, when no attempt could start).
    pub fn handle_link_lost(&mut self, now: Instant, link: LinkId, reason: &str) {
        let peer = self.peer_of(link);
        self.link_gone(now, link, Some(reason));
        let Some(peer) = peer else {
            return;
        };
        if self.has_link_to(&peer) {
            return;
        }
        if self.replacing.len() < MAX_DEFERRED_DIALS {
            self.replacing.insert(peer.clone());
        }
        // A peer from DNS is dialed again later anyway; a lost link is formed again as soon
        // as one of ours would be.
        let soon = self.exchange_dial_at(now, &peer);
        if let Some((at, _)) = self.deferred_dials.get_mut(&peer) {
            *at = (*at).min(soon);
        }
        self.learn_of(now, peer);
    }

    /// Reports a message that arrived on `link`.
    pub fn handle_message(&mut self, now: Instant, link: LinkId, message: MeshMessage) {
        if !self.links.get(&link).is_some_and(|l| l.open) {
            return;
        }
        match message {
            MeshMessage::Hello {
                id,
                name,
                seen,
                version,
                ..
            } => {
                if let Ok(id) = PeerId::parse(&id) {
                    self.handle_hello(now, link, id, &name, seen, version);
                }
            }
            MeshMessage::Peers { ids } => {
                for id in ids.iter().filter_map(|id| PeerId::parse(id).ok()) {
                    // The first peer to tell of an ID stays its route while its link is
                    // open: a later one cannot take the route over by repeating the ID.
                    // Later ones are kept behind it, for when its link closes.
                    if id != self.me
                        && (self.routes.len() < MAX_ROUTES || self.routes.contains_key(&id))
                    {
                        let via = self.routes.entry(id.clone()).or_default();
                        if !via.contains(&link) && via.len() < ROUTES_PER_PEER {
                            via.push(link);
                        }
                    }
                    self.learn_of(now, id);
                }
            }
            MeshMessage::Links {
                ids,
                slot,
                slot_hops,
            } => self.handle_links(now, link, &ids, slot, slot_hops),
            MeshMessage::Signal {
                to,
                from,
                hops,
                nonce,
                body,
            } => self.handle_signal(now, link, &to, &from, hops, nonce, body),
            MeshMessage::Gossip { gossip } => {
                // Only introduced links take part: the gossip knows no other.
                self.gossip.handle(now, link, gossip);
                self.pump_gossip(now);
            }
            MeshMessage::Name { name } => {
                if let Some(peer) = self.peer_of(link)
                    && let Some(entry) = self.peers.get_mut(&peer)
                {
                    entry.view.name = Some(clean_display_name(&name));
                    self.outputs
                        .push_back(MeshOutput::PeerChanged(entry.view.clone()));
                }
            }
            MeshMessage::Chat {
                id,
                text,
                sent_at,
                direct,
            } => {
                let Some(from) = self.peer_of(link) else {
                    return;
                };
                self.send(link, MeshMessage::Ack { id: id.clone() });
                let id = scoped_id(&from, &id);
                if !self.remember_chat(&id) {
                    return;
                }
                let from_name = self.peers.get(&from).and_then(|p| p.view.name.clone());
                self.outputs
                    .push_back(MeshOutput::ChatReceived(ReceivedChat {
                        id,
                        from,
                        from_name,
                        text,
                        sent_at,
                        direct,
                    }));
            }
            MeshMessage::File {
                id,
                name,
                size,
                mime,
                sent_at,
                direct,
            } => {
                let Some(from) = self.peer_of(link) else {
                    return;
                };
                let from_name = self.peers.get(&from).and_then(|p| p.view.name.clone());
                self.wanted.remove(&scoped_id(&from, &id));
                self.outputs.push_back(MeshOutput::FileOffered(FileOffer {
                    id: scoped_id(&from, &id),
                    transfer: id,
                    from,
                    from_name,
                    name,
                    size,
                    mime,
                    sent_at,
                    direct,
                    link,
                }));
            }
            MeshMessage::FileWanted { id } => {
                if self.peer_of(link).is_some() {
                    self.outputs
                        .push_back(MeshOutput::FileWanted { link, transfer: id });
                }
            }
            MeshMessage::Ack { id } | MeshMessage::FileReceived { id } => {
                let Some(from) = self.peer_of(link) else {
                    return;
                };
                self.outbox.confirm(&from, &id);
                // Only a peer it went to can confirm it, and each once.
                if let Some(delivery) = self.deliveries.get_mut(&id)
                    && delivery.recipients.contains(&from)
                    && delivery.delivered.insert(from)
                {
                    self.outputs.push_back(MeshOutput::Delivered {
                        id,
                        delivered: delivery.delivered.len(),
                        recipients: delivery.recipients.len(),
                    });
                }
            }
        }
    }

    /// Sends the signaling message `body` to `to` through the mesh: on our link to it, or
    /// through the peer that told us of it. `nonce` must not repeat (draw it at random).
    pub fn send_signal(
        &mut self,
        to: &PeerId,
        body: String,
        nonce: u64,
    ) -> Result<(), SignalError> {
        if body.len() > relay::MAX_SIGNAL_BYTES {
            return Err(SignalError::TooLarge(body.len()));
        }
        // The way this exchange already goes (so that an answer returns the way its offer
        // came), else the peer that told us of `to`.
        let link = self
            .open_link_to(to)
            .or_else(|| {
                self.signaled_on
                    .get(to)
                    .copied()
                    .filter(|l| self.is_open(*l))
            })
            .or_else(|| self.route_to(to))
            .ok_or_else(|| SignalError::NoRoute(to.clone()))?;
        let message = MeshMessage::Signal {
            to: to.to_string(),
            from: self.me.to_string(),
            hops: relay::MAX_HOPS,
            nonce,
            body,
        };
        if self.signaled_on.len() < MAX_ROUTES || self.signaled_on.contains_key(to) {
            self.signaled_on.insert(to.clone(), link);
        }
        self.send(link, message);
        Ok(())
    }

    /// The ID `link` dialed, or that dialed us on it.
    #[must_use]
    pub fn remote_of(&self, link: LinkId) -> Option<PeerId> {
        self.links.get(&link).map(|l| l.remote.clone())
    }

    /// Whether signaling for `peer` can go through the mesh now.
    #[must_use]
    pub fn has_route_to(&self, peer: &PeerId) -> bool {
        self.open_link_to(peer).is_some() || self.route_to(peer).is_some()
    }

    /// The open link of the first peer that told us of `peer` and is still linked to us.
    fn route_to(&self, peer: &PeerId) -> Option<LinkId> {
        self.routes
            .get(peer)?
            .iter()
            .copied()
            .find(|link| self.is_open(*link))
    }

    /// What signaling through the mesh did so far.
    #[must_use]
    pub fn relay_stats(&self) -> &RelayStats {
        self.relay.stats()
    }

    /// Sends `text` to `to` alone, on our link to it; `wall_clock` is the time of writing in ms
    /// since the Unix epoch, shown to the receiver. Room messages go as [room posts](Mesh::room_post).
    ///
    /// The message goes again on each new link to `to` until `to` confirms it; given up on,
    /// it comes back as [`MeshOutput::Undelivered`]. To a peer whose link is
    /// [forming again](PeerState::Reconnecting) it first goes when the link is back.
    pub fn send_chat(
        &mut self,
        now: Instant,
        wall_clock: u64,
        text: &str,
        to: &PeerId,
    ) -> Result<OutgoingChat, ChatError> {
        check_chat_text(text)?;
        // A peer whose link is forming again gets it once the link is back.
        let reconnecting = self
            .peers
            .get(to)
            .is_some_and(|p| matches!(p.view.state, PeerState::Reconnecting(_)));
        let links = if reconnecting {
            Vec::new()
        } else {
            self.recipients(Some(to))?
        };
        self.chat_counter += 1;
        let id = format!("{}-{wall_clock}-{}", self.me, self.chat_counter);
        let message = MeshMessage::Chat {
            id: id.clone(),
            text: text.to_owned(),
            sent_at: wall_clock,
            direct: true,
        };
        for &link in &links {
            self.send(link, message.clone());
        }
        self.track(&id, BTreeSet::from([to.clone()]));
        if let Some(old) = self.outbox.push(now, to, &id, message) {
            self.gave_up(old);
        }
        Ok(OutgoingChat {
            id,
            recipients: 1,
            clients: 0,
        })
    }

    /// A room message of ours with `text`, written at `wall_clock` (ms since the Unix epoch):
    /// seal it with our key ([`post::seal`]) and hand it to [`Mesh::publish_post`].
    pub fn room_post(&mut self, wall_clock: u64, text: &str) -> Result<RoomPost, ChatError> {
        check_chat_text(text)?;
        self.chat_counter += 1;
        Ok(RoomPost {
            from: self.me.to_string(),
            name: self.name.clone(),
            id: format!("{wall_clock}-{}", self.chat_counter),
            text: text.to_owned(),
            sent_at: wall_clock,
            kind: PostKind::Chat,
        })
    }

    /// Sends our sealed room post to the whole room by gossip. Its delivery counts come as
    /// [`MeshOutput::Delivered`] under the post's gossip ID.
    pub fn publish_post(
        &mut self,
        now: Instant,
        post: &RoomPost,
        payload: String,
    ) -> Result<OutgoingChat, ChatError> {
        let id = post.gossip_id();
        self.gossip
            .publish(now, &id, payload)
            .map_err(ChatError::Publish)?;
        self.pump_gossip(now);
        Ok(OutgoingChat {
            id,
            recipients: self.room_size(),
            clients: 0,
        })
    }

    /// Whether the room message `id` came here already (so it needs no checking again).
    #[must_use]
    pub fn has_seen_post(&self, id: &str) -> bool {
        self.gossip.has_seen(id)
    }

    /// About how many other pages the room has: the most pages any of our latest room messages
    /// reached, or our links if more.
    #[must_use]
    pub fn room_size(&self) -> usize {
        let counted = self.room_counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
        counted
            .max(self.introduced_links().len())
            .max(self.roster.len())
    }

    /// The pages heard from in the room, by gossip.
    #[must_use]
    pub fn roster(&self) -> &roster::Roster {
        &self.roster
    }

    /// How often we say we are in the room: every [`PRESENCE_EVERY`], and
    /// [`PRESENCE_PER_PAGE`] longer for each page heard from.
    fn presence_every(&self) -> Duration {
        let least = self.config.presence_every.unwrap_or(PRESENCE_EVERY);
        least.max(PRESENCE_PER_PAGE * self.roster.len() as u32)
    }

    /// Our room post that shares the file `transfer` (sent with [`Mesh::send_file`]) with pages
    /// past our links: sign it and publish it with [`Mesh::publish_post`].
    #[must_use]
    pub fn file_post(
        &self,
        wall_clock: u64,
        transfer: &str,
        name: &str,
        size: u64,
        mime: &str,
    ) -> RoomPost {
        RoomPost {
            from: self.me.to_string(),
            name: self.name.clone(),
            id: transfer.to_owned(),
            text: String::new(),
            sent_at: wall_clock,
            kind: PostKind::File {
                name: name.chars().take(message::MAX_FILE_NAME_CHARS).collect(),
                size,
                mime: mime.chars().take(255).collect(),
            },
        }
    }

    /// Asks the author of the file `id` (a [`FileNotice`]'s) for it: at once if we are linked
    /// with it, or once a link to it opens, which this dials. The file then comes as any other
    /// ([`MeshOutput::FileOffered`]), or [`MeshOutput::FileNotFetched`] says why not.
    pub fn want_file(&mut self, now: Instant, id: &str) -> Result<(), ChatError> {
        let (author, transfer) = self
            .announced
            .iter()
            .find(|(known, _, _)| known == id)
            .map(|(_, author, transfer)| (author.clone(), transfer.clone()))
            .ok_or_else(|| ChatError::UnknownFile(id.to_owned()))?;
        if !self.wanted.contains_key(id) && self.wanted.len() >= MAX_WANTED_FILES {
            return Err(ChatError::TooManyWanted);
        }
        self.wanted.insert(
            id.to_owned(),
            WantedFile {
                author: author.clone(),
                transfer,
                asked: false,
                until: now + FILE_WANT_TIMEOUT,
            },
        );
        let linked = self
            .peers
            .get(&author)
            .filter(|p| p.view.state == PeerState::Connected)
            .and_then(|p| p.view.link);
        match linked {
            Some(link) => self.ask_for_files(link, &author),
            // One link past the bound: the file's author is worth it, and eviction makes room.
            None => {
                let cap = usize::from(self.config.degree.high) + 1;
                self.dial_up_to(now, author, FoundBy::Exchange, cap);
            }
        }
        Ok(())
    }

    /// Asks `author`, linked on `link`, for the files we want of it.
    fn ask_for_files(&mut self, link: LinkId, author: &PeerId) {
        let asks: Vec<String> = self
            .wanted
            .values_mut()
            .filter(|w| &w.author == author && !w.asked)
            .map(|w| {
                w.asked = true;
                w.transfer.clone()
            })
            .collect();
        for id in asks {
            self.send(link, MeshMessage::FileWanted { id });
        }
    }

    /// A file shared with the room reached us by gossip: shown, and remembered to ask for.
    fn file_announced(&mut self, notice: FileNotice) {
        if !self.announced.iter().any(|(id, _, _)| *id == notice.id) {
            let transfer = notice
                .id
                .split_once('/')
                .map_or_else(String::new, |(_, t)| t.to_owned());
            self.announced
                .push_back((notice.id.clone(), notice.from.clone(), transfer));
            if self.announced.len() > MAX_ANNOUNCED_FILES {
                self.announced.pop_front();
            }
        }
        self.outputs.push_back(MeshOutput::FileAnnounced(notice));
    }

    /// Asks for our presence to be signed and published, and when to say it again.
    fn announce(&mut self, now: Instant) {
        let every = self.presence_every();
        self.next_presence = Some(now + every);
        self.chat_counter += 1;
        self.outputs.push_back(MeshOutput::Announce(RoomPost {
            from: self.me.to_string(),
            name: self.name.clone(),
            // A page that loads again counts from 1 again: the random part keeps its new
            // presence from passing for one the room has seen.
            id: format!(
                "{PRESENCE_ID_PREFIX}{:x}-{}",
                self.random.next_u64(),
                self.chat_counter
            ),
            text: String::new(),
            sent_at: 0,
            kind: PostKind::Presence {
                every: every.as_secs().clamp(1, 3600) as u32,
            },
        }));
    }

    /// What the gossip did so far.
    #[must_use]
    pub fn gossip_stats(&self) -> &gossip::GossipStats {
        self.gossip.stats()
    }

    /// Announces a file to the room, or to `to` alone; the driver then streams its chunks to
    /// the links returned, in order, after this announcement.
    pub fn send_file(
        &mut self,
        wall_clock: u64,
        name: &str,
        mime: &str,
        size: u64,
        to: Option<&PeerId>,
    ) -> Result<OutgoingFile, ChatError> {
        let links = self.recipients(to)?;
        self.chat_counter += 1;
        let id = format!("{}-{wall_clock}-f{}", self.me, self.chat_counter);
        let message = MeshMessage::File {
            id: id.clone(),
            name: name.chars().take(message::MAX_FILE_NAME_CHARS).collect(),
            size,
            mime: mime.chars().take(255).collect(),
            sent_at: wall_clock,
            direct: to.is_some(),
        };
        self.send_tracked(&links, &id, &message);
        Ok(OutgoingFile { id, links })
    }

    /// Tells the sender on `link` that all of file `id` arrived.
    pub fn file_received(&mut self, link: LinkId, id: &str) {
        self.send(link, MeshMessage::FileReceived { id: id.to_owned() });
    }

    /// Acts on what is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Rendezvous::Resting { until } = self.rendezvous
            && until <= now
        {
            // A slot holder links with the other holders, and a page cut off from them all
            // links with one, even past the target of links.
            if self.stranded() {
                self.stranded_scan_at = Some(now);
            }
            self.bridging = self.held_slot.is_some() || self.stranded();
            if self.bridging || self.active_count() < usize::from(self.config.degree.target) {
                self.scan_from(now, 0);
            } else {
                self.rest(now);
            }
        }
        let due: Vec<(PeerId, FoundBy)> = self
            .deferred_dials
            .iter()
            .filter(|(_, (at, _))| *at <= now)
            .map(|(peer, (_, found_by))| (peer.clone(), *found_by))
            .collect();
        for (peer, found_by) in due {
            self.deferred_dials.remove(&peer);
            let connected_or_dialing = self.peers.get(&peer).is_some_and(|p| p.view.link.is_some());
            if !connected_or_dialing {
                self.dial(now, peer, found_by);
            }
        }
        let hellos: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, l)| l.next_hello.is_some_and(|at| at <= now))
            .map(|(id, _)| *id)
            .collect();
        for link in hellos {
            if let Some(state) = self.links.get_mut(&link) {
                state.next_hello = Some(now + HELLO_RETRY);
                let seen = state.peer.is_some();
                self.send_hello(link, seen);
            }
        }
        let expired: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.failed_at.is_some_and(|at| at + FAILED_LINGER <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for peer in expired {
            self.peers.remove(&peer);
            self.outputs.push_back(MeshOutput::PeerRemoved(peer));
        }
        for old in self.outbox.expire(now) {
            self.gave_up(old);
        }
        if self.needs_links() && self.next_repair <= now {
            self.next_repair = now + degree::REPAIR_INTERVAL;
            self.repair(now);
        }
        if self.links_changed && self.next_links_report <= now {
            self.report_links(now);
        }
        if self.next_presence.is_some_and(|at| at <= now) {
            self.announce(now);
        }
        for gone in self.roster.expire(now) {
            self.outputs.push_back(MeshOutput::Absent(gone));
        }
        let late: Vec<String> = self
            .wanted
            .iter()
            .filter(|(_, w)| w.until <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in late {
            let asked = self.wanted.remove(&id).is_some_and(|w| w.asked);
            let reason = if asked {
                "it did not come: its author no longer shares it (a page shares a file for 10 \
                 minutes), or left"
            } else {
                "its author could not be reached; it may have left"
            };
            self.outputs.push_back(MeshOutput::FileNotFetched {
                id,
                reason: reason.to_owned(),
            });
        }
        self.gossip.handle_timeout(now);
        self.pump_gossip(now);
    }

    /// When [`Mesh::handle_timeout`] should next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let rendezvous = match self.rendezvous {
            Rendezvous::Resting { until } => Some(until),
            _ => None,
        };
        let dials = self.deferred_dials.values().map(|(at, _)| *at);
        let hellos = self.links.values().filter_map(|l| l.next_hello);
        let lingering = self
            .peers
            .values()
            .filter_map(|p| p.failed_at.map(|at| at + FAILED_LINGER));
        rendezvous
            .into_iter()
            .chain(dials)
            .chain(hellos)
            .chain(lingering)
            .chain(self.gossip.poll_timeout())
            .chain(self.needs_links().then_some(self.next_repair))
            .chain(self.links_changed.then_some(self.next_links_report))
            .chain(self.next_presence)
            .chain(self.roster.next_expiry())
            .chain(self.wanted.values().map(|w| w.until).min())
            .chain(self.outbox.next_expiry())
            .min()
    }

    /// The next thing to do or show.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<MeshOutput> {
        self.outputs.pop_front()
    }

    // -----------------------------------------------------------------------------------------

    /// Sends on `link` every direct message `peer` has not confirmed.
    fn send_unconfirmed(&mut self, link: LinkId, peer: &PeerId) {
        let unconfirmed: Vec<MeshMessage> = self.outbox.waiting_for(peer).cloned().collect();
        for message in unconfirmed {
            self.send(link, message);
        }
    }

    /// Tells of a direct message of ours given up on.
    fn gave_up(&mut self, old: outbox::GaveUp) {
        self.outputs.push_back(MeshOutput::Undelivered {
            id: old.id,
            to: old.to,
            reason: old.reason,
        });
    }

    /// Sends `message` on every link and counts its confirmations under `id`.
    fn send_tracked(&mut self, links: &[LinkId], id: &str, message: &MeshMessage) {
        for &link in links {
            self.send(link, message.clone());
        }
        let recipients = links.iter().filter_map(|l| self.peer_of(*l)).collect();
        self.track(id, recipients);
    }

    /// Counts the confirmations of our message `id` by `recipients`, the peers it went to.
    fn track(&mut self, id: &str, recipients: BTreeSet<PeerId>) {
        self.deliveries.insert(
            id.to_owned(),
            Delivery {
                recipients,
                delivered: BTreeSet::new(),
            },
        );
        self.delivery_order.push_back(id.to_owned());
        while self.delivery_order.len() > MAX_TRACKED_DELIVERIES {
            if let Some(old) = self.delivery_order.pop_front() {
                self.deliveries.remove(&old);
            }
        }
    }

    /// The links to reach `to`, or the whole room.
    fn recipients(&self, to: Option<&PeerId>) -> Result<Vec<LinkId>, ChatError> {
        match to {
            Some(peer) => {
                let link = self
                    .peers
                    .get(peer)
                    .filter(|p| p.view.state == PeerState::Connected)
                    .and_then(|p| p.view.link)
                    .ok_or_else(|| ChatError::NotConnected(peer.clone()))?;
                Ok(vec![link])
            }
            None => Ok(self.introduced_links()),
        }
    }

    fn slot_id(&self, slot: u8) -> Option<PeerId> {
        let ns = self.config.namespace.as_ref()?;
        PeerId::parse(&format!("{ns}-{slot}")).ok()
    }

    fn scan_from(&mut self, now: Instant, mut slot: u8) {
        while slot < self.config.slots {
            let skip = self.held_slot == Some(slot)
                || self.told_links.values().any(|t| t.slot == Some(slot))
                || self
                    .slot_id(slot)
                    .is_some_and(|id| self.has_link_to(&id) || self.peers.contains_key(&id));
            if !skip && let Some(id) = self.slot_id(slot) {
                self.rendezvous = Rendezvous::AwaitingClaim { slot };
                self.outputs.push_back(MeshOutput::ClaimSlot { slot, id });
                return;
            }
            slot += 1;
        }
        self.rest(now);
    }

    fn rest(&mut self, now: Instant) {
        self.bridging = false;
        // Fewer links than the low bound: the page may be cut off from most of the room, and
        // the slot holders are how it finds the rest again.
        let interval = if self.connected_count() < usize::from(self.config.degree.low) {
            RESCAN_INTERVAL
        } else {
            RESCAN_INTERVAL_CONNECTED
        };
        self.rendezvous = Rendezvous::Resting {
            until: now + interval,
        };
    }

    fn release(&mut self, slot: u8) {
        if let Some(id) = self.slot_id(slot) {
            self.outputs.push_back(MeshOutput::ReleaseSlot { id });
        }
    }

    fn has_link_to(&self, remote: &PeerId) -> bool {
        self.links
            .values()
            .any(|l| &l.remote == remote || l.peer.as_ref() == Some(remote))
    }

    fn active_count(&self) -> usize {
        self.links.len()
    }

    fn new_link(&mut self, remote: PeerId, found_by: FoundBy) -> LinkId {
        let link = LinkId(self.next_link);
        self.next_link += 1;
        self.links.insert(
            link,
            Link {
                remote,
                peer: None,
                found_by,
                open: false,
                next_hello: None,
            },
        );
        link
    }

    fn dial(&mut self, now: Instant, remote: PeerId, found_by: FoundBy) {
        let cap = usize::from(if self.replacing.contains(&remote) {
            self.config.degree.high
        } else {
            self.config.degree.target
        });
        self.dial_up_to(now, remote, found_by, cap);
    }

    /// Dials `remote` unless the page already has `cap` links or more.
    fn dial_up_to(&mut self, _now: Instant, remote: PeerId, found_by: FoundBy, cap: usize) {
        if remote == self.me || self.has_link_to(&remote) {
            return;
        }
        if self.active_count() >= cap {
            self.replacing.remove(&remote);
            return;
        }
        // A new exchange takes the freshest route, not the way an older one went.
        self.signaled_on.remove(&remote);
        let link = self.new_link(remote.clone(), found_by);
        // A peer whose link was lost keeps its name, and says so, until it is back.
        let earlier = self.peers.get(&remote).map(|p| &p.view);
        let (state, shown_found_by) = match earlier {
            Some(PeerView {
                state: PeerState::Reconnecting(reason),
                found_by: first_found_by,
                ..
            }) => (PeerState::Reconnecting(reason.clone()), *first_found_by),
            _ => (PeerState::Connecting, found_by),
        };
        let view = PeerView {
            id: remote.clone(),
            name: earlier.and_then(|v| v.name.clone()),
            state,
            found_by: shown_found_by,
            link: Some(link),
            peerjs_client: None,
        };
        self.peers.insert(
            remote.clone(),
            PeerEntry {
                view: view.clone(),
                failed_at: None,
            },
        );
        self.outputs.push_back(MeshOutput::PeerChanged(view));
        self.outputs.push_back(MeshOutput::Dial { link, remote });
    }

    fn learn_of(&mut self, now: Instant, peer: PeerId) {
        if peer == self.me || self.has_link_to(&peer) || self.deferred_dials.contains_key(&peer) {
            return;
        }
        let at = self.exchange_dial_at(now, &peer);
        if at <= now {
            self.dial(now, peer, FoundBy::Exchange);
        } else {
            self.defer_dial(peer, at, FoundBy::Exchange);
        }
    }

    /// When we dial `peer` once we know of it: the smaller ID of the pair at once, the larger
    /// after [`EXCHANGE_GRACE`], so that the pair rarely dials twice.
    fn exchange_dial_at(&self, now: Instant, peer: &PeerId) -> Instant {
        if self.me < *peer {
            now
        } else {
            now + EXCHANGE_GRACE
        }
    }

    /// Dials `peer` at `at`, if the queue has room (at most [`MAX_DEFERRED_DIALS`]); peers
    /// from DNS always get a place, taken from a peer some other peer told of.
    fn defer_dial(&mut self, peer: PeerId, at: Instant, found_by: FoundBy) {
        if self.deferred_dials.len() >= MAX_DEFERRED_DIALS
            && !self.deferred_dials.contains_key(&peer)
        {
            let told_of = self
                .deferred_dials
                .iter()
                .filter(|(_, (_, by))| *by == FoundBy::Exchange)
                .max_by_key(|(_, (at, _))| *at)
                .map(|(id, _)| id.clone());
            match told_of {
                Some(victim) if found_by != FoundBy::Exchange => {
                    self.deferred_dials.remove(&victim);
                }
                _ => return,
            }
        }
        self.deferred_dials.insert(peer, (at, found_by));
    }

    fn send(&mut self, link: LinkId, message: MeshMessage) {
        self.outputs.push_back(MeshOutput::Send { link, message });
    }

    fn send_hello(&mut self, link: LinkId, seen: bool) {
        let hello = MeshMessage::Hello {
            id: self.me.to_string(),
            name: self.name.clone(),
            version: message::PROTOCOL_VERSION,
            seen,
            key: None,
            sig: None,
        };
        self.send(link, hello);
    }

    fn handle_hello(
        &mut self,
        now: Instant,
        link: LinkId,
        peer: PeerId,
        name: &str,
        seen: bool,
        version: u8,
    ) {
        if peer == self.me {
            // We reached ourselves through a slot: drop it.
            self.remove_link(link);
            self.outputs.push_back(MeshOutput::Close { link });
            if let Some(slot_entry) = self.slot_entry_of(link) {
                self.peers.remove(&slot_entry);
                self.outputs.push_back(MeshOutput::PeerRemoved(slot_entry));
            }
            return;
        }
        let Some(state) = self.links.get_mut(&link) else {
            return;
        };
        // A link belongs to the peer that introduced itself first: a hello naming anyone
        // else on it is someone speaking as another peer. The link is closed.
        if let Some(introduced) = state.peer.clone()
            && introduced != peer
        {
            self.refuse(
                link,
                &introduced,
                "it introduced itself again as another peer",
            );
            return;
        }
        if seen {
            state.next_hello = None;
        }
        let first_hello = state.peer.is_none();
        let remote = state.remote.clone();
        let found_by = state.found_by;
        // Only a link to a rendezvous slot may turn out to be someone other than the peer it
        // was opened for; any other link that does was signaled by someone who lied.
        if first_hello && remote != peer && found_by != FoundBy::Rendezvous {
            let reason = format!("it was reached as {remote} but is {peer}");
            self.refuse(link, &remote, &reason);
            return;
        }
        let Some(state) = self.links.get_mut(&link) else {
            return;
        };
        state.peer = Some(peer.clone());
        if !seen {
            // Tell them we have theirs, so they stop repeating.
            self.send_hello(link, true);
        }
        if !first_hello {
            return;
        }
        // An introduced link takes part in the room's gossip, if its page speaks ours.
        if version >= message::GOSSIP_VERSION {
            self.gossip.link_up(now, link);
        }

        // A link to a slot was listed under the slot's ID until now.
        if remote != peer
            && let Some(entry) = self.peers.remove(&remote)
        {
            if entry.view.link == Some(link) {
                self.outputs
                    .push_back(MeshOutput::PeerRemoved(remote.clone()));
            } else {
                self.peers.insert(remote, entry);
            }
        }
        self.deferred_dials.remove(&peer);
        self.replacing.remove(&peer);
        let existing = self
            .peers
            .get(&peer)
            .and_then(|p| p.view.link.filter(|l| *l != link))
            .filter(|other| self.links.get(other).is_some_and(|l| l.peer.is_some()));
        if let Some(_kept) = existing {
            // Two links to one peer: the smaller ID keeps the first introduced and closes this.
            if self.me < peer {
                self.remove_link(link);
                self.outputs.push_back(MeshOutput::Close { link });
            }
            return;
        }
        let name = clean_display_name(name);
        let view = PeerView {
            id: peer.clone(),
            name: Some(name),
            state: PeerState::Connected,
            found_by: self
                .peers
                .get(&peer)
                .map(|p| p.view.found_by)
                .unwrap_or(found_by),
            link: Some(link),
            peerjs_client: None,
        };
        self.peers.insert(
            peer.clone(),
            PeerEntry {
                view: view.clone(),
                failed_at: None,
            },
        );
        self.outputs.push_back(MeshOutput::PeerChanged(view));
        self.links_changed = true;
        self.ask_for_files(link, &peer);
        // What went on a link that was lost, and was not confirmed, goes again on this one.
        self.send_unconfirmed(link, &peer);
        if self.next_presence.is_none() && self.config.presence_every.is_some() {
            self.next_presence = Some(now + FIRST_PRESENCE);
        }
        // Exchange: they learn our peers, our peers learn of them.
        let others: Vec<(LinkId, PeerId)> = self
            .peers
            .values()
            .filter(|p| p.view.state == PeerState::Connected && p.view.id != peer)
            .filter_map(|p| p.view.link.map(|l| (l, p.view.id.clone())))
            .collect();
        if !others.is_empty() {
            let ids = others.iter().map(|(_, id)| id.to_string()).collect();
            self.send(link, MeshMessage::Peers { ids });
            for (other, _) in others {
                self.send(
                    other,
                    MeshMessage::Peers {
                        ids: vec![peer.to_string()],
                    },
                );
            }
        }
        if self.introduced_links().len() > usize::from(self.config.degree.high) {
            self.evict(now, &peer);
        }
    }

    /// Makes room for `newcomer`. The longest-connected quarter of our peers stays, and so does a peer
    /// a person linked by invite; of the others, the one connected longest gets our peer list
    /// and its link is closed. Peers arriving in numbers (a few pages opening many links, say)
    /// therefore never push out the peers we had longest, while the rest keeps turning over
    /// so that newcomers find room.
    fn evict(&mut self, _now: Instant, newcomer: &PeerId) {
        let mut connected: Vec<(LinkId, PeerId, FoundBy)> = self
            .peers
            .values()
            .filter(|p| p.view.state == PeerState::Connected && &p.view.id != newcomer)
            .filter_map(|p| p.view.link.map(|l| (l, p.view.id.clone(), p.view.found_by)))
            .collect();
        connected.sort_by_key(|(link, _, _)| *link);
        let long_lived = connected.len() / KEPT_ON_EVICTION;
        let newest = connected
            .into_iter()
            .skip(long_lived)
            .find(|(_, _, found_by)| *found_by != FoundBy::Invite)
            .map(|(link, id, _)| (link, id));
        let Some((link, evicted)) = newest else {
            return;
        };
        let ids = self
            .peers
            .values()
            .filter(|p| p.view.state == PeerState::Connected && p.view.id != evicted)
            .take(message::MAX_PEERS_PER_MESSAGE)
            .map(|p| p.view.id.to_string())
            .collect();
        self.send(link, MeshMessage::Peers { ids });
        self.remove_link(link);
        self.peers.remove(&evicted);
        self.outputs.push_back(MeshOutput::Close { link });
        self.outputs.push_back(MeshOutput::PeerRemoved(evicted));
    }

    /// Closes `link` because its peer broke the protocol (its hello did not prove who it is,
    /// say), and says why.
    pub fn refuse_link(&mut self, link: LinkId, reason: &str) {
        let Some(state) = self.links.get(&link) else {
            return;
        };
        let peer = state.peer.clone().unwrap_or_else(|| state.remote.clone());
        self.refuse(link, &peer, reason);
    }

    /// Closes `peer`'s `link` because it broke the protocol, and forgets the link.
    fn refuse(&mut self, link: LinkId, peer: &PeerId, reason: &str) {
        self.outputs.push_back(MeshOutput::Refused {
            peer: peer.clone(),
            reason: reason.to_owned(),
        });
        self.remove_link(link);
        self.outputs.push_back(MeshOutput::Close { link });
        if !self.switch_to_other_link(peer, link)
            && self
                .peers
                .get(peer)
                .is_some_and(|entry| entry.view.link == Some(link))
        {
            self.peers.remove(peer);
            self.outputs
                .push_back(MeshOutput::PeerRemoved(peer.clone()));
        }
    }

    fn slot_entry_of(&self, link: LinkId) -> Option<PeerId> {
        self.peers
            .iter()
            .find(|(_, p)| p.view.link == Some(link))
            .map(|(id, _)| id.clone())
    }

    /// If `peer` has another introduced link besides `closing`, moves its entry there.
    fn switch_to_other_link(&mut self, peer: &PeerId, closing: LinkId) -> bool {
        let other = self
            .links
            .iter()
            .find(|(id, l)| **id != closing && l.peer.as_ref() == Some(peer))
            .map(|(id, _)| *id);
        match (other, self.peers.get_mut(peer)) {
            (Some(other), Some(entry)) if entry.view.link == Some(closing) => {
                entry.view.link = Some(other);
                self.outputs
                    .push_back(MeshOutput::PeerChanged(entry.view.clone()));
                // What went on the closing link, and was not confirmed, goes on this one.
                self.send_unconfirmed(other, peer);
                true
            }
            (Some(_), Some(_)) => true,
            _ => false,
        }
    }

    fn peer_of(&self, link: LinkId) -> Option<PeerId> {
        self.links.get(&link).and_then(|l| l.peer.clone())
    }

    /// Forgets `link` and everything kept about it: its relay allowance, the routes it
    /// gave, and signaling sent on it.
    fn remove_link(&mut self, link: LinkId) -> Option<Link> {
        self.relay.forget_link(link);
        self.gossip.link_down(link);
        self.routes.retain(|_, via| {
            via.retain(|l| *l != link);
            !via.is_empty()
        });
        self.signaled_on.retain(|_, via| *via != link);
        self.told_links.remove(&link);
        let removed = self.links.remove(&link);
        // Files asked of its peer are asked again when a link to it opens again.
        if let Some(peer) = removed.as_ref().and_then(|l| l.peer.as_ref()) {
            for wanted in self.wanted.values_mut().filter(|w| &w.author == peer) {
                wanted.asked = false;
            }
        }
        if removed.as_ref().is_some_and(|l| l.peer.is_some()) {
            self.links_changed = true;
        }
        self.note_slot_hops();
        removed
    }

    /// Tells every peer we are linked with which peers that is, for their picture of the mesh.
    fn report_links(&mut self, now: Instant) {
        self.links_changed = false;
        let slot_hops = self.slot_hops();
        self.reported_slot_hops = slot_hops;
        self.next_links_report = now + LINKS_REPORT_INTERVAL;
        let links = self.introduced_links();
        let ids: Vec<String> = links
            .iter()
            .filter_map(|l| self.peer_of(*l))
            .take(message::MAX_PEERS_PER_MESSAGE)
            .map(|id| id.to_string())
            .collect();
        for link in links {
            self.send(
                link,
                MeshMessage::Links {
                    ids: ids.clone(),
                    slot: self.held_slot,
                    slot_hops: Some(slot_hops),
                },
            );
        }
    }

    /// A linked peer told us its links: kept, and shown when they changed.
    fn handle_links(
        &mut self,
        now: Instant,
        link: LinkId,
        ids: &[String],
        slot: Option<u8>,
        slot_hops: Option<u8>,
    ) {
        let Some(peer) = self.peer_of(link) else {
            return;
        };
        let slot_hops = slot_hops.unwrap_or(message::MAX_SLOT_HOPS);
        let mut links: Vec<PeerId> = Vec::new();
        for id in ids.iter().filter_map(|id| PeerId::parse(id).ok()) {
            if links.len() == MAX_TOLD_LINKS {
                break;
            }
            if id != self.me && id != peer && !links.contains(&id) {
                links.push(id);
            }
        }
        let changed = self.told_links.get(&link).is_none_or(|t| t.links != links);
        self.told_links.insert(
            link,
            Told {
                links: links.clone(),
                slot,
                slot_hops,
            },
        );
        if changed {
            self.outputs
                .push_back(MeshOutput::Neighbourhood { peer, links });
        }
        self.slot_holders_changed(now);
    }

    /// How many links away the nearest slot holder is: 0 when we hold a slot, one more than
    /// the nearest our links tell of, [`message::MAX_SLOT_HOPS`] when none is known.
    fn slot_hops(&self) -> u8 {
        if self.held_slot.is_some() {
            return 0;
        }
        self.told_links
            .values()
            .map(|t| t.slot_hops.saturating_add(1))
            .min()
            .unwrap_or(u8::MAX)
            .min(message::MAX_SLOT_HOPS)
    }

    /// Whether this page has links but none leads to a slot holder: its part of the room has
    /// split off from the rest.
    fn stranded(&self) -> bool {
        self.config.namespace.is_some()
            && self.started
            && !self.told_links.is_empty()
            && self.slot_hops() == message::MAX_SLOT_HOPS
    }

    /// Our links hear of our distance to the nearest slot holder when it changed.
    fn note_slot_hops(&mut self) {
        if self.slot_hops() != self.reported_slot_hops {
            self.links_changed = true;
        }
    }

    /// After what we know of the slot holders changed: our links hear of it, and a page cut
    /// off from all of them scans the slots soon, at a random moment.
    fn slot_holders_changed(&mut self, now: Instant) {
        self.note_slot_hops();
        let scanned_lately = self
            .stranded_scan_at
            .is_some_and(|at| at + RESCAN_INTERVAL_CONNECTED > now);
        if self.stranded()
            && !scanned_lately
            && let Rendezvous::Resting { until } = self.rendezvous
            && until > now + STRANDED_RESCAN
        {
            let delay = self.random.next_u64() % (STRANDED_RESCAN.as_millis() as u64 + 1);
            self.rendezvous = Rendezvous::Resting {
                until: now + Duration::from_millis(delay),
            };
        }
    }

    fn is_open(&self, link: LinkId) -> bool {
        self.links.get(&link).is_some_and(|l| l.open)
    }

    /// An open link whose peer introduced itself as `peer`.
    fn open_link_to(&self, peer: &PeerId) -> Option<LinkId> {
        self.links
            .iter()
            .find(|(_, l)| l.open && l.peer.as_ref() == Some(peer))
            .map(|(link, _)| *link)
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_signal(
        &mut self,
        now: Instant,
        link: LinkId,
        to: &str,
        from: &str,
        hops: u8,
        nonce: u64,
        body: String,
    ) {
        let (Ok(to), Ok(from)) = (PeerId::parse(to), PeerId::parse(from)) else {
            return;
        };
        let link_peer = self.peer_of(link);
        let signal = relay::Incoming {
            link,
            link_peer: link_peer.as_ref(),
            to: &to,
            from: &from,
            hops,
            nonce,
            body_len: body.len(),
        };
        // Signaling from a peer we signaled must come back the way ours went, or straight
        // from it: whoever else names it as the source is not it.
        let expected = self.signaled_on.get(&from).copied();
        if to == self.me
            && expected.is_some_and(|via| via != link)
            && self.open_link_to(&from) != Some(link)
        {
            self.relay.note_drop(relay::DropReason::ForgedSource);
            return;
        }
        let me = self.me.clone();
        let next = self.open_link_to(&to);
        match self.relay.handle(now, &me, signal, |_| next) {
            relay::Decision::Deliver => {
                // Our answers go back, and its further signaling comes, the way this came.
                if self.signaled_on.len() < MAX_ROUTES || self.signaled_on.contains_key(&from) {
                    self.signaled_on.insert(from.clone(), link);
                }
                self.outputs.push_back(MeshOutput::SignalReceived {
                    from,
                    via: link,
                    body,
                });
            }
            relay::Decision::Forward(next) => self.send(
                next,
                MeshMessage::Signal {
                    to: to.to_string(),
                    from: from.to_string(),
                    hops: hops - 1,
                    nonce,
                    body,
                },
            ),
            relay::Decision::Drop(_) => {}
        }
    }

    fn introduced_links(&self) -> Vec<LinkId> {
        self.peers
            .values()
            .filter(|p| p.view.state == PeerState::Connected)
            .filter_map(|p| p.view.link)
            .collect()
    }

    /// Whether the page has fewer links than its low bound and knows of peers to dial.
    fn needs_links(&self) -> bool {
        self.started
            && self.active_count() < usize::from(self.config.degree.low)
            && !self.routes.is_empty()
    }

    /// Dials peers our links told of, picked at random, until the page has its target of links:
    /// random picks keep the links a random graph, which stays one component as pages come
    /// and go.
    fn repair(&mut self, now: Instant) {
        let target = usize::from(self.config.degree.target);
        self.gone
            .retain(|_, at| now.saturating_since(*at) < GONE_MEMORY);
        let mut candidates: Vec<PeerId> = self
            .routes
            .keys()
            .filter(|peer| {
                !self.has_link_to(peer)
                    && !self.deferred_dials.contains_key(*peer)
                    && !self.peers.contains_key(*peer)
                    && !self.gone.contains_key(*peer)
            })
            .cloned()
            .collect();
        while self.active_count() < target && !candidates.is_empty() {
            let pick = self.random.below(candidates.len());
            let peer = candidates.swap_remove(pick);
            self.dial(now, peer, FoundBy::Exchange);
        }
    }

    /// Remembers that `peer`'s link closed, so that it is not dialed again soon to make up for
    /// few links (at most [`MAX_GONE`]; the oldest are forgotten first).
    fn remember_gone(&mut self, now: Instant, peer: &PeerId) {
        if self.gone.len() >= MAX_GONE
            && !self.gone.contains_key(peer)
            && let Some(oldest) = self
                .gone
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(p, _)| p.clone())
        {
            self.gone.remove(&oldest);
        }
        self.gone.insert(peer.clone(), now);
    }

    /// Turns what the gossip asks into messages on links, room chats and delivery counts.
    fn pump_gossip(&mut self, now: Instant) {
        while let Some(output) = self.gossip.poll_output() {
            match output {
                gossip::GossipOutput::Send { link, message } => {
                    self.send(link, MeshMessage::Gossip { gossip: message });
                }
                gossip::GossipOutput::Deliver { id, payload, .. } => {
                    // The endpoint checked the post's signature before the gossip took it.
                    let Ok(post) = post::read(&payload) else {
                        continue;
                    };
                    let Ok(from) = PeerId::parse(&post.from) else {
                        continue;
                    };
                    if post.gossip_id() != id || from == self.me {
                        continue;
                    }
                    let name = clean_display_name(&post.name);
                    let every = match post.kind {
                        PostKind::Presence { every } => Duration::from_secs(every.into()),
                        PostKind::Chat | PostKind::File { .. } => PRESENCE_EVERY,
                    };
                    match self.roster.heard(now, &from, &name, every) {
                        roster::Heard::Joined | roster::Heard::Renamed => {
                            self.outputs.push_back(MeshOutput::Present {
                                id: from.clone(),
                                name: name.clone(),
                            });
                        }
                        roster::Heard::Replaced(gone) => {
                            self.outputs.push_back(MeshOutput::Absent(gone));
                            self.outputs.push_back(MeshOutput::Present {
                                id: from.clone(),
                                name: name.clone(),
                            });
                        }
                        roster::Heard::Again | roster::Heard::NoRoom => {}
                    }
                    if let PostKind::File {
                        name: file,
                        size,
                        mime,
                    } = post.kind
                    {
                        self.file_announced(FileNotice {
                            id,
                            from,
                            from_name: name,
                            name: file,
                            size,
                            mime,
                            sent_at: post.sent_at,
                        });
                        continue;
                    }
                    if post.kind != PostKind::Chat {
                        continue;
                    }
                    self.outputs
                        .push_back(MeshOutput::ChatReceived(ReceivedChat {
                            id,
                            from,
                            from_name: Some(name),
                            text: post.text,
                            sent_at: post.sent_at,
                            direct: false,
                        }));
                }
                gossip::GossipOutput::Delivered { id, pages } => {
                    let pages = usize::try_from(pages).unwrap_or(usize::MAX);
                    match self.room_counts.iter_mut().find(|(known, _)| *known == id) {
                        Some((_, count)) => *count = pages,
                        None => {
                            self.room_counts.push_back((id.clone(), pages));
                            if self.room_counts.len() > ROOM_ESTIMATE_MESSAGES {
                                self.room_counts.pop_front();
                            }
                        }
                    }
                    let presence = id
                        .split_once('/')
                        .is_some_and(|(_, own)| own.starts_with(PRESENCE_ID_PREFIX));
                    if !presence {
                        self.outputs.push_back(MeshOutput::Delivered {
                            id,
                            delivered: pages,
                            recipients: self.room_size().max(pages),
                        });
                    }
                }
            }
        }
    }

    /// Remembers a chat ID; false if it was already known.
    fn remember_chat(&mut self, id: &str) -> bool {
        let (set, order) = &mut self.seen_chats;
        if !set.insert(id.to_owned()) {
            return false;
        }
        order.push_back(id.to_owned());
        if order.len() > SEEN_CHATS
            && let Some(old) = order.pop_front()
        {
            set.remove(&old);
        }
        true
    }
}

/// A seed for a page's random choices, from its ID: pages choose differently, each the same
/// way every time.
fn seed_of(me: &PeerId) -> u64 {
    me.as_str()
        .bytes()
        .fold(0xCBF2_9CE4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3)
        })
}

/// Refuses chat text that is empty or too long.
pub(crate) fn check_chat_text(text: &str) -> Result<(), ChatError> {
    if text.len() > message::MAX_CHAT_BYTES {
        return Err(ChatError::TooLarge { len: text.len() });
    }
    if text.trim().is_empty() {
        return Err(ChatError::Empty);
    }
    Ok(())
}

/// A message or transfer ID as this page keys it: the sender's ID, `/`, and the sender's ID
/// for it (peer IDs have no `/`, so two senders never share one).
fn scoped_id(from: &PeerId, id: &str) -> String {
    format!("{from}/{id}")
}

#[cfg(test)]
mod tests;
