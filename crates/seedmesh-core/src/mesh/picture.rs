//! The mesh around one page, as a picture: the page in the middle, its links on a ring
//! around it, and the peers those links told of ([`super::MeshOutput::Neighbourhood`]) on a
//! ring further out, each near a peer that told of it.
//!
//! [`Picture::new`] decides what is drawn where, as angles on two rings; the UI only turns
//! angles into points. It draws at most [`MAX_LINKS_SHOWN`] links and
//! [`MAX_OUTER_SHOWN`] peers past them, and says how many more there are.

use std::collections::{BTreeMap, BTreeSet};

use crate::peer_id::PeerId;

/// The most of our own links drawn.
pub const MAX_LINKS_SHOWN: usize = 24;
/// The most peers past our links drawn.
pub const MAX_OUTER_SHOWN: usize = 48;
/// A full turn, in the unit of [`Spot::angle`].
pub const FULL_TURN: u32 = 360_000;
/// The least angle between two peers on the outer ring while there is room: 15°.
const OUTER_GAP: u32 = 15_000;

/// Where a peer is drawn: on which ring, and at what angle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spot {
    /// The peer.
    pub id: PeerId,
    /// Clockwise from the top, in thousandths of a degree (below [`FULL_TURN`]).
    pub angle: u32,
}

/// The picture of the mesh around a page; see the [module docs](self).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Picture {
    /// Our links, on the inner ring, in ID order.
    pub links: Vec<Spot>,
    /// Peers our links told of that we have no link with, on the outer ring.
    pub outer: Vec<Spot>,
    /// Lines between peers drawn: a link's own links, by index into `links` and then `outer`
    /// (index `links.len() + i` is `outer[i]`), lower index first.
    pub lines: Vec<(usize, usize)>,
    /// Links not drawn, past [`MAX_LINKS_SHOWN`].
    pub links_hidden: usize,
    /// Peers past our links not drawn, past [`MAX_OUTER_SHOWN`].
    pub outer_hidden: usize,
}

impl Picture {
    /// The picture for a page whose links are `links` (connected peers) and whose links told
    /// it of their own as `told` (entries for peers not in `links` are left out).
    #[must_use]
    pub fn new(
        me: &PeerId,
        links: &BTreeSet<PeerId>,
        told: &BTreeMap<PeerId, Vec<PeerId>>,
    ) -> Self {
        let shown: Vec<&PeerId> = links.iter().filter(|id| *id != me).collect();
        let links_hidden = shown.len().saturating_sub(MAX_LINKS_SHOWN);
        let shown = &shown[..shown.len() - links_hidden];
        let inner_angle = |i: usize| spread(i, shown.len());
        let index: BTreeMap<&PeerId, usize> =
            shown.iter().enumerate().map(|(i, id)| (*id, i)).collect();

        // Peers past our links, each with the drawn links that told of it, in ring order.
        let mut tellers: BTreeMap<&PeerId, Vec<usize>> = BTreeMap::new();
        let mut chords = BTreeSet::new();
        for (i, link) in shown.iter().enumerate() {
            for other in told.get(*link).into_iter().flatten() {
                if other == me || other == *link {
                    continue;
                }
                if let Some(&j) = index.get(other) {
                    chords.insert((i.min(j), i.max(j)));
                } else if !links.contains(other) {
                    tellers.entry(other).or_default().push(i);
                }
            }
        }
        let mut outer: Vec<(&PeerId, Vec<usize>)> = tellers.into_iter().collect();
        // The best known first: told of by the most links; then near the top of the picture.
        outer.sort_by(|(a, ta), (b, tb)| {
            tb.len()
                .cmp(&ta.len())
                .then(ta[0].cmp(&tb[0]))
                .then(a.cmp(b))
        });
        let outer_hidden = outer.len().saturating_sub(MAX_OUTER_SHOWN);
        outer.truncate(MAX_OUTER_SHOWN);
        // Each sits by the middle one of its tellers, as far as room allows.
        let home = |tellers: &[usize]| inner_angle(tellers[(tellers.len() - 1) / 2]);
        outer.sort_by(|(a, ta), (b, tb)| home(ta).cmp(&home(tb)).then(a.cmp(b)));
        let angles = place(&outer.iter().map(|(_, t)| home(t)).collect::<Vec<_>>());
        let mut lines: Vec<(usize, usize)> = chords.into_iter().collect();
        for (k, (_, told_by)) in outer.iter().enumerate() {
            lines.extend(told_by.iter().map(|&i| (i, shown.len() + k)));
        }
        Self {
            links: shown
                .iter()
                .enumerate()
                .map(|(i, id)| Spot {
                    id: (*id).clone(),
                    angle: inner_angle(i),
                })
                .collect(),
            outer: outer
                .iter()
                .zip(angles)
                .map(|((id, _), angle)| Spot {
                    id: (*id).clone(),
                    angle,
                })
                .collect(),
            lines,
            links_hidden,
            outer_hidden,
        }
    }
}

/// Angles for points that want to be at `homes` (in ascending order): each at its home, or
/// the least gap after the one before; spread evenly from the first when that overruns the
/// turn.
fn place(homes: &[u32]) -> Vec<u32> {
    let Some(&first) = homes.first() else {
        return Vec::new();
    };
    let gap = OUTER_GAP.min(FULL_TURN / homes.len() as u32);
    let mut angles: Vec<u32> = Vec::with_capacity(homes.len());
    for &home in homes {
        let after = angles.last().map_or(home, |last| home.max(last + gap));
        angles.push(after);
    }
    if angles
        .last()
        .is_some_and(|&last| last > first + FULL_TURN - gap)
    {
        return (0..homes.len())
            .map(|k| (first + spread(k, homes.len())) % FULL_TURN)
            .collect();
    }
    angles.into_iter().map(|a| a % FULL_TURN).collect()
}

