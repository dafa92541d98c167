use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

const LATENCY: Duration = Duration::from_millis(30);

/// Pages joined by links with one latency, every message delivered in time order.
struct Net {
    now: Instant,
    pages: Vec<Gossip>,
    /// Each end of a link, (page, link), to the other end.
    wires: BTreeMap<(usize, LinkId), (usize, LinkId)>,
    next_link: u64,
    /// Messages in flight: when they arrive, at which page, on which link.
    in_flight: Vec<(Instant, usize, LinkId, GossipMessage)>,
    delivered: Vec<Vec<(String, u8)>>,
    counted: Vec<BTreeMap<String, u64>>,
}

impl Net {
    fn new(pages: usize) -> Self {
        Self {
            now: Instant::from_millis(0),
            pages: (0..pages)
                .map(|_| Gossip::new(GossipConfig::default()))
                .collect(),
            wires: BTreeMap::new(),
            next_link: 0,
            in_flight: Vec::new(),
            delivered: vec![Vec::new(); pages],
            counted: vec![BTreeMap::new(); pages],
        }
    }

    fn link(&mut self, a: usize, b: usize) -> (LinkId, LinkId) {
        let (la, lb) = (LinkId(self.next_link), LinkId(self.next_link + 1));
        self.next_link += 2;
        self.wires.insert((a, la), (b, lb));
        self.wires.insert((b, lb), (a, la));
        self.pages[a].link_up(self.now, la);
        self.pages[b].link_up(self.now, lb);
        (la, lb)
    }

    fn unlink(&mut self, a: usize, b: usize) {
        let ends: Vec<_> = self
            .wires
            .iter()
            .filter(|&(&(x, _), &(y, _))| x == a && y == b)
            .map(|(&end, &other)| (end, other))
            .collect();
        for ((x, lx), (y, ly)) in ends {
            self.wires.remove(&(x, lx));
            self.wires.remove(&(y, ly));
            self.pages[x].link_down(lx);
            self.pages[y].link_down(ly);
        }
    }

    fn link_between(&self, a: usize, b: usize) -> LinkId {
        self.wires
            .iter()
            .find(|&(&(x, _), &(y, _))| x == a && y == b)
            .map(|(&(_, l), _)| l)
            .expect("linked")
    }

    fn drain(&mut self, n: usize) {
        while let Some(output) = self.pages[n].poll_output() {
            match output {
                GossipOutput::Send { link, message } => {
                    if let Some(&(other, other_link)) = self.wires.get(&(n, link)) {
                        self.in_flight
                            .push((self.now + LATENCY, other, other_link, message));
                    }
                }
                GossipOutput::Deliver { id, hops, .. } => self.delivered[n].push((id, hops)),
                GossipOutput::Delivered { id, pages } => {
                    self.counted[n].insert(id, pages);
                }
            }
        }
    }

    fn publish(&mut self, n: usize, id: &str) {
        self.pages[n]
            .publish(self.now, id, format!("text of {id}"))
            .unwrap();
        self.drain(n);
    }

    /// Runs until nothing is in flight or due, or `limit` has passed.
    fn run_for(&mut self, limit: Duration) {
        let end = self.now + limit;
        loop {
            for n in 0..self.pages.len() {
                self.drain(n);
            }
            let next_message = self.in_flight.iter().map(|m| m.0).min();
            let next_timer = self.pages.iter().filter_map(Gossip::poll_timeout).min();
            let Some(next) = next_message.into_iter().chain(next_timer).min() else {
                break;
            };
            if next > end {
                break;
            }
            self.now = self.now.max(next);
            let (due, later): (Vec<_>, Vec<_>) = core::mem::take(&mut self.in_flight)
                .into_iter()
                .partition(|m| m.0 <= self.now);
            self.in_flight = later;
            for (_, n, link, message) in due {
                self.pages[n].handle(self.now, link, message);
            }
            for page in &mut self.pages {
                if page.poll_timeout().is_some_and(|t| t <= self.now) {
                    page.handle_timeout(self.now);
                }
            }
        }
        self.now = self.now.max(end);
    }

    fn got(&self, n: usize, id: &str) -> bool {
        self.delivered[n].iter().any(|(got, _)| got == id)
    }
}

