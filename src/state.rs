//! The page's reactive state, and the one place where network events enter it.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender};
use leptos::prelude::*;
use leptos::task::spawn_local;
use seedmesh_core::PeerId;
use seedmesh_core::call::{CallState, CallView};
use seedmesh_core::discovery::DiscoveryReport;
use seedmesh_core::endpoint::{Event, SignalingCounts};
use seedmesh_core::identity::{Identity, NameBook, NameCheck};
use seedmesh_core::mesh::{FoundBy, PeerState, PeerView};
use seedmesh_core::path::Path;
use seedmesh_core::signaling::Serialization;
use serde::{Deserialize, Serialize};

use crate::identity;
use seedmesh_web::node::NodeEvent;

use crate::network::{Command, NetEvent, ServerView, SignalingView};
use crate::storage::Shared;

/// How many messages the history keeps.
const HISTORY_LEN: usize = 500;
/// Where the names peers went by are kept, to point out a known name with another key.
const NAME_BOOK_KEY: &str = "seedmesh.names";

thread_local! {
    /// The names peers went by, read from storage when first needed.
    static NAME_BOOK: std::cell::RefCell<Option<NameBook>> = const { std::cell::RefCell::new(None) };
}

/// How many refused-peer warnings the peer list keeps.
pub const MAX_WARNINGS: usize = 5;

/// How many bytes of received files the page keeps to download; older ones are let go.
pub const MAX_KEPT_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// How many ended calls stay on show until dismissed.
pub const MAX_ENDED_CALLS: usize = 3;

/// The media of one call, to play.
#[derive(Debug, Clone, Default)]
pub struct CallMedia {
    /// Our camera and microphone.
    pub local: Option<web_sys::MediaStream>,
    /// The other side's.
    pub remote: Option<web_sys::MediaStream>,
}

/// What every chat history key starts with.
pub const HISTORY_PREFIX: &str = "seedmesh.history.";

/// Where the chat history of the peer `id` is kept. Each identity has its own, so a page
/// never shows what another tab wrote as its own.
#[must_use]
pub fn history_key(id: &PeerId) -> String {
    format!("{HISTORY_PREFIX}{id}")
}

/// Discovery as the status panel shows it.
#[derive(Debug, Clone, Default)]
pub enum DiscoveryView {
    /// Looking the seed domain up.
    #[default]
    Resolving,
    /// No seed domain is set.
    NoDomain,
    /// Done.
    Done {
        /// The lookup's report.
        report: Box<DiscoveryReport>,
        /// Whether the page fell back to its built-in defaults.
        fallback: bool,
    },
}

/// Where the invite this page made stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteView {
    /// None made yet.
    None,
    /// Gathering this page's addresses for it.
    Making,
    /// Open, with this text: it goes to another page, and that page's answer comes back.
    Open(String),
    /// Open, but the answer given was refused for this reason.
    Refused {
        /// The invite's text.
        text: String,
        /// Why the answer was refused.
        reason: String,
    },
    /// Answered by this peer: the connection is opening.
    Answered(PeerId),
    /// No invite: why.
    Failed(String),
}

/// Where the answer to an invite this page was opened with stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyView {
    /// The page was not opened with an invite.
    None,
    /// Making the answer.
    Answering,
    /// The answer's text, to carry back to the inviting page.
    Ready(String),
    /// No answer, or the invite ended: why.
    Failed(String),
}

/// Where an answer this page was opened with went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandoffView {
    /// The page was not opened with an answer.
    None,
    /// Offering it to the other tabs of this browser.
    Handing,
    /// The tab that made the invite took it.
    Taken,
    /// No tab took it: this text goes to the inviting page by hand.
    NotTaken(String),
}

/// One peer in the list.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerRow {
    /// Its ID.
    pub id: PeerId,
    /// The name it gave.
    pub name: Option<String>,
    /// Where the connection stands.
    pub state: PeerState,
    /// How it was found.
    pub found_by: FoundBy,
    /// The last round trip measured.
    pub rtt: Option<Duration>,
    /// How the bytes travel: direct, through NAT or relayed.
    pub path: Option<Path>,
    /// Whether the link was signaled through the mesh rather than a PeerServer.
    pub through_mesh: bool,
    /// Another peer (another key) that went by this name before, if any.
    pub same_name_as: Option<PeerId>,
    /// For a plain PeerJS client, the serialization it speaks (its ID is unproven).
    pub peerjs_client: Option<Serialization>,
}

