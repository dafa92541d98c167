//! Discovery in Chromium against the local stack's real resolvers: dnsdist serving
//! tests/fixtures/discovery.zone on two listeners (one without CORS), a closed port, a server
//! that never answers, and unbound validating a DNSSEC-signed zone behind nginx.
//!
//! The endpoints' URLs come from the stack's env file at compile time (scripts/browser-tests.sh
//! sources it before `cargo test`).

#![cfg(target_arch = "wasm32")]

use core::time::Duration;

use futures::future::{Either, select};
use gloo_timers::future::TimeoutFuture;
use seedmesh_core::discovery::{
    AttemptError, AttemptOutcome, CachedAnswer, DiscoveryError, DohEndpoint, ProblemKind,
    PublicKey, ResponseCode, SignatureError, SignatureStatus, TxtRecord,
};
use seedmesh_web::doh::{
    CacheMode, DiscoveryOptions, DiscoveryReport, LocalStorageCache, Source, discover,
};
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn url(value: Option<&'static str>, name: &str) -> &'static str {
    value.unwrap_or_else(|| {
        panic!("{name} is not set: run through scripts/browser-tests.sh, or source the stack's env")
    })
}

fn main_url() -> &'static str {
    url(option_env!("SEEDMESH_DOH_URL"), "SEEDMESH_DOH_URL")
}
fn second_url() -> &'static str {
    url(option_env!("SEEDMESH_DOH2_URL"), "SEEDMESH_DOH2_URL")
}
fn no_cors_url() -> &'static str {
    url(
        option_env!("SEEDMESH_DOH_NOCORS_URL"),
        "SEEDMESH_DOH_NOCORS_URL",
    )
}
fn down_url() -> &'static str {
    url(
        option_env!("SEEDMESH_DOH_DOWN_URL"),
        "SEEDMESH_DOH_DOWN_URL",
    )
}
fn hang_url() -> &'static str {
    url(
        option_env!("SEEDMESH_DOH_HANG_URL"),
        "SEEDMESH_DOH_HANG_URL",
    )
}
fn ad_url() -> &'static str {
    url(option_env!("SEEDMESH_DOH_AD_URL"), "SEEDMESH_DOH_AD_URL")
}
fn peerserver_port() -> u16 {
    url(
        option_env!("SEEDMESH_PEERSERVER_PORT"),
        "SEEDMESH_PEERSERVER_PORT",
    )
    .parse()
    .expect("a port")
}

/// Options for `urls`, with no cache and a 2 s timeout.
fn options(urls: &[&str]) -> DiscoveryOptions {
    DiscoveryOptions {
        resolvers: urls.iter().map(|u| DohEndpoint::wire(u)).collect(),
        timeout: Duration::from_millis(2_000),
        cache: CacheMode::Off,
        ..DiscoveryOptions::default()
    }
}

/// Fails the test instead of hanging when the lookup takes longer than `millis`.
async fn lookup(domain: &str, options: &DiscoveryOptions, millis: u32) -> DiscoveryReport {
    match select(
        Box::pin(discover(domain, options)),
        TimeoutFuture::new(millis),
    )
    .await
    {
        Either::Left((report, _)) => report,
        Either::Right(_) => panic!("discovering {domain} took over {millis} ms"),
    }
}

/// `performance.now()`, for measurements.
fn performance_now() -> f64 {
    let performance = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).unwrap();
    let now = js_sys::Reflect::get(&performance, &"now".into()).unwrap();
    js_sys::Function::from(now)
        .call0(&performance)
        .unwrap()
        .as_f64()
        .unwrap()
}