#[test]
fn a_message_crosses_a_line_and_its_count_comes_back() {
    let mut net = Net::new(4);
    net.link(0, 1);
    net.link(1, 2);
    net.link(2, 3);
    net.publish(0, "a/1");
    net.run_for(Duration::from_secs(5));
    for n in 1..4 {
        assert_eq!(net.delivered[n], vec![("a/1".to_owned(), (n - 1) as u8)]);
    }
    assert!(
        net.delivered[0].is_empty(),
        "the origin does not deliver its own"
    );
    assert_eq!(net.counted[0].get("a/1"), Some(&3));
}

#[test]
fn a_loop_turns_lazy_and_then_each_page_gets_each_message_once() {
    // A ring of five: the first message goes both ways round and meets itself.
    let mut net = Net::new(5);
    for n in 0..5 {
        net.link(n, (n + 1) % 5);
    }
    net.publish(0, "a/1");
    net.run_for(Duration::from_secs(5));
    let first_duplicates: u64 = net.pages.iter().map(|p| p.stats().duplicates).sum();
    assert!(first_duplicates >= 1, "the ring should carry a copy twice");
    assert!((1..5).all(|n| net.got(n, "a/1")));

    net.publish(0, "a/2");
    net.run_for(Duration::from_secs(5));
    let duplicates: u64 = net.pages.iter().map(|p| p.stats().duplicates).sum();
    assert_eq!(duplicates, first_duplicates, "a tree carries no copies");
    assert!((1..5).all(|n| net.got(n, "a/2")));
    // The lazy link still hears the ID, so it can ask if its tree branch breaks.
    let announced: u64 = net.pages.iter().map(|p| p.stats().ids_announced).sum();
    assert!(announced >= 2);
    assert_eq!(net.counted[0].get("a/2"), Some(&4));
}

#[test]
fn counts_go_up_another_way_when_the_way_they_came_closes() {
    // 0 links to 1 and 2; 1 and 2 link to each other and to 3. The first message reaches 3 on
    // one link and again on the other; then 3's first link closes before its count went up.
    let mut net = Net::new(4);
    net.link(0, 1);
    net.link(0, 2);
    net.link(1, 3);
    net.link(2, 3);
    net.publish(0, "a/1");
    // Both copies reach 3 (one hop each way round), but its count waits for the next round.
    net.run_for(LATENCY * 2 + Duration::from_millis(5));
    assert!(net.got(3, "a/1"));
    let parent = if net.pages[3].seen["a/1"].parent == Some(net.link_between(3, 1)) {
        1
    } else {
        2
    };
    net.unlink(3, parent);
    net.run_for(Duration::from_secs(5));
    assert_eq!(net.counted[0].get("a/1"), Some(&3));
}

#[test]
fn a_broken_branch_is_mended_by_asking() {
    // 0–1–2 and 0–2: after the first message, one of the links into 2 is lazy.
    let mut net = Net::new(3);
    net.link(0, 1);
    net.link(1, 2);
    net.link(0, 2);
    net.publish(0, "a/1");
    net.run_for(Duration::from_secs(5));
    let into_2 = [net.link_between(2, 0), net.link_between(2, 1)];
    let eager: Vec<bool> = into_2.iter().map(|l| net.pages[2].is_eager(*l)).collect();
    assert_eq!(eager.iter().filter(|e| **e).count(), 1, "{eager:?}");
    // Break the eager way in; the message comes the lazy way, asked for.
    if eager[0] {
        net.unlink(0, 2);
    } else {
        net.unlink(1, 2);
    }
    net.publish(0, "a/2");
    net.run_for(Duration::from_secs(5));
    assert!(net.got(2, "a/2"));
    assert_eq!(net.pages[2].stats().ids_wanted, 1);
    let remaining = net
        .wires
        .keys()
        .find(|(n, _)| *n == 2)
        .map(|(_, l)| *l)
        .unwrap();
    assert!(
        net.pages[2].is_eager(remaining),
        "asking makes the link eager again"
    );
}