/// One chat message, ours or someone's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLine {
    /// The message ID.
    pub id: String,
    /// The sender; `None` for our own messages.
    pub from: Option<String>,
    /// The sender's name.
    pub from_name: Option<String>,
    /// The addressee of our direct message, or `Some("")` for a direct message to us.
    pub direct: Option<String>,
    /// The text.
    pub text: String,
    /// When it was written, in ms since the Unix epoch.
    pub sent_at: u64,
    /// For ours: how many pages it went to.
    pub recipients: usize,
    /// For ours: how many plain PeerJS clients it went to as well (they confirm nothing).
    #[serde(default)]
    pub clients: usize,
    /// For ours: how many confirmed it.
    pub delivered: usize,
    /// For our direct message: why it was given up on, if it was.
    #[serde(default)]
    pub undelivered: Option<String>,
    /// The file, if this line is a file transfer.
    #[serde(default)]
    pub file: Option<FileLine>,
}

/// What an unconfirmed direct message of ours says once the page was loaded again.
pub const UNCONFIRMED_AT_RELOAD: &str =
    "not confirmed before this page was reloaded; send it again if it matters";

impl ChatLine {
    /// Whether this is a direct message of ours, sent to a peer that has not confirmed it yet
    /// and not given up on.
    #[must_use]
    pub fn awaits_confirmation(&self) -> bool {
        self.from.is_none()
            && self.direct.is_some()
            && self.file.is_none()
            && self.recipients > 0
            && self.delivered == 0
            && self.undelivered.is_none()
    }
}

/// A file transfer in the chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileLine {
    /// The file's name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Bytes sent or received so far.
    pub done: u64,
    /// A download link once it arrived; not kept across reloads.
    #[serde(skip)]
    pub url: Option<String>,
    /// Why it failed, if it did.
    #[serde(default)]
    pub failed: Option<String>,
    /// Shared with the room by a page past our links: it comes when asked for.
    #[serde(default)]
    pub on_request: bool,
    /// We asked its author for it.
    #[serde(default)]
    pub asked: bool,
}

/// The page's state: signals the components read, and the way to give the network commands.
#[derive(Clone, Copy)]
pub struct AppState {
    /// The invite this page made, if any.
    pub invite: RwSignal<InviteView>,
    /// The answer to an invite this page was opened with, if any.
    pub reply: RwSignal<ReplyView>,
    /// The answer this page was opened with, on its way to the tab that made the invite.
    pub handoff: RwSignal<HandoffView>,
    /// Discovery.
    pub discovery: RwSignal<DiscoveryView>,
    /// Signaling.
    pub signaling: RwSignal<SignalingView>,
    /// Every signaling server in the records and its state.
    pub servers: RwSignal<Vec<ServerView>>,
    /// Signaling through the mesh so far.
    pub mesh_signaling: RwSignal<SignalingCounts>,
    /// The rendezvous slot we hold.
    pub slot: RwSignal<Option<PeerId>>,
    /// Known peers by ID.
    pub peers: RwSignal<BTreeMap<PeerId, PeerRow>>,
    /// What each connected peer told of its own links.
    pub neighbourhood: RwSignal<BTreeMap<PeerId, Vec<PeerId>>>,
    /// The pages heard from in the room by gossip, linked or not, and their names.
    pub room: RwSignal<BTreeMap<PeerId, String>>,
    /// The chat, oldest first.
    pub messages: RwSignal<Vec<ChatLine>>,
    /// The last error from sending, shown under the composer.
    pub send_error: RwSignal<Option<String>>,
    /// Peers refused for breaking the protocol, newest last; at most [`MAX_WARNINGS`].
    pub warnings: RwSignal<Vec<String>>,
    /// Our display name.
    pub name: RwSignal<String>,
    /// Who this page is, once it has claimed an identity.
    pub identity: RwSignal<Option<Identity>>,
    /// Calls, oldest first: ringing, in progress, and the last few that ended.
    pub calls: RwSignal<Vec<CallView>>,
    /// Each call's media, by call ID (browser objects: this page's thread only).
    pub call_media: RwSignal<BTreeMap<String, CallMedia>, LocalStorage>,
    /// Why the last call could not be made or changed.
    pub call_error: RwSignal<Option<String>>,
    commands: StoredValue<Option<UnboundedSender<Command>>>,
}

impl Default for AppState {
    fn default() -> Self {
        Self::new()
    }
}