#[wasm_bindgen_test]
async fn several_records_become_a_typed_config() {
    let report = lookup("several.discovery.test", &options(&[main_url()]), 5_000).await;
    assert_eq!(report.source, Source::Network, "{report:?}");
    assert_eq!(report.resolver.as_deref(), Some(main_url()));
    assert_eq!(report.error, None);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(!report.authenticated, "dnsdist does not validate");
    let config = &report.config;
    assert_eq!(config.signaling.len(), 2);
    let first = &config.signaling[0];
    assert_eq!(
        (first.host.as_str(), first.port),
        ("127.0.0.1", peerserver_port())
    );
    assert_eq!(
        first.socket_url(),
        format!("ws://127.0.0.1:{}/seedmesh/peerjs", peerserver_port())
    );
    let second = &config.signaling[1];
    assert_eq!(
        (
            second.host.as_str(),
            second.port,
            second.path.as_str(),
            second.secure,
            second.key.as_str()
        ),
        ("signal.discovery.test", 9443, "/p/", true, "k2")
    );
    assert_eq!(config.ice_servers.len(), 2);
    let turn = config
        .ice_servers
        .iter()
        .find(|s| s.username.is_some())
        .expect("the TURN server");
    assert_eq!(turn.urls.len(), 2);
    assert_eq!(turn.credential.as_deref(), Some("s3cret"));
    let rendezvous = config.rendezvous.as_ref().expect("a rendezvous");
    assert_eq!(
        (rendezvous.namespace.as_str(), rendezvous.slots),
        ("discovery-test", 6)
    );
    assert_eq!(config.bootstrap_peers, ["seed-one", "seed-two"]);
    assert_eq!(report.records.len(), 6);
}

#[wasm_bindgen_test]
async fn a_record_of_several_strings_is_joined() {
    let report = lookup("long.discovery.test", &options(&[main_url()]), 5_000).await;
    assert_eq!(report.records.len(), 1);
    assert!(report.records[0].strings.len() >= 3);
    assert!(report.records[0].joined().len() > 255);
    assert_eq!(
        report.config.bootstrap_peers.len(),
        26,
        "{:?}",
        report.problems
    );
    assert_eq!(report.config.bootstrap_peers[9], "bootstrap-peer-number-09");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[wasm_bindgen_test]
async fn malformed_entries_are_reported_and_the_good_ones_kept() {
    let report = lookup("malformed.discovery.test", &options(&[main_url()]), 5_000).await;
    assert_eq!(report.source, Source::Network);
    assert_eq!(report.config.bootstrap_peers, ["good-peer"]);
    let rendezvous = report.config.rendezvous.as_ref().expect("a rendezvous");
    assert_eq!(rendezvous.namespace, "still-works");
    assert!(report.config.signaling.is_empty());
    assert!(report.config.ice_servers.is_empty());
    let kinds: Vec<&ProblemKind> = report.problems.iter().map(|p| &p.kind).collect();
    console_log!("problems: {:#?}", report.problems);
    assert_eq!(kinds.len(), 8, "{kinds:?}");
    assert!(kinds.contains(&&ProblemKind::UnknownKey("colour".into())));
    assert!(kinds.contains(&&ProblemKind::MissingKey("username".into())));
    assert!(kinds.contains(&&ProblemKind::UnsupportedVersion("sm9".into())));
    assert!(kinds.contains(&&ProblemKind::UnknownKind));
    assert!(kinds.contains(&&ProblemKind::NoVersion));
    assert!(kinds.contains(&&ProblemKind::NotUtf8));
    assert!(kinds.contains(&&ProblemKind::MissingSemicolon(
        "v=sm1 peer=no-semicolon".into()
    )));
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, ProblemKind::BadValue { key, .. } if key == "url"))
    );
    // Every problem names its entry.
    assert!(
        report
            .problems
            .iter()
            .all(|p| p.entry.starts_with("v=") || p.entry.starts_with("google"))
    );
}