#[test]
fn the_hop_limit_stops_a_message_and_more_hops_are_refused() {
    let mut net = Net::new(3);
    let (_, l1) = net.link(0, 1);
    net.link(1, 2);
    let max = GossipConfig::default().max_hops;
    net.pages[1].handle(
        net.now,
        l1,
        GossipMessage::Push {
            id: "x/1".into(),
            hops: max,
            payload: "p".into(),
        },
    );
    net.pages[1].handle(
        net.now,
        l1,
        GossipMessage::Push {
            id: "x/2".into(),
            hops: max + 1,
            payload: "p".into(),
        },
    );
    net.run_for(Duration::from_secs(5));
    assert!(net.got(1, "x/1"));
    assert!(!net.got(2, "x/1"), "at the limit it goes no further");
    assert!(!net.got(1, "x/2"));
    assert_eq!(
        net.pages[1].stats().dropped.get(&GossipDrop::TooManyHops),
        Some(&1)
    );
}

#[test]
fn a_flooding_link_gets_no_more_relayed_than_its_allowance() {
    let mut net = Net::new(3);
    let (_, from_flooder) = net.link(0, 1);
    net.link(1, 2);
    let seconds = 10;
    let per_second = 1000;
    for i in 0..seconds * per_second {
        let at = Instant::from_millis(i * 1000 / per_second);
        net.now = at;
        net.pages[1].handle(
            at,
            from_flooder,
            GossipMessage::Push {
                id: format!("flood/{i}"),
                hops: 0,
                payload: "x".repeat(100),
            },
        );
        net.drain(1);
        net.run_for(Duration::ZERO);
    }
    net.run_for(Duration::from_secs(5));
    let allowance = u64::from(PUSH_BURST) + u64::from(PUSHES_PER_SECOND) * seconds;
    let relayed = net.delivered[2].len() as u64;
    assert!(
        relayed <= allowance,
        "relayed {relayed}, allowance {allowance}"
    );
    assert!(
        relayed >= allowance - 2,
        "relayed {relayed}, allowance {allowance}"
    );
    assert_eq!(
        net.pages[1].stats().dropped.get(&GossipDrop::RateLimited),
        Some(&(seconds * per_second - relayed))
    );
}

#[test]
fn publishing_refuses_what_it_cannot_send() {
    let now = Instant::from_millis(0);
    let mut gossip = Gossip::new(GossipConfig::default());
    assert_eq!(
        gossip.publish(now, "", "p".into()),
        Err(PublishError::BadId)
    );
    assert_eq!(
        gossip.publish(now, "a/1", "x".repeat(MAX_PAYLOAD_BYTES + 1)),
        Err(PublishError::TooLarge(MAX_PAYLOAD_BYTES + 1))
    );
    assert_eq!(gossip.publish(now, "a/1", "p".into()), Ok(()));
    assert_eq!(
        gossip.publish(now, "a/1", "p".into()),
        Err(PublishError::Duplicate)
    );
    let sent = (2..100)
        .filter(|i| gossip.publish(now, &format!("a/{i}"), "p".into()).is_ok())
        .count();
    assert_eq!(sent, PUBLISH_BURST as usize - 1);
    assert_eq!(
        gossip.publish(now, "a/x", "p".into()),
        Err(PublishError::TooFast)
    );
    assert!(
        gossip
            .publish(now + Duration::from_secs(1), "a/y", "p".into())
            .is_ok()
    );
}

#[test]
fn announcements_of_many_ids_fill_nothing_past_its_bound() {
    let mut gossip = Gossip::new(GossipConfig::default());
    let link = LinkId(1);
    let mut now = Instant::from_millis(0);
    gossip.link_up(now, link);
    for round in 0..200 {
        now = now + Duration::from_millis(100);
        let ids = (0..MAX_IDS_PER_MESSAGE)
            .map(|i| format!("x/{round}-{i}"))
            .collect();
        gossip.handle(now, link, GossipMessage::IHave { ids });
        assert!(gossip.missing.len() <= MAX_MISSING);
    }
    assert_eq!(gossip.missing.len(), MAX_MISSING);
    // Nobody sends them: they are asked for once each, then given up.
    gossip.handle_timeout(now + MISSING_TTL + MISSING_TTL);
    assert!(gossip.missing.is_empty());
}