impl AppState {
    /// Empty state, before the page knows who it is.
    #[must_use]
    pub fn new() -> Self {
        Self {
            invite: RwSignal::new(InviteView::None),
            reply: RwSignal::new(ReplyView::None),
            handoff: RwSignal::new(HandoffView::None),
            discovery: RwSignal::new(DiscoveryView::Resolving),
            signaling: RwSignal::new(SignalingView::Waiting),
            servers: RwSignal::new(Vec::new()),
            mesh_signaling: RwSignal::new(SignalingCounts::default()),
            slot: RwSignal::new(None),
            peers: RwSignal::new(BTreeMap::new()),
            neighbourhood: RwSignal::new(BTreeMap::new()),
            room: RwSignal::new(BTreeMap::new()),
            messages: RwSignal::new(Vec::new()),
            send_error: RwSignal::new(None),
            warnings: RwSignal::new(Vec::new()),
            name: RwSignal::new(String::new()),
            identity: RwSignal::new(None),
            calls: RwSignal::new(Vec::new()),
            call_media: RwSignal::new_local(BTreeMap::new()),
            call_error: RwSignal::new(None),
            commands: StoredValue::new(None),
        }
    }

    /// This page goes by `identity`: its name, and its own chat history from earlier visits.
    pub fn set_identity(self, identity: &Identity) {
        self.name.set(identity.name.clone());
        let mut messages: Vec<ChatLine> =
            Shared.load(&history_key(&identity.id)).unwrap_or_default();
        // What was being asked for before the page loaded again is not any more.
        for file in messages.iter_mut().filter_map(|m| m.file.as_mut()) {
            if file.on_request && file.url.is_none() {
                file.asked = false;
            }
        }
        // A direct message of ours that waited for its peer's confirmation waits no more: the
        // page that would have sent it again is gone.
        for line in messages.iter_mut().filter(|m| m.awaits_confirmation()) {
            line.undelivered = Some(UNCONFIRMED_AT_RELOAD.to_owned());
        }
        self.messages.set(messages);
        self.identity.set(Some(identity.clone()));
    }

    /// Changes our display name, here, in storage and for the peers.
    pub fn rename(self, name: String) {
        self.name.set(name.clone());
        self.identity.update(|identity| {
            if let Some(identity) = identity {
                identity.name.clone_from(&name);
                identity::remember(identity);
            }
        });
        self.command(Command::Rename(name));
    }

    /// Connects the state to a running network: its events update the signals here, and
    /// [`AppState::command`] reaches it.
    pub fn connect(
        self,
        mut events: UnboundedReceiver<NetEvent>,
        commands: UnboundedSender<Command>,
    ) {
        self.commands.set_value(Some(commands));
        spawn_local(async move {
            while let Some(event) = events.next().await {
                self.apply(event);
            }
        });
    }

    /// How many peers are connected now (tracked: a closure calling it re-runs on change).
    #[must_use]
    pub fn connected_count(self) -> usize {
        self.peers.with(|peers| {
            peers
                .values()
                .filter(|p| p.state == PeerState::Connected)
                .count()
        })
    }

    /// How many peers are connected now or forming a lost link again (tracked): the page
    /// is not alone while one is.
    #[must_use]
    pub fn met_count(self) -> usize {
        self.peers.with(|peers| {
            peers
                .values()
                .filter(|p| matches!(p.state, PeerState::Connected | PeerState::Reconnecting(_)))
                .count()
        })
    }

    /// The IDs of the peers connected now (tracked).
    #[must_use]
    pub fn linked_ids(self) -> Vec<PeerId> {
        self.peers.with(|peers| {
            peers
                .values()
                .filter(|p| p.state == PeerState::Connected)
                .map(|p| p.id.clone())
                .collect()
        })
    }

    /// Gives the network a command.
    pub fn command(&self, command: Command) {
        self.commands.with_value(|commands| {
            if let Some(commands) = commands {
                let _ = commands.unbounded_send(command);
            }
        });
    }

    fn apply(self, event: NetEvent) {
        match event {
            NetEvent::Node(event) => self.apply_node(event),
            NetEvent::Discovered { report, fallback } => {
                self.discovery.set(DiscoveryView::Done { report, fallback });
            }
            NetEvent::NoSeedDomain => self.discovery.set(DiscoveryView::NoDomain),
            NetEvent::Signaling(view) => self.signaling.set(view),
            NetEvent::Servers(servers) => self.servers.set(servers),
            NetEvent::IdReplaced(identity) => {
                if let Some(old) = self.identity.get_untracked() {
                    spawn_local(identity::replace(old, identity.clone()));
                }
                self.identity.set(Some(identity));
            }
        }
    }