/// The angle of the `i`th of `n` points spread evenly around a circle.
fn spread(i: usize, n: usize) -> u32 {
    if n == 0 {
        return 0;
    }
    ((i as u64 * u64::from(FULL_TURN)) / n as u64) as u32 % FULL_TURN
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(s: &str) -> PeerId {
        PeerId::parse(s).unwrap()
    }

    fn ids(list: &[&str]) -> Vec<PeerId> {
        list.iter().map(|s| id(s)).collect()
    }

    #[test]
    fn links_go_on_the_inner_ring_and_their_links_outside() {
        let me = id("me");
        let links: BTreeSet<PeerId> = ids(&["a", "b", "c", "d"]).into_iter().collect();
        let told = BTreeMap::from([
            (id("a"), ids(&["me", "b", "x"])),
            (id("b"), ids(&["a", "x", "y"])),
            (id("c"), ids(&["z"])),
            // Not one of our links: left out.
            (id("q"), ids(&["w"])),
        ]);
        let picture = Picture::new(&me, &links, &told);
        let inner: Vec<_> = picture
            .links
            .iter()
            .map(|s| (s.id.as_str(), s.angle))
            .collect();
        assert_eq!(
            inner,
            [("a", 0), ("b", 90_000), ("c", 180_000), ("d", 270_000)]
        );
        let outer: Vec<_> = picture.outer.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(outer, ["x", "y", "z"]);
        // Each sits by the one that told of it (x by a, the first of two).
        let angles: Vec<u32> = picture.outer.iter().map(|s| s.angle).collect();
        assert_eq!(angles, [0, 90_000, 180_000]);
        // a–b (told both ways, drawn once), a–x, b–x, b–y, c–z.
        assert_eq!(picture.lines, [(0, 1), (0, 4), (1, 4), (1, 5), (2, 6)]);
        assert_eq!((picture.links_hidden, picture.outer_hidden), (0, 0));
    }

    #[test]
    fn a_crowd_is_cut_to_the_bounds_and_counted() {
        let me = id("me");
        let links: BTreeSet<PeerId> = (0..30).map(|i| id(&format!("l{i:02}"))).collect();
        let far: Vec<PeerId> = (0..100).map(|i| id(&format!("f{i:03}"))).collect();
        let mut told = BTreeMap::new();
        told.insert(id("l00"), far.clone());
        // f099 is known from two links: it is kept over the ones known from one.
        told.insert(id("l01"), vec![id("f099")]);
        let picture = Picture::new(&me, &links, &told);
        assert_eq!(picture.links.len(), MAX_LINKS_SHOWN);
        assert_eq!(picture.links_hidden, 30 - MAX_LINKS_SHOWN);
        assert_eq!(picture.outer.len(), MAX_OUTER_SHOWN);
        assert_eq!(picture.outer_hidden, 100 - MAX_OUTER_SHOWN);
        assert!(picture.outer.iter().any(|s| s.id.as_str() == "f099"));
    }

    #[test]
    fn peers_wanting_one_place_are_set_apart_and_a_full_ring_is_spread() {
        assert_eq!(place(&[0, 0, 0, 100_000]), [0, 15_000, 30_000, 100_000]);
        assert_eq!(place(&[350_000, 350_000]), [350_000, 5_000]);
        let crowded: Vec<u32> = place(&[90_000; 30]);
        assert_eq!(crowded[0], 90_000);
        assert_eq!(crowded[1], 102_000);
        assert_eq!(crowded[29], 78_000);
    }

    #[test]
    fn nothing_to_draw_is_an_empty_picture() {
        let picture = Picture::new(&id("me"), &BTreeSet::new(), &BTreeMap::new());
        assert_eq!(picture, Picture::default());
    }

    proptest! {
        #[test]
        fn every_picture_is_bounded_and_consistent(
            link_count in 0usize..40,
            told in proptest::collection::vec((0usize..40, proptest::collection::vec(0usize..120, 0..64)), 0..40),
        ) {
            let me = id("p0");
            let name = |i: usize| id(&format!("p{i}"));
            let links: BTreeSet<PeerId> = (0..link_count).map(name).collect();
            let told: BTreeMap<PeerId, Vec<PeerId>> = told
                .into_iter()
                .map(|(teller, ids)| (name(teller), ids.into_iter().map(name).collect()))
                .collect();
            let picture = Picture::new(&me, &links, &told);
            prop_assert!(picture.links.len() <= MAX_LINKS_SHOWN);
            prop_assert!(picture.outer.len() <= MAX_OUTER_SHOWN);
            let drawn = picture.links.len() + picture.outer.len();
            let mut seen = BTreeSet::new();
            for spot in picture.links.iter().chain(&picture.outer) {
                prop_assert!(spot.angle < FULL_TURN);
                prop_assert!(spot.id != me);
                prop_assert!(seen.insert(spot.id.clone()), "{} drawn twice", spot.id);
            }
            for spot in &picture.links {
                prop_assert!(links.contains(&spot.id));
            }
            for spot in &picture.outer {
                prop_assert!(!links.contains(&spot.id));
            }
            for &(a, b) in &picture.lines {
                prop_assert!(a < b && b < drawn);
                prop_assert!(a < picture.links.len(), "a line between two outer peers");
            }
        }
    }
}
