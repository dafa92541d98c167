//! A room of many pages over a simulated network: each page's [`Gossip`] and [`Degree`] driven
//! natively with a virtual clock, seeded latency, loss and churn.
//!
//! This is how the room is planned past what one browser can open: `make test` runs a room of
//! 1,000 pages (the gossip's tests) and `make bench` one of 10,000 (`examples/room_sim.rs`),
//! and both hold the same targets. Everything here is deterministic for a seed.
//!
//! What the network does:
//! - each pair of pages has a one-way latency drawn once from
//!   [`RoomSimConfig::latency`]; a dial takes [`DIAL_LATENCIES`] of them (signaling both ways,
//!   ICE and DTLS);
//! - each message on a link is lost with [`RoomSimConfig::loss_per_million`];
//! - every second, pages leave and as many join (at [`RoomSimConfig::churn_per_mille_per_minute`]
//!   of the room a minute); a page that joins knows [`BOOTSTRAP_PEERS`] pages at random, as the
//!   rendezvous slots would give it.
//!
//! After [`RoomSimConfig::warm_up`], a random page sends a message every
//! [`RoomSimConfig::message_interval`]; the run ends [`RoomSimConfig::settle`] after the last.
//! A message's **reach** is the share of the pages that were there from its sending to the end
//! of the run, and had been for [`SETTLING_TIME`] before it, that got it. (A page that joins
//! gets what is sent after it found its links; nothing replays older messages.)

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};

use core::time::Duration;

use crate::mesh::LinkId;
use crate::mesh::degree::{Degree, DegreeAction, DegreeConfig, Random};
use crate::mesh::gossip::{Gossip, GossipConfig, GossipMessage, GossipOutput};
use crate::peer_id::PeerId;
use crate::time::Instant;

/// How many one-way latencies a dial takes: the offer and answer through a peer in between
/// (four), then ICE and DTLS (two more).
pub const DIAL_LATENCIES: u32 = 6;
/// How long a dial to a page that is gone takes to fail.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// How many pages a joining page knows of.
pub const BOOTSTRAP_PEERS: usize = 3;
/// How often the room's links are inspected (links per page, components).
pub const CHECK_INTERVAL: Duration = Duration::from_secs(10);
/// Pages younger than this are still finding links, and are left out of the component count.
pub const SETTLING_TIME: Duration = Duration::from_secs(10);

/// A simulated room.
#[derive(Debug, Clone)]
pub struct RoomSimConfig {
    /// Pages at the start; churn keeps the room about this size.
    pub peers: usize,
    /// The seed of every random choice.
    pub seed: u64,
    /// The range one-way latencies are drawn from.
    pub latency: (Duration, Duration),
    /// Of every million messages on links, how many are lost.
    pub loss_per_million: u32,
    /// Of every thousand pages, how many leave (and as many join) each minute.
    pub churn_per_mille_per_minute: u32,
    /// How long the room forms before the first message.
    pub warm_up: Duration,
    /// How many messages are sent.
    pub messages: usize,
    /// The time between two messages.
    pub message_interval: Duration,
    /// How long the run goes on after the last message.
    pub settle: Duration,
    /// Each page's bounds on links.
    pub degree: DegreeConfig,
    /// Each page's gossip.
    pub gossip: GossipConfig,
}