    /// What the node reports, besides where signaling stands.
    fn apply_node(self, event: NodeEvent) {
        match event {
            NodeEvent::Mesh(event) => self.apply_mesh(event),
            NodeEvent::Path {
                peer,
                rtt,
                path,
                through_mesh,
            } => self.peers.update(|peers| {
                // A reading that was under way when the link was lost is stale.
                if let Some(row) = peers.get_mut(&peer)
                    && row.state == PeerState::Connected
                {
                    row.rtt = rtt;
                    row.path = path;
                    row.through_mesh = through_mesh;
                }
            }),
            NodeEvent::Sent {
                id,
                text,
                to,
                recipients,
                clients,
                sent_at,
            } => {
                self.send_error.set(None);
                self.push_message(ChatLine {
                    id,
                    from: None,
                    from_name: None,
                    direct: to.map(|p| p.to_string()),
                    text,
                    sent_at,
                    recipients,
                    clients,
                    delivered: 0,
                    undelivered: None,
                    file: None,
                });
            }
            NodeEvent::FileSent {
                id,
                name,
                size,
                to,
                recipients,
                clients,
                sent_at,
            } => self.push_message(ChatLine {
                id,
                from: None,
                from_name: None,
                direct: to.map(|p| p.to_string()),
                text: String::new(),
                sent_at,
                recipients,
                clients,
                delivered: 0,
                undelivered: None,
                file: Some(FileLine {
                    name,
                    size,
                    done: 0,
                    url: None,
                    failed: None,
                    on_request: false,
                    asked: false,
                }),
            }),
            NodeEvent::SendFailed(reason) => self.send_error.set(Some(reason)),
            NodeEvent::InviteMade(Ok(text)) => self.invite.set(InviteView::Open(text)),
            NodeEvent::InviteMade(Err(reason)) => self.invite.set(InviteView::Failed(reason)),
            NodeEvent::AnswerTaken(Ok(peer)) => {
                crate::handoff::announce_taken(&peer);
                self.invite.set(InviteView::Answered(peer));
            }
            NodeEvent::AnswerTaken(Err(reason)) => self.invite.update(|invite| {
                if let InviteView::Open(text) | InviteView::Refused { text, .. } = invite {
                    *invite = InviteView::Refused {
                        text: std::mem::take(text),
                        reason,
                    };
                }
            }),
            NodeEvent::InviteAnswered(Ok(text)) => self.reply.set(ReplyView::Ready(text)),
            NodeEvent::InviteAnswered(Err(reason)) => self.reply.set(ReplyView::Failed(reason)),
            NodeEvent::InviteEnded { ours: true, reason } => {
                self.invite.set(InviteView::Failed(format!(
                    "the invite ended before its answer came back ({reason}); make a new one, \
                     and bring its answer back within a minute or so"
                )));
            }
            NodeEvent::CallFailed(reason) => self.call_error.set(Some(reason)),
            NodeEvent::LocalMedia { id, stream } => self.call_media.update(|media| {
                media.entry(id).or_default().local = Some(stream);
            }),
            NodeEvent::RemoteMedia { id, stream } => self.call_media.update(|media| {
                media.entry(id).or_default().remote = Some(stream);
            }),
            NodeEvent::InviteEnded {
                ours: false,
                reason,
            } => {
                self.reply.set(ReplyView::Failed(format!(
                    "the invite ended before the inviting page took this answer ({reason}); \
                     ask for a new invite"
                )));
            }
            _ => {}
        }
    }