#[wasm_bindgen_test]
async fn nxdomain_servfail_and_an_empty_answer() {
    let both = options(&[main_url(), second_url()]);
    let report = lookup("missing.discovery.test", &both, 5_000).await;
    assert_eq!(
        report.error,
        Some(DiscoveryError::NoRecords(ResponseCode::NxDomain))
    );
    assert_eq!(report.source, Source::Nothing);
    assert!(report.config.is_empty());
    assert!(
        report
            .attempts
            .iter()
            .all(|a| a.outcome == AttemptOutcome::NoRecords(ResponseCode::NxDomain))
    );

    let report = lookup("empty.discovery.test", &both, 5_000).await;
    assert_eq!(
        report.error,
        Some(DiscoveryError::NoRecords(ResponseCode::NoError))
    );

    let report = lookup("servfail.discovery.test", &both, 5_000).await;
    assert_eq!(report.error, Some(DiscoveryError::AllFailed));
    assert!(
        report
            .attempts
            .iter()
            .all(|a| a.outcome
                == AttemptOutcome::Failed(AttemptError::Rcode(ResponseCode::ServFail)))
    );
}

#[wasm_bindgen_test]
async fn a_resolver_that_is_down_fails_over_at_once() {
    let report = lookup(
        "several.discovery.test",
        &options(&[down_url(), main_url()]),
        5_000,
    )
    .await;
    assert_eq!(report.source, Source::Network);
    assert_eq!(report.resolver.as_deref(), Some(main_url()));
    // Both are asked at once. Chromium refuses the closed port before the other answers;
    // Firefox may take longer, and the answer ends the attempt first.
    assert!(
        matches!(
            report.attempts[0].outcome,
            AttemptOutcome::Failed(AttemptError::Transport(_)) | AttemptOutcome::Aborted
        ),
        "{:?}",
        report.attempts
    );
    assert!(
        report.elapsed < Duration::from_millis(2_000),
        "{:?}",
        report.elapsed
    );

    // Down alone: the error is reported, well within the timeout.
    let report = lookup("several.discovery.test", &options(&[down_url()]), 5_000).await;
    assert_eq!(
        (report.source, report.error),
        (Source::Nothing, Some(DiscoveryError::AllFailed))
    );
    assert!(
        report.elapsed < Duration::from_millis(2_000),
        "{:?}",
        report.elapsed
    );
}

#[wasm_bindgen_test]
async fn a_hanging_resolver_is_aborted_at_its_timeout() {
    // With a good one beside it: the good answer wins and the hanging request is aborted.
    let report = lookup(
        "several.discovery.test",
        &options(&[hang_url(), main_url()]),
        5_000,
    )
    .await;
    assert_eq!(report.resolver.as_deref(), Some(main_url()));
    assert_eq!(report.attempts[0].outcome, AttemptOutcome::Aborted);
    assert!(report.elapsed < Duration::from_millis(2_000));

    // Alone: it times out, and the snapshot is used.
    let mut alone = options(&[hang_url()]);
    alone.timeout = Duration::from_millis(600);
    alone.snapshot = vec![TxtRecord::from_text("v=sm1; peer=from-the-snapshot")];
    let report = lookup("several.discovery.test", &alone, 3_000).await;
    assert_eq!(report.attempts[0].outcome, AttemptOutcome::TimedOut);
    assert_eq!(report.source, Source::Snapshot);
    assert_eq!(report.config.bootstrap_peers, ["from-the-snapshot"]);
    assert!(
        report.elapsed >= Duration::from_millis(590)
            && report.elapsed < Duration::from_millis(1_500),
        "{:?}",
        report.elapsed
    );
}

#[wasm_bindgen_test]
async fn a_resolver_without_cors_fails_and_the_next_answers() {
    let report = lookup("several.discovery.test", &options(&[no_cors_url()]), 5_000).await;
    assert_eq!(report.error, Some(DiscoveryError::AllFailed));
    assert!(
        matches!(
            report.attempts[0].outcome,
            AttemptOutcome::Failed(AttemptError::Transport(_))
        ),
        "{:?}",
        report.attempts
    );
    let report = lookup(
        "several.discovery.test",
        &options(&[no_cors_url(), second_url()]),
        5_000,
    )
    .await;
    assert_eq!(report.resolver.as_deref(), Some(second_url()));
    assert_eq!(report.config.bootstrap_peers, ["seed-one", "seed-two"]);
}

