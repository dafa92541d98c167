//! Discovery: where the network is, from DNS TXT records read over DNS-over-HTTPS.
//!
//! docs/seed-records.md is the spec. The parts, in the order data flows:
//!
//! - [`dns`]: DoH queries built and answers read (RFC 8484 wire format, JSON as a fallback).
//! - [`seed`]: the seed-record grammar, TXT records to a typed [`SeedConfig`] and [`Problem`]s.
//! - [`signature`]: ed25519 signatures over the canonical record set.
//! - [`resolver`]: the [`Lookup`] machine: several endpoints raced, timeouts, cache, fallbacks.
//!
//! A driver runs a lookup like this (the browser driver does the same with `fetch`):
//!
//! ```
//! use seedmesh_core::Instant;
//! use seedmesh_core::discovery::{DohEndpoint, Lookup, LookupOutput, ResolverConfig};
//!
//! let config = ResolverConfig {
//!     endpoints: vec![DohEndpoint::wire("http://127.0.0.1:9/dns-query")],
//!     ..ResolverConfig::default()
//! };
//! let mut lookup = Lookup::new(Instant::from_millis(0), "example.org", &config, None);
//! let report = loop {
//!     match lookup.poll_output() {
//!         Some(LookupOutput::Fetch(request)) => {
//!             // Start an HTTP GET of request.url; here every request fails at once.
//!             lookup.handle_transport_error(Instant::from_millis(5), request.id, "refused");
//!         }
//!         Some(LookupOutput::Abort(_)) => {} // abort that request
//!         Some(LookupOutput::Store(_answer)) => {} // keep it for the next lookup
//!         Some(LookupOutput::Done(report)) => break report,
//!         None => {
//!             // Wait for a response or until lookup.poll_timeout(), then:
//!             let now = lookup.poll_timeout().unwrap_or(Instant::from_millis(0));
//!             lookup.handle_timeout(now);
//!         }
//!     }
//! };
//! assert!(report.config.is_empty());
//! println!("{}", report.error.map(|e| e.to_string()).unwrap_or_default());
//! ```

pub mod dns;
pub mod resolver;
pub mod seed;
pub mod signature;

pub use dns::{DnsError, ResponseCode, TxtAnswer, TxtRecord};
pub use resolver::{
    Attempt, AttemptError, AttemptOutcome, CachedAnswer, DiscoveryError, DiscoveryReport,
    DohEndpoint, DohFormat, FetchRequest, HttpResponse, Lookup, LookupOutput, RequestId,
    ResolverConfig, Source,
};
pub use seed::{IceServer, Problem, ProblemKind, Rendezvous, SeedConfig, SignalingEndpoint};
pub use signature::{PublicKey, SignatureError, SignatureStatus};

/// The leftmost label of every seed name: records live at `_seedmesh.<domain>`.
pub const SEED_LABEL: &str = "_seedmesh";

/// A record set read: the configuration, the problems, and the signature check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpretation {
    /// The typed configuration.
    pub config: SeedConfig,
    /// Every problem, entry by entry.
    pub problems: Vec<Problem>,
    /// How the signature check went.
    pub signature: SignatureStatus,
}

/// Reads the TXT records found at `seed_name` into a configuration, checking signatures against
/// `pinned_keys` (none: unchecked).
///
/// # Errors
/// A [`SignatureError`] when keys are pinned and the set is unsigned or does not verify; then
/// nothing in the set is used.
pub fn interpret(
    seed_name: &str,
    records: &[TxtRecord],
    pinned_keys: &[PublicKey],
) -> Result<Interpretation, SignatureError> {
    let set = seed::read_records(records);
    let signature = signature::verify(seed_name, &set, pinned_keys)?;
    let (config, more) = seed::build_config(&set);
    let mut problems = set.problems;
    problems.extend(more);
    Ok(Interpretation {
        config,
        problems,
        signature,
    })
}