    /// What the mesh reports: peers, chat, files, delivery, rendezvous, signaling counts.
    fn apply_mesh(self, event: Event) {
        match event {
            Event::Signaling(view) => self.mesh_signaling.set(view),
            Event::Slot(slot) => self.slot.set(slot),
            Event::Neighbourhood { peer, links } => self.neighbourhood.update(|told| {
                told.insert(peer, links);
            }),
            Event::Present { id, name } => self.room.update(|room| {
                room.insert(id, name);
            }),
            Event::Absent(id) => self.room.update(|room| {
                room.remove(&id);
            }),
            Event::Call(view) => self.update_call(view),
            Event::Peer(view) => {
                if view.state != PeerState::Connected {
                    self.forget_neighbourhood(&view.id);
                }
                self.update_peer(view);
            }
            Event::PeerRemoved(id) => {
                self.forget_neighbourhood(&id);
                self.peers.update(|peers| {
                    peers.remove(&id);
                });
            }
            // A message sent again after its confirmation was lost is shown once, also
            // across a reload here.
            Event::Chat(chat) if self.has_message(&chat.id) => {}
            Event::Chat(chat) => self.push_message(ChatLine {
                id: chat.id,
                from: Some(chat.from.to_string()),
                from_name: chat.from_name,
                direct: chat.direct.then(String::new),
                text: chat.text,
                sent_at: chat.sent_at,
                recipients: 0,
                clients: 0,
                delivered: 0,
                undelivered: None,
                file: None,
            }),
            Event::FileAnnounced(notice) => {
                if !self.has_message(&notice.id) {
                    self.push_message(ChatLine {
                        id: notice.id,
                        from: Some(notice.from.to_string()),
                        from_name: Some(notice.from_name),
                        direct: None,
                        text: String::new(),
                        sent_at: notice.sent_at,
                        recipients: 0,
                        clients: 0,
                        delivered: 0,
                        undelivered: None,
                        file: Some(FileLine {
                            name: notice.name,
                            size: notice.size,
                            done: 0,
                            url: None,
                            failed: None,
                            on_request: true,
                            asked: false,
                        }),
                    });
                }
            }
            // A file we heard of by gossip, now coming: its line shows the progress.
            Event::FileOffered(offer) if self.has_message(&offer.id) => {
                self.update_file(&offer.id, |file| {
                    file.on_request = false;
                    file.failed = None;
                });
            }
            Event::FileOffered(offer) => self.push_message(ChatLine {
                id: offer.id,
                from: Some(offer.from.to_string()),
                from_name: offer.from_name,
                direct: offer.direct.then(String::new),
                text: String::new(),
                sent_at: offer.sent_at,
                recipients: 0,
                clients: 0,
                delivered: 0,
                undelivered: None,
                file: Some(FileLine {
                    name: offer.name,
                    size: offer.size,
                    done: 0,
                    url: None,
                    failed: None,
                    on_request: false,
                    asked: false,
                }),
            }),
            Event::FileProgress { id, done } => self.update_file(&id, |file| {
                file.done = file.done.max(done);
            }),
            // The sender's media type is not trusted: an HTML file opened from here would run
            // in this page's origin. Every received file downloads as plain bytes.
            Event::FileReceived { id, bytes, .. } => {
                let url = download_url(&bytes);
                self.update_file(&id, |file| {
                    file.done = file.size;
                    file.url = url;
                });
                self.let_go_of_old_files();
                self.save_history();
            }
            Event::FileFailed { id, reason } => match id {
                Some(id) => self.update_file(&id, |file| file.failed = Some(reason)),
                None => self.send_error.set(Some(reason)),
            },
            Event::Refused { peer, reason } => {
                self.warn(format!("Closed the link to {peer}: {reason}."));
            }
            Event::Ignored { peer, reason } => {
                self.warn(format!("Ignored a message from {peer}: {reason}."));
            }
            Event::Delivered { id, delivered } => {
                self.update_line(&id, |line| {
                    line.delivered = delivered;
                    // A confirmation that came after the message was given up on.
                    line.undelivered = None;
                });
                self.save_history();
            }
            Event::Undelivered { id, reason } => {
                self.update_line(&id, |line| line.undelivered = Some(reason.to_string()));
                self.save_history();
            }
        }
    }

    /// A peer appeared or changed: its row, with what the earlier row knew of its path.
    fn update_peer(self, view: PeerView) {
        self.peers.update(|peers| {
            let previous = peers.remove(&view.id);
            let same_name_as = view.name.as_deref().and_then(|name| {
                let check = NAME_BOOK.with(|book| {
                    let mut book = book.borrow_mut();
                    let book = book.get_or_insert_with(|| {
                        Shared
                            .load::<NameBook>(NAME_BOOK_KEY)
                            .unwrap_or_default()
                            .restored()
                    });
                    let check = book.check(name, &view.id);
                    Shared.save(NAME_BOOK_KEY, &*book);
                    check
                });
                match check {
                    NameCheck::SameNameAs(other) => Some(other),
                    NameCheck::Fine => None,
                }
            });
            // A row that is not connected has no path, and no round trip to show.
            let previous = previous.filter(|_| view.state == PeerState::Connected);
            peers.insert(
                view.id.clone(),
                PeerRow {
                    id: view.id,
                    same_name_as,
                    name: view.name,
                    state: view.state,
                    found_by: view.found_by,
                    peerjs_client: view.peerjs_client,
                    rtt: previous.as_ref().and_then(|p| p.rtt),
                    through_mesh: previous.as_ref().is_some_and(|p| p.through_mesh),
                    path: previous.and_then(|p| p.path),
                },
            );
        });
    }