impl RoomSimConfig {
    /// The room of the targets: `peers` pages, latency 20–200 ms, churn 5 % a minute, 1 % loss
    /// if `lossy`, one minute to form, 50 messages a second apart.
    #[must_use]
    pub fn targets(peers: usize, lossy: bool, seed: u64) -> Self {
        Self {
            peers,
            seed,
            latency: (Duration::from_millis(20), Duration::from_millis(200)),
            loss_per_million: if lossy { 10_000 } else { 0 },
            churn_per_mille_per_minute: 50,
            warm_up: Duration::from_secs(60),
            messages: 50,
            message_interval: Duration::from_secs(1),
            settle: Duration::from_secs(30),
            degree: DegreeConfig::default(),
            gossip: GossipConfig::default(),
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomSimReport {
    /// Pages at the start.
    pub peers: usize,
    /// Messages sent.
    pub messages: usize,
    /// Pages that joined and left during the run.
    pub joined: usize,
    /// See `joined`.
    pub left: usize,
    /// Reach of each message (see the [module docs](self)), in sending order.
    pub reach: Vec<f64>,
    /// Delivery times of every message to every page that got it, sorted, in ms.
    pub delivery_ms: Vec<u64>,
    /// Whole messages sent on links, per page present and per message.
    pub transmissions_per_peer_per_message: f64,
    /// Announcements, wants, prunes and counts sent, per page present and per message.
    pub control_per_peer_per_message: f64,
    /// Links per settled page at each check: mean, least and most.
    pub links_mean: f64,
    /// See `links_mean`.
    pub links_min: usize,
    /// See `links_mean`.
    pub links_max: usize,
    /// The most components the settled pages formed at any check (one is the target).
    pub components_max: usize,
    /// Checks made.
    pub checks: usize,
    /// The pages' own estimate of their gossip and link memory, mean per page, in bytes.
    pub memory_per_peer: usize,
    /// The most hops any delivered message took.
    pub max_hops: u8,
    /// For each message, the origin's delivery count at the end ÷ the pages that got it.
    pub count_ratio: Vec<f64>,
    /// Events the simulator processed.
    pub events: u64,
}

impl RoomSimReport {
    /// The mean of the messages' reach.
    #[must_use]
    pub fn reach_mean(&self) -> f64 {
        mean(&self.reach)
    }

    /// The lowest reach of any message.
    #[must_use]
    pub fn reach_min(&self) -> f64 {
        self.reach.iter().copied().fold(f64::INFINITY, f64::min)
    }

    /// The delivery time below which `fraction` of deliveries fall, in ms.
    #[must_use]
    pub fn delivery_percentile(&self, fraction: f64) -> u64 {
        percentile(&self.delivery_ms, fraction)
    }
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

fn percentile(sorted: &[u64], fraction: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let index = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[derive(Debug)]
enum Event {
    Gossip {
        to: usize,
        link: LinkId,
        message: GossipMessage,
    },
    Learn {
        to: usize,
        peers: Vec<PeerId>,
    },
    DialArrives {
        dialer: usize,
        peer: usize,
    },
    DialFailed {
        page: usize,
        peer: PeerId,
    },
    Closed {
        page: usize,
        link: LinkId,
    },
    Timer {
        page: usize,
    },
    Churn,
    Publish {
        message: usize,
    },
    Check,
}

struct Page {
    id: PeerId,
    gossip: Gossip,
    degree: Degree,
    alive: bool,
    joined: Instant,
    /// Each of its links to the other end: page and link.
    wires: BTreeMap<LinkId, (usize, LinkId)>,
    /// The earliest wake-up scheduled.
    timer: Option<Instant>,
}

struct Sent {
    at: Instant,
    origin: usize,
    /// When each page got it.
    got: HashMap<usize, Instant>,
    counted: u64,
}

struct Sim<'a> {
    config: &'a RoomSimConfig,
    now: Instant,
    pages: Vec<Page>,
    index: HashMap<PeerId, usize>,
    alive: Vec<usize>,
    queue: BinaryHeap<Reverse<(Instant, u64)>>,
    events: HashMap<u64, Event>,
    sequence: u64,
    next_link: u64,
    random: Random,
    sent: Vec<Sent>,
    message_of: HashMap<String, usize>,
    churn_carry: u64,
    joined: usize,
    left: usize,
    control_sent: u64,
    link_counts: Vec<usize>,
    components_max: usize,
    checks: usize,
    max_hops: u8,
    processed: u64,
}

/// Runs one room and reports what it measured.
#[must_use]
pub fn run(config: &RoomSimConfig) -> RoomSimReport {
    let mut sim = Sim {
        config,
        now: Instant::from_millis(0),
        pages: Vec::new(),
        index: HashMap::new(),
        alive: Vec::new(),
        queue: BinaryHeap::new(),
        events: HashMap::new(),
        sequence: 0,
        next_link: 0,
        random: Random::new(config.seed),
        sent: Vec::new(),
        message_of: HashMap::new(),
        churn_carry: 0,
        joined: 0,
        left: 0,
        control_sent: 0,
        link_counts: Vec::new(),
        components_max: 0,
        checks: 0,
        max_hops: 0,
        processed: 0,
    };
    // The first pages join over the first ten seconds.
    for n in 0..config.peers {
        let at = Duration::from_millis((n as u64 * 10_000) / config.peers.max(1) as u64);
        sim.add_page(Instant::from_millis(0) + at);
    }
    sim.schedule(Instant::from_millis(1_000), Event::Churn);
    sim.schedule(Instant::from_millis(0) + CHECK_INTERVAL, Event::Check);
    for message in 0..config.messages {
        let at = Instant::from_millis(0)
            + config.warm_up
            + config.message_interval * u32::try_from(message).unwrap_or(u32::MAX);
        sim.schedule(at, Event::Publish { message });
    }
    let end = Instant::from_millis(0)
        + config.warm_up
        + config.message_interval * u32::try_from(config.messages).unwrap_or(u32::MAX)
        + config.settle;
    while let Some(Reverse((at, seq))) = sim.queue.pop() {
        if at > end {
            break;
        }
        sim.now = at;
        if let Some(event) = sim.events.remove(&seq) {
            sim.processed += 1;
            sim.apply(event);
        }
    }
    sim.now = end;
    sim.report()
}

impl Sim<'_> {
    fn schedule(&mut self, at: Instant, event: Event) {
        let seq = self.sequence;
        self.sequence += 1;
        self.events.insert(seq, event);
        self.queue.push(Reverse((at, seq)));
    }

    /// The one-way latency between two pages, the same each time.
    fn latency(&self, a: usize, b: usize) -> Duration {
        let (low, high) = self.config.latency;
        let (a, b) = (a.min(b) as u64, a.max(b) as u64);
        let mut mix =
            Random::new(self.config.seed ^ a.wrapping_mul(0x9E37_79B9) ^ b.rotate_left(32));
        let span = high.saturating_sub(low).as_millis() as u64;
        low + Duration::from_millis(mix.next_u64() % (span + 1))
    }

    fn lost(&mut self) -> bool {
        self.config.loss_per_million > 0
            && self.random.below(1_000_000) < self.config.loss_per_million as usize
    }

    fn add_page(&mut self, at: Instant) -> usize {
        let n = self.pages.len();
        let id = PeerId::parse(&format!("p{n}")).expect("a letter and digits make a peer ID");
        let seed = self.random.next_u64();
        self.pages.push(Page {
            id: id.clone(),
            gossip: Gossip::new(self.config.gossip),
            degree: Degree::new(id.clone(), self.config.degree, seed),
            alive: true,
            joined: at,
            wires: BTreeMap::new(),
            timer: None,
        });
        self.index.insert(id, n);
        // It knows a few pages already there, as rendezvous would give it.
        let mut known = Vec::new();
        if !self.alive.is_empty() {
            for _ in 0..BOOTSTRAP_PEERS {
                let pick = self.alive[self.random.below(self.alive.len())];
                known.push(self.pages[pick].id.clone());
            }
        }
        self.alive.push(n);
        self.schedule(
            at,
            Event::Learn {
                to: n,
                peers: known,
            },
        );
        n
    }

    fn remove_page(&mut self, n: usize) {
        let page = &mut self.pages[n];
        page.alive = false;
        let wires = core::mem::take(&mut page.wires);
        for (_, (other, other_link)) in wires {
            let at = self.now + self.latency(n, other);
            self.schedule(
                at,
                Event::Closed {
                    page: other,
                    link: other_link,
                },
            );
        }
        self.alive.retain(|p| *p != n);
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Gossip { to, link, message } => {
                if self.pages[to].alive {
                    let now = self.now;
                    self.pages[to].gossip.handle(now, link, message);
                    self.drain(to);
                }
            }
            Event::Learn { to, peers } => {
                if self.pages[to].alive {
                    let now = self.now;
                    self.pages[to].degree.learn(now, peers);
                    self.drain(to);
                }
            }
            Event::DialArrives { dialer, peer } => self.dial_arrives(dialer, peer),
            Event::DialFailed { page, peer } => {
                if self.pages[page].alive {
                    let now = self.now;
                    self.pages[page].degree.dial_failed(now, &peer);
                    self.drain(page);
                }
            }
            Event::Closed { page, link } => {
                if self.pages[page].alive && self.pages[page].wires.remove(&link).is_some() {
                    let now = self.now;
                    self.pages[page].degree.unlinked(now, link);
                    self.pages[page].gossip.link_down(link);
                    self.drain(page);
                }
            }
            Event::Timer { page } => {
                let now = self.now;
                let p = &mut self.pages[page];
                if p.timer == Some(now) {
                    p.timer = None;
                }
                if !p.alive {
                    return;
                }
                if p.gossip.poll_timeout().is_some_and(|t| t <= now) {
                    p.gossip.handle_timeout(now);
                }
                let actions = p.degree.handle_timeout(now);
                for action in actions {
                    self.act(page, action);
                }
                self.drain(page);
            }
            Event::Churn => {
                let per_minute =
                    self.config.peers as u64 * u64::from(self.config.churn_per_mille_per_minute);
                // Pages leaving this second, in thousandths of a page per minute, carried over.
                self.churn_carry += per_minute;
                let leaving = self.churn_carry / (1000 * 60);
                self.churn_carry %= 1000 * 60;
                for _ in 0..leaving {
                    if self.alive.len() > 1 {
                        let victim = self.alive[self.random.below(self.alive.len())];
                        self.remove_page(victim);
                        self.left += 1;
                    }
                    let now = self.now;
                    self.add_page(now);
                    self.joined += 1;
                }
                let next = self.now + Duration::from_secs(1);
                self.schedule(next, Event::Churn);
            }
            Event::Publish { message } => self.publish(message),
            Event::Check => {
                self.check();
                let next = self.now + CHECK_INTERVAL;
                self.schedule(next, Event::Check);
            }
        }
    }

    fn act(&mut self, page: usize, action: DegreeAction) {
        match action {
            DegreeAction::Dial(peer) => {
                let target = self.index.get(&peer).copied();
                match target {
                    Some(target) if self.pages[target].alive => {
                        let at = self.now + self.latency(page, target) * DIAL_LATENCIES;
                        self.schedule(
                            at,
                            Event::DialArrives {
                                dialer: page,
                                peer: target,
                            },
                        );
                    }
                    _ => {
                        let at = self.now + DIAL_TIMEOUT;
                        self.schedule(at, Event::DialFailed { page, peer });
                    }
                }
            }
            DegreeAction::Close(link) => {
                let Some((other, other_link)) = self.pages[page].wires.remove(&link) else {
                    return;
                };
                let now = self.now;
                let other_id = self.pages[other].id.clone();
                let sample = self.pages[page].degree.sample(&other_id);
                self.pages[page].degree.unlinked(now, link);
                self.pages[page].gossip.link_down(link);
                let at = now + self.latency(page, other);
                if !self.lost() {
                    self.schedule(
                        at,
                        Event::Learn {
                            to: other,
                            peers: sample,
                        },
                    );
                }
                self.schedule(
                    at,
                    Event::Closed {
                        page: other,
                        link: other_link,
                    },
                );
            }
        }
    }

    fn dial_arrives(&mut self, dialer: usize, peer: usize) {
        let now = self.now;
        let peer_id = self.pages[peer].id.clone();
        let dialer_id = self.pages[dialer].id.clone();
        let already = self.pages[dialer]
            .wires
            .values()
            .any(|(other, _)| *other == peer);
        if !self.pages[dialer].alive {
            return;
        }
        if !self.pages[peer].alive || !self.pages[peer].degree.may_accept() || already {
            self.pages[dialer].degree.dial_failed(now, &peer_id);
            self.drain(dialer);
            return;
        }
        let (a, b) = (LinkId(self.next_link), LinkId(self.next_link + 1));
        self.next_link += 2;
        self.pages[dialer].wires.insert(a, (peer, b));
        self.pages[peer].wires.insert(b, (dialer, a));
        for (n, link, other) in [(dialer, a, peer_id), (peer, b, dialer_id)] {
            self.pages[n].degree.linked(now, link, other.clone());
            self.pages[n].gossip.link_up(now, link);
            // Each end tells the other some peers it knows.
            let sample = self.pages[n].degree.sample(&other);
            let to = if n == dialer { peer } else { dialer };
            let at = now + self.latency(dialer, peer);
            if !self.lost() {
                self.schedule(at, Event::Learn { to, peers: sample });
            }
        }
        self.drain(dialer);
        self.drain(peer);
    }

    fn publish(&mut self, message: usize) {
        // A page that has been there a while and has links sends it.
        let settled: Vec<usize> = self
            .alive
            .iter()
            .copied()
            .filter(|n| {
                !self.pages[*n].wires.is_empty()
                    && self.now.saturating_since(self.pages[*n].joined) >= SETTLING_TIME
            })
            .collect();
        if settled.is_empty() {
            return;
        }
        let origin = settled[self.random.below(settled.len())];
        let id = format!("{}/{message}", self.pages[origin].id);
        let now = self.now;
        let payload = format!("room message {message}: {}", "x".repeat(100));
        if self.pages[origin]
            .gossip
            .publish(now, &id, payload)
            .is_err()
        {
            return;
        }
        self.message_of.insert(id, self.sent.len());
        self.sent.push(Sent {
            at: now,
            origin,
            got: HashMap::new(),
            counted: 0,
        });
        self.drain(origin);
    }

    fn drain(&mut self, n: usize) {
        while let Some(output) = self.pages[n].gossip.poll_output() {
            match output {
                GossipOutput::Send { link, message } => {
                    if !matches!(message, GossipMessage::Push { .. }) {
                        self.control_sent += 1;
                    }
                    let Some(&(other, other_link)) = self.pages[n].wires.get(&link) else {
                        continue;
                    };
                    if self.lost() {
                        continue;
                    }
                    let at = self.now + self.latency(n, other);
                    self.schedule(
                        at,
                        Event::Gossip {
                            to: other,
                            link: other_link,
                            message,
                        },
                    );
                }
                GossipOutput::Deliver { id, hops, .. } => {
                    self.max_hops = self.max_hops.max(hops);
                    if let Some(&k) = self.message_of.get(&id) {
                        let now = self.now;
                        self.sent[k].got.entry(n).or_insert(now);
                    }
                }
                GossipOutput::Delivered { id, pages } => {
                    if let Some(&k) = self.message_of.get(&id) {
                        self.sent[k].counted = pages;
                    }
                }
            }
        }
        let page = &self.pages[n];
        let wake = page
            .gossip
            .poll_timeout()
            .into_iter()
            .chain(page.degree.poll_timeout())
            .min();
        if let Some(wake) = wake
            && page.timer.is_none_or(|t| wake < t)
        {
            let at = wake.max(self.now);
            self.pages[n].timer = Some(at);
            self.schedule(at, Event::Timer { page: n });
        }
    }

    fn check(&mut self) {
        self.checks += 1;
        let settled: Vec<usize> = self
            .alive
            .iter()
            .copied()
            .filter(|n| self.now.saturating_since(self.pages[*n].joined) >= SETTLING_TIME)
            .collect();
        for &n in &settled {
            self.link_counts.push(self.pages[n].wires.len());
        }
        let mut component = vec![usize::MAX; self.pages.len()];
        let mut components = 0;
        for &start in &settled {
            if component[start] != usize::MAX {
                continue;
            }
            components += 1;
            let mut queue = VecDeque::from([start]);
            component[start] = components;
            while let Some(n) = queue.pop_front() {
                for &(other, _) in self.pages[n].wires.values() {
                    if component[other] == usize::MAX && self.pages[other].alive {
                        component[other] = components;
                        queue.push_back(other);
                    }
                }
            }
        }
        self.components_max = self.components_max.max(components);
    }

    fn report(&self) -> RoomSimReport {
        let mut reach = Vec::new();
        let mut delivery_ms = Vec::new();
        let mut count_ratio = Vec::new();
        for sent in &self.sent {
            let eligible: Vec<usize> = self
                .alive
                .iter()
                .copied()
                .filter(|n| *n != sent.origin && self.pages[*n].joined + SETTLING_TIME <= sent.at)
                .collect();
            let got = eligible.iter().filter(|n| sent.got.contains_key(n)).count();
            reach.push(if eligible.is_empty() {
                1.0
            } else {
                got as f64 / eligible.len() as f64
            });
            delivery_ms.extend(
                sent.got
                    .values()
                    .map(|at| at.saturating_since(sent.at).as_millis() as u64),
            );
            if !sent.got.is_empty() {
                count_ratio.push(sent.counted as f64 / sent.got.len() as f64);
            }
        }
        delivery_ms.sort_unstable();
        let pushes: u64 = self
            .pages
            .iter()
            .map(|p| p.gossip.stats().pushes_sent)
            .sum();
        let present = self.config.peers.max(1) as f64;
        let messages = self.sent.len().max(1) as f64;
        let memory: usize = self
            .alive
            .iter()
            .map(|n| {
                self.pages[*n].gossip.memory_estimate() + self.pages[*n].degree.memory_estimate()
            })
            .sum();
        let links: Vec<f64> = self.link_counts.iter().map(|c| *c as f64).collect();
        RoomSimReport {
            peers: self.config.peers,
            messages: self.sent.len(),
            joined: self.joined,
            left: self.left,
            reach,
            delivery_ms,
            transmissions_per_peer_per_message: pushes as f64 / present / messages,
            control_per_peer_per_message: self.control_sent as f64 / present / messages,
            links_mean: mean(&links),
            links_min: self.link_counts.iter().copied().min().unwrap_or(0),
            links_max: self.link_counts.iter().copied().max().unwrap_or(0),
            components_max: self.components_max,
            checks: self.checks,
            memory_per_peer: memory / self.alive.len().max(1),
            max_hops: self.max_hops,
            count_ratio,
            events: self.processed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_targets(report: &RoomSimReport, min_reach: f64) {
        println!(
            "room of {}: {} messages, {} joined, {} left; reach mean {:.5}, least {:.5}; \
             delivery median {} ms, p99 {} ms; {:.2} transmissions and {:.2} control messages \
             per page per message; links {:.1} ({}–{}); {} component(s) at most over {} checks; \
             {} B per page; {} hops at most; {} events",
            report.peers,
            report.messages,
            report.joined,
            report.left,
            report.reach_mean(),
            report.reach_min(),
            report.delivery_percentile(0.5),
            report.delivery_percentile(0.99),
            report.transmissions_per_peer_per_message,
            report.control_per_peer_per_message,
            report.links_mean,
            report.links_min,
            report.links_max,
            report.components_max,
            report.checks,
            report.memory_per_peer,
            report.max_hops,
            report.events,
        );
        assert!(report.messages >= 45, "{} messages sent", report.messages);
        assert!(report.joined > 0 && report.left > 0, "churn happened");
        assert!(
            report.reach_min() >= min_reach,
            "a message reached only {:.5} of the room",
            report.reach_min()
        );
        assert!(
            report.transmissions_per_peer_per_message <= 3.0,
            "{:.2} transmissions per page per message",
            report.transmissions_per_peer_per_message
        );
        assert_eq!(report.components_max, 1, "the room split");
        let degree = DegreeConfig::default();
        assert!(report.links_mean >= f64::from(degree.low));
        assert!(report.links_mean <= f64::from(degree.high));
    }

    #[test]
    fn a_room_of_a_thousand_reaches_everyone_without_loss() {
        let report = run(&RoomSimConfig::targets(1_000, false, 1));
        check_targets(&report, 1.0);
    }

    #[test]
    fn a_room_of_a_thousand_reaches_nearly_everyone_at_one_percent_loss() {
        let report = run(&RoomSimConfig::targets(1_000, true, 2));
        check_targets(&report, 0.999);
    }

    #[test]
    fn the_same_seed_gives_the_same_room() {
        let mut config = RoomSimConfig::targets(100, true, 9);
        config.messages = 5;
        config.warm_up = Duration::from_secs(20);
        assert_eq!(run(&config), run(&config));
    }
}
