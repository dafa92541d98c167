//! The room simulator at full size, for `make bench`: 10,000 pages (or the first argument),
//! once without loss and once at 1 % loss, with churn, latency 20–200 ms. Prints what it
//! measured and writes it as JSON to the second argument, if given, for the benchmark report.
//!
//! ```text
//! cargo run --release -p seedmesh-core --example room_sim -- 10000 target/bench/room-sim.json
//! ```

use std::time::Instant as WallClock;

use seedmesh_core::sim::{self, RoomSimConfig, RoomSimReport};

fn main() {
    let mut args = std::env::args().skip(1);
    let peers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let out = args.next();
    let mut runs = Vec::new();
    for (lossy, seed) in [(false, 1), (true, 2)] {
        let config = RoomSimConfig::targets(peers, lossy, seed);
        let started = WallClock::now();
        let report = sim::run(&config);
        let seconds = started.elapsed().as_secs_f64();
        println!("{}", summary(&report, lossy, seconds));
        runs.push(json(&config, &report, lossy, seconds));
    }
    if let Some(path) = out {
        let text = format!("[\n{}\n]\n", runs.join(",\n"));
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("cannot write {path}: {e}");
            std::process::exit(1);
        }
    }
}

fn summary(r: &RoomSimReport, lossy: bool, seconds: f64) -> String {
    format!(
        "{} pages, {}: reach mean {:.5}, least {:.5}; delivery median {} ms, p99 {} ms; \
         {:.2} transmissions, {:.2} control messages per page per message; links {:.1} ({}–{}); \
         {} component(s) at most; {} B per page; {} events in {seconds:.1} s",
        r.peers,
        if lossy { "1 % loss" } else { "no loss" },
        r.reach_mean(),
        r.reach_min(),
        r.delivery_percentile(0.5),
        r.delivery_percentile(0.99),
        r.transmissions_per_peer_per_message,
        r.control_per_peer_per_message,
        r.links_mean,
        r.links_min,
        r.links_max,
        r.components_max,
        r.memory_per_peer,
        r.events,
    )
}

fn json(c: &RoomSimConfig, r: &RoomSimReport, lossy: bool, seconds: f64) -> String {
    let mut ratios = r.count_ratio.clone();
    ratios.sort_by(f64::total_cmp);
    let count_median = ratios.get(ratios.len() / 2).copied().unwrap_or(0.0);
    format!(
        r#"  {{"peers": {}, "lossy": {lossy}, "lossPerMillion": {}, "churnPerMillePerMinute": {}, "latencyMs": [{}, {}], "seed": {}, "messages": {}, "joined": {}, "left": {}, "reachMean": {}, "reachMin": {}, "deliveryMedianMs": {}, "deliveryP99Ms": {}, "deliveryMaxMs": {}, "transmissions": {}, "control": {}, "linksMean": {}, "linksMin": {}, "linksMax": {}, "componentsMax": {}, "checks": {}, "memoryPerPeer": {}, "maxHops": {}, "countRatioMedian": {}, "events": {}, "seconds": {seconds}}}"#,
        r.peers,
        c.loss_per_million,
        c.churn_per_mille_per_minute,
        c.latency.0.as_millis(),
        c.latency.1.as_millis(),
        c.seed,
        r.messages,
        r.joined,
        r.left,
        r.reach_mean(),
        r.reach_min(),
        r.delivery_percentile(0.5),
        r.delivery_percentile(0.99),
        r.delivery_percentile(1.0),
        r.transmissions_per_peer_per_message,
        r.control_per_peer_per_message,
        r.links_mean,
        r.links_min,
        r.links_max,
        r.components_max,
        r.checks,
        r.memory_per_peer,
        r.max_hops,
        count_median,
        r.events,
    )
}