    /// A call appeared or changed: its line, and once it ended, no more media.
    fn update_call(self, view: CallView) {
        if matches!(view.state, CallState::Ended(_)) {
            self.call_media.update(|media| {
                media.remove(&view.id);
            });
        } else {
            self.call_error.set(None);
        }
        self.calls.update(|calls| {
            match calls.iter_mut().find(|c| c.id == view.id) {
                Some(call) => *call = view,
                None => calls.push(view),
            }
            let ended: Vec<String> = calls
                .iter()
                .filter(|c| matches!(c.state, CallState::Ended(_)))
                .map(|c| c.id.clone())
                .collect();
            let excess = ended.len().saturating_sub(MAX_ENDED_CALLS);
            calls.retain(|c| !ended[..excess].contains(&c.id));
        });
    }

    /// Takes an ended call off the page.
    pub fn dismiss_call(self, id: &str) {
        self.calls.update(|calls| calls.retain(|c| c.id != id));
    }

    /// Shows a warning over the peer list, keeping the newest [`MAX_WARNINGS`].
    fn warn(self, warning: String) {
        self.warnings.update(|warnings| {
            warnings.push(warning);
            let excess = warnings.len().saturating_sub(MAX_WARNINGS);
            warnings.drain(..excess);
        });
    }

    /// Forgets what `peer` told of its links, if anything.
    fn forget_neighbourhood(self, peer: &PeerId) {
        self.neighbourhood
            .maybe_update(|told| told.remove(peer).is_some());
    }

    /// Whether the history has a line `id`.
    fn has_message(self, id: &str) -> bool {
        self.messages
            .with_untracked(|messages| messages.iter().rev().any(|m| m.id == id))
    }

    /// Asks the author of the shared file `id` for it.
    pub fn want_file(self, id: String) {
        self.update_file(&id, |file| {
            file.asked = true;
            file.failed = None;
        });
        self.command(Command::WantFile(id));
    }

    fn update_file(self, id: &str, change: impl FnOnce(&mut FileLine)) {
        self.update_line(id, |line| {
            if let Some(file) = line.file.as_mut() {
                change(file);
            }
        });
    }

    /// Changes the newest line with the ID `id`, if there is one.
    fn update_line(self, id: &str, change: impl FnOnce(&mut ChatLine)) {
        self.messages.update(|messages| {
            if let Some(line) = messages.iter_mut().rev().find(|m| m.id == id) {
                change(line);
            }
        });
    }

    /// Keeps the newest [`MAX_KEPT_FILE_BYTES`] of received files to download; the older ones
    /// are let go (their lines say so), so peers cannot fill the page's memory with files.
    fn let_go_of_old_files(self) {
        self.messages.update(|messages| {
            let mut kept = 0u64;
            for file in messages.iter_mut().rev().filter_map(|m| m.file.as_mut()) {
                let Some(url) = &file.url else {
                    continue;
                };
                kept = kept.saturating_add(file.size);
                if kept > MAX_KEPT_FILE_BYTES {
                    let _ = web_sys::Url::revoke_object_url(url);
                    file.url = None;
                    file.failed = Some(format!(
                        "no longer kept: this page keeps the newest {} MiB of received files",
                        MAX_KEPT_FILE_BYTES / (1024 * 1024)
                    ));
                }
            }
        });
    }

    fn push_message(self, line: ChatLine) {
        self.messages.update(|messages| {
            messages.push(line);
            let excess = messages.len().saturating_sub(HISTORY_LEN);
            for gone in messages.drain(..excess) {
                if let Some(url) = gone.file.and_then(|f| f.url) {
                    let _ = web_sys::Url::revoke_object_url(&url);
                }
            }
        });
        self.save_history();
    }

    fn save_history(self) {
        self.identity.with_untracked(|identity| {
            if let Some(identity) = identity {
                let key = history_key(&identity.id);
                self.messages
                    .with_untracked(|messages| Shared.save(&key, messages));
            }
        });
    }
}

/// An object URL for `bytes`, to download them as a file of no particular type; it is
/// revoked when its line leaves the history.
fn download_url(bytes: &[u8]) -> Option<String> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}