#[test]
fn kept_messages_stay_within_their_bytes() {
    let mut gossip = Gossip::new(GossipConfig::default());
    let link = LinkId(1);
    let now = Instant::from_millis(0);
    gossip.link_up(now, link);
    for i in 0..400u64 {
        let at = now + Duration::from_millis(i * 100);
        gossip.handle(
            at,
            link,
            GossipMessage::Push {
                id: format!("x/{i}"),
                hops: 1,
                payload: "y".repeat(MAX_PAYLOAD_BYTES),
            },
        );
        while gossip.poll_output().is_some() {}
        assert!(gossip.cache_bytes <= MAX_CACHED_BYTES);
    }
    assert!(gossip.seen.len() <= MAX_SEEN);
}

#[test]
fn a_closed_link_gets_nothing_more() {
    let mut net = Net::new(2);
    let (l0, _) = net.link(0, 1);
    net.pages[0].link_down(l0);
    net.publish(0, "a/1");
    net.run_for(Duration::from_secs(2));
    assert!(!net.got(1, "a/1"));
    net.pages[0].handle(net.now, l0, GossipMessage::Prune);
    assert_eq!(
        net.pages[0].stats().dropped.get(&GossipDrop::UnknownLink),
        Some(&1)
    );
}

#[test]
fn the_wire_form_is_tagged_json() {
    let push = GossipMessage::Push {
        id: "a/1".into(),
        hops: 2,
        payload: "hi".into(),
    };
    assert_eq!(
        serde_json::to_string(&push).unwrap(),
        r#"{"type":"push","id":"a/1","hops":2,"payload":"hi"}"#
    );
    let counts = GossipMessage::Counts {
        counts: vec![("a/1".into(), 3)],
    };
    assert_eq!(
        serde_json::to_string(&counts).unwrap(),
        r#"{"type":"counts","counts":[["a/1",3]]}"#
    );
}

fn arbitrary_id() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-c]/[0-9]{1,2}",
        1 => "[a-z0-9/]{0,170}",
    ]
}

fn arbitrary_message() -> impl Strategy<Value = GossipMessage> {
    let id = arbitrary_id;
    prop_oneof![
        (id(), any::<u8>(), ".{0,64}").prop_map(|(id, hops, payload)| GossipMessage::Push {
            id,
            hops,
            payload
        }),
        proptest::collection::vec(id(), 0..70).prop_map(|ids| GossipMessage::IHave { ids }),
        proptest::collection::vec(id(), 0..70).prop_map(|ids| GossipMessage::IWant { ids }),
        Just(GossipMessage::Prune),
        proptest::collection::vec((id(), any::<u32>()), 0..70)
            .prop_map(|counts| GossipMessage::Counts { counts }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn valid_messages_round_trip(message in arbitrary_message()) {
        let json = serde_json::to_string(&message).unwrap();
        let back: GossipMessage = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &message);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(message) = serde_json::from_slice::<GossipMessage>(&bytes) {
            let _ = message.validate();
        }
    }

    /// Whatever a peer sends, in whatever order, nothing panics and every collection keeps
    /// to its bound.
    #[test]
    fn any_input_keeps_every_bound(
        inputs in proptest::collection::vec((0u64..3, arbitrary_message(), 0u64..2_000), 0..100)
    ) {
        let mut gossip = Gossip::new(GossipConfig::default());
        let mut now = Instant::from_millis(0);
        for link in 0..3 {
            gossip.link_up(now, LinkId(link));
        }
        for (link, message, wait) in inputs {
            now = now + Duration::from_millis(wait);
            if message.validate().is_ok() {
                gossip.handle(now, LinkId(link), message);
            }
            if gossip.poll_timeout().is_some_and(|t| t <= now) {
                gossip.handle_timeout(now);
            }
            while gossip.poll_output().is_some() {}
            prop_assert!(gossip.seen.len() <= MAX_SEEN);
            prop_assert!(gossip.missing.len() <= MAX_MISSING);
            prop_assert!(gossip.cache_bytes <= MAX_CACHED_BYTES);
            prop_assert!(gossip.pending_counts <= MAX_PENDING_COUNTS);
            prop_assert!(gossip.links.values().all(|l| l.announce.len() <= MAX_PENDING_ANNOUNCE));
        }
    }
}