#[wasm_bindgen_test]
async fn answers_are_cached_in_local_storage_and_kept_as_last_known_good() {
    let name = "_seedmesh.long.discovery.test";
    LocalStorageCache::clear(name);
    let mut cached = options(&[main_url()]);
    cached.cache = CacheMode::LocalStorage;

    let cold = lookup("long.discovery.test", &cached, 5_000).await;
    assert_eq!(cold.source, Source::Network);
    let stored = LocalStorageCache::load(name).expect("the answer was stored");
    assert_eq!(stored.records, cold.records);

    // Now from the cache, without the network: even with only a dead resolver configured.
    let mut dead = cached.clone();
    dead.resolvers = vec![DohEndpoint::wire(down_url())];
    let warm = lookup("long.discovery.test", &dead, 5_000).await;
    assert_eq!(warm.source, Source::Cache);
    assert!(warm.attempts.is_empty());
    assert_eq!(warm.config, cold.config);
    assert_eq!(warm.resolver.as_deref(), Some(main_url()));

    // Expired: the network is asked; when it fails, the last good answer is used.
    LocalStorageCache::save(&CachedAnswer {
        fetched_at: stored.fetched_at - 1_000_000,
        expires_at: stored.fetched_at - 900_000,
        ..stored
    })
    .expect("saving");
    let stale = lookup("long.discovery.test", &dead, 5_000).await;
    assert_eq!(stale.source, Source::LastKnownGood);
    assert_eq!(stale.error, Some(DiscoveryError::AllFailed));
    assert_eq!(stale.config, cold.config);
    LocalStorageCache::clear(name);
}

#[wasm_bindgen_test]
async fn a_pinned_key_refuses_unsigned_records() {
    let mut pinned = options(&[main_url()]);
    pinned.pinned_keys = vec![PublicKey([0x11; 32])];
    let report = lookup("several.discovery.test", &pinned, 5_000).await;
    assert_eq!(report.source, Source::Nothing);
    assert_eq!(
        report.attempts[0].outcome,
        AttemptOutcome::Failed(AttemptError::Signature(SignatureError::Unsigned))
    );
    assert!(report.config.is_empty());
}

/// The public key of tests/fixtures/discovery-test.key, which signed the fixture's signed names.
const FIXTURE_KEY: &str = "ed25519:/e+NPpq7UIVpV1L8ZOmQ+51tt1qdtXpCtH4BIjIJ2SA=";

#[wasm_bindgen_test]
async fn signed_records_verify_and_tampered_ones_are_refused() {
    let mut pinned = options(&[main_url(), second_url()]);
    pinned.pinned_keys = vec![PublicKey::parse(FIXTURE_KEY).expect("the fixture key")];
    let report = lookup("signed.discovery.test", &pinned, 5_000).await;
    assert_eq!(report.source, Source::Network, "{report:?}");
    assert_eq!(report.signature, SignatureStatus::Valid(0));
    assert_eq!(report.config.bootstrap_peers, ["signed-peer"]);

    pinned.snapshot = vec![TxtRecord::from_text("v=sm1; peer=built-in")];
    let report = lookup("tampered.discovery.test", &pinned, 5_000).await;
    assert!(
        report.attempts.iter().all(|a| a.outcome
            == AttemptOutcome::Failed(AttemptError::Signature(SignatureError::Invalid)))
    );
    assert_eq!(report.source, Source::Snapshot);
    assert_eq!(
        report.config.bootstrap_peers,
        ["built-in"],
        "the tampered peer is never used"
    );

    // Without a pinned key the same records are read, unchecked.
    let report = lookup("tampered.discovery.test", &options(&[main_url()]), 5_000).await;
    assert_eq!(report.signature, SignatureStatus::NotChecked);
    assert_eq!(report.config.bootstrap_peers, ["evil-peer"]);
}

#[wasm_bindgen_test]
async fn the_ad_bit_from_a_validating_resolver_and_cnames() {
    let report = lookup("secure.test", &options(&[ad_url()]), 5_000).await;
    assert_eq!(report.source, Source::Network, "{report:?}");
    assert!(
        report.authenticated,
        "unbound validated secure.test: AD must be set"
    );
    assert_eq!(report.attempts[0].authenticated, Some(true));
    assert_eq!(report.config.bootstrap_peers, ["dnssec-peer"]);

    let report = lookup("alias.secure.test", &options(&[ad_url()]), 5_000).await;
    assert_eq!(
        report.config.bootstrap_peers,
        ["aliased-peer"],
        "{report:?}"
    );
    assert!(report.authenticated);
    assert_eq!(report.signature, SignatureStatus::NotChecked);
}

#[wasm_bindgen_test]
async fn options_from_the_build_configuration() {
    let resolvers = format!(" {}, json:https://dns.google/resolve ", main_url());
    let options = DiscoveryOptions::from_build_config(
        Some(&resolvers),
        Some(FIXTURE_KEY),
        Some("v=sm1; peer=built-in\n\n v=sm1; rendezvous=built-in ;slots=2\n"),
    )
    .expect("valid build configuration");
    assert_eq!(options.resolvers[0], DohEndpoint::wire(main_url()));
    assert_eq!(
        options.resolvers[1],
        DohEndpoint::json("https://dns.google/resolve")
    );
    assert_eq!(options.pinned_keys.len(), 1);
    assert_eq!(options.snapshot.len(), 2);
    assert!(DiscoveryOptions::from_build_config(None, Some("ed25519:nope"), None).is_err());
    let defaults = DiscoveryOptions::from_build_config(Some(" "), None, None).expect("defaults");
    assert_eq!(defaults, DiscoveryOptions::default());

    // The signed fixture through options built this way.
    let mut only_local = options;
    only_local.resolvers.truncate(1);
    only_local.cache = CacheMode::Off;
    let report = lookup("signed.discovery.test", &only_local, 5_000).await;
    assert_eq!(report.signature, SignatureStatus::Valid(0));
}

/// Prints the numbers the project tracks: cold, warm and failover lookup times on the local stack.
#[wasm_bindgen_test]
async fn measure_lookup_times() {
    let runs = 10;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let time = async |domain: &str, options: &DiscoveryOptions, expect: Source| {
        let start = performance_now();
        let report = lookup(domain, options, 5_000).await;
        let ms = performance_now() - start;
        assert_eq!(report.source, expect, "{report:?}");
        ms
    };
    let first = time(
        "several.discovery.test",
        &options(&[second_url()]),
        Source::Network,
    )
    .await;
    let mut cold = Vec::new();
    let mut down = Vec::new();
    let mut hang = Vec::new();
    let mut warm = Vec::new();
    let mut cached = options(&[main_url()]);
    cached.cache = CacheMode::LocalStorage;
    LocalStorageCache::clear("_seedmesh.several.discovery.test");
    time("several.discovery.test", &cached, Source::Network).await;
    for _ in 0..runs {
        cold.push(
            time(
                "several.discovery.test",
                &options(&[main_url()]),
                Source::Network,
            )
            .await,
        );
        down.push(
            time(
                "several.discovery.test",
                &options(&[down_url(), main_url()]),
                Source::Network,
            )
            .await,
        );
        hang.push(
            time(
                "several.discovery.test",
                &options(&[hang_url(), main_url()]),
                Source::Network,
            )
            .await,
        );
        warm.push(time("several.discovery.test", &cached, Source::Cache).await);
    }
    LocalStorageCache::clear("_seedmesh.several.discovery.test");
    let mut alone = options(&[hang_url()]);
    alone.timeout = Duration::from_millis(1_000);
    alone.snapshot = vec![TxtRecord::from_text("v=sm1; peer=snap")];
    let timeout = time("several.discovery.test", &alone, Source::Snapshot).await;
    console_log!(
        "discovery timings (ms): first lookup in the page {first:.1}; cold (no cache) median {:.1} of {runs}; \
         warm (localStorage) median {:.2}; one resolver down + one good median {:.1}; one hanging + one good median {:.1}; \
         only a hanging resolver (1000 ms timeout) -> snapshot {timeout:.1}",
        median(cold),
        median(warm),
        median(down),
        median(hang),
    );
}
