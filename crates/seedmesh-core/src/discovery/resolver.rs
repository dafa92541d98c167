//! The resolver policy: one lookup of a domain's seed records as a sans-IO machine.
//!
//! A [`Lookup`] asks every configured DoH endpoint at once, takes the first answer that holds
//! usable records (and verifies, when a key is pinned), aborts the rest, and gives each endpoint
//! its own deadline. A fresh [`CachedAnswer`] answers without the network; when every endpoint
//! fails, the last good answer (however old, within a limit) and then the build-time snapshot are
//! used. The [`DiscoveryReport`] says where the configuration came from and what each endpoint did.
//!
//! Time is passed in. Cache entries hold instants as plain milliseconds, so a driver that keeps
//! them across page loads must use an epoch that survives reloads (the browser driver uses
//! `performance.timeOrigin + performance.now()`, i.e. Unix time).

use core::fmt;
use core::time::Duration;
use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::dns::{self, DnsError, ResponseCode, TxtAnswer, TxtRecord};
use super::seed::{Problem, SeedConfig};
use super::signature::{PublicKey, SignatureError, SignatureStatus};
use super::{Interpretation, interpret};
use crate::Instant;

/// The wire format an endpoint is asked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DohFormat {
    /// RFC 8484 `application/dns-message`, GET `?dns=`.
    Wire,
    /// `application/dns-json`, GET `?name=&type=16`.
    Json,
}

/// A DoH endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DohEndpoint {
    /// The endpoint URL, e.g. `https://cloudflare-dns.com/dns-query`.
    pub url: String,
    /// The format to ask in.
    pub format: DohFormat,
}

impl DohEndpoint {
    /// An RFC 8484 wire-format endpoint.
    #[must_use]
    pub fn wire(url: &str) -> Self {
        Self {
            url: url.to_string(),
            format: DohFormat::Wire,
        }
    }

    /// A JSON endpoint.
    #[must_use]
    pub fn json(url: &str) -> Self {
        Self {
            url: url.to_string(),
            format: DohFormat::Json,
        }
    }

    /// Reads a list like `https://a/dns-query, json:https://b/resolve` (a `json:` prefix picks the
    /// JSON format); empty items are skipped.
    #[must_use]
    pub fn parse_list(list: &str) -> Vec<Self> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| match s.strip_prefix("json:") {
                Some(url) => Self::json(url.trim()),
                None => Self::wire(s),
            })
            .collect()
    }

    /// Cloudflare's and Google's endpoints, which send CORS headers.
    #[must_use]
    pub fn defaults() -> Vec<Self> {
        vec![
            Self::wire("https://cloudflare-dns.com/dns-query"),
            Self::wire("https://dns.google/dns-query"),
        ]
    }
}

/// How lookups behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverConfig {
    /// The endpoints, all asked at once.
    pub endpoints: Vec<DohEndpoint>,
    /// How long each endpoint gets before it is given up on.
    pub timeout: Duration,
    /// Public keys the records must be signed with; empty: signatures are not checked.
    pub pinned_keys: Vec<PublicKey>,
    /// Records built into the page, used when the network and the cache give nothing.
    pub snapshot: Vec<TxtRecord>,
    /// TTLs below this are raised to it.
    pub min_ttl: Duration,
    /// TTLs above this are lowered to it.
    pub max_ttl: Duration,
    /// The oldest cached answer used as last-known-good.
    pub last_known_good_max_age: Duration,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        Self {
            endpoints: DohEndpoint::defaults(),
            timeout: Duration::from_secs(3),
            pinned_keys: Vec::new(),
            snapshot: Vec::new(),
            min_ttl: Duration::from_secs(30),
            max_ttl: Duration::from_secs(86_400),
            last_known_good_max_age: Duration::from_secs(30 * 86_400),
        }
    }
}

/// A good answer kept for later lookups; serde-serializable so a browser can keep it in
/// `localStorage`. Instants are milliseconds in the driver's epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedAnswer {
    /// The seed name the records are for.
    pub seed_name: String,
    /// The records, as received.
    pub records: Vec<TxtRecord>,
    /// The endpoint that answered.
    pub resolver: String,
    /// The AD bit of the answer.
    pub authenticated: bool,
    /// When the answer arrived.
    pub fetched_at: u64,
    /// When its TTL runs out.
    pub expires_at: u64,
}

/// Names one request of a lookup (the index of its endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub usize);

/// An HTTP GET the driver must make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// Pass it back with the result.
    pub id: RequestId,
    /// The full URL, query included.
    pub url: String,
    /// The `accept` header to send.
    pub accept: &'static str,
    /// When the machine gives up on it (the driver may abort the request then).
    pub deadline: Instant,
}

/// What came back from a GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The HTTP status.
    pub status: u16,
    /// The `content-type` header, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// What the machine asks the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupOutput {
    /// Make this GET and report its result.
    Fetch(FetchRequest),
    /// Abort this request: it timed out or another endpoint already answered.
    Abort(RequestId),
    /// Keep this answer (e.g. in `localStorage`) and pass it to the next lookup.
    Store(CachedAnswer),
    /// The lookup is over.
    Done(Box<DiscoveryReport>),
}

/// Where a report's configuration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// A DoH endpoint answered now.
    Network,
    /// A cached answer within its TTL.
    Cache,
    /// Every endpoint failed; a cached answer past its TTL.
    LastKnownGood,
    /// Every endpoint failed and nothing was cached; the records built into the page.
    Snapshot,
    /// Nothing: every endpoint failed and there is no cache and no snapshot.
    Nothing,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Network => "network",
            Self::Cache => "cache",
            Self::LastKnownGood => "last known good",
            Self::Snapshot => "build-time snapshot",
            Self::Nothing => "nothing",
        })
    }
}

/// Why one endpoint gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptError {
    /// The request failed before a response: the endpoint is down, unreachable, or (in a
    /// browser) sends no CORS header.
    Transport(String),
    /// The endpoint answered with an HTTP error status.
    Http(u16),
    /// The body is not a DNS answer to the question.
    Dns(DnsError),
    /// The resolver answered with an error code (SERVFAIL, REFUSED, ...).
    Rcode(ResponseCode),
    /// The records are not signed with a pinned key.
    Signature(SignatureError),
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport(why) => write!(
                f,
                "the request failed ({why}): the resolver is down or unreachable, or sends no CORS header"
            ),
            Self::Http(status) => write!(f, "the resolver answered HTTP {status}"),
            Self::Dns(e) => e.fmt(f),
            Self::Rcode(code) => write!(f, "the resolver answered {code}"),
            Self::Signature(e) => e.fmt(f),
        }
    }
}

/// What happened to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// Still waiting (only while the lookup runs).
    Pending,
    /// Its answer was used.
    Answered,
    /// It answered that there are no seed records (NXDOMAIN, or NOERROR with no TXT records).
    NoRecords(ResponseCode),
    /// It failed.
    Failed(AttemptError),
    /// It did not answer within the timeout.
    TimedOut,
    /// Aborted: another endpoint answered first.
    Aborted,
}

/// One endpoint's part in a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The endpoint's URL.
    pub resolver: String,
    /// What happened.
    pub outcome: AttemptOutcome,
    /// How long after the start it ended, if it did.
    pub elapsed: Option<Duration>,
    /// The AD bit of its answer, if it answered.
    pub authenticated: Option<bool>,
}

/// Why a lookup got nothing from the network.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The domain is not a valid DNS name.
    InvalidDomain(DnsError),
    /// No DoH endpoint is configured; give at least one.
    NoResolvers,
    /// Every endpoint failed; see the attempts.
    AllFailed,
    /// The resolvers say the domain has no seed records; publish some (see `seedmesh render`).
    NoRecords(ResponseCode),
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidDomain(e) => e.fmt(f),
            Self::NoResolvers => f.write_str("no DoH resolver is configured; give at least one"),
            Self::AllFailed => f.write_str("every DoH resolver failed; see each one's error"),
            Self::NoRecords(code) => write!(
                f,
                "the domain has no seed records ({code}); publish TXT records at _seedmesh.<domain>"
            ),
        }
    }
}

/// Everything a lookup found, for the app and its UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryReport {
    /// The name that was looked up, `_seedmesh.<domain>`.
    pub seed_name: String,
    /// The configuration (empty when [`Source::Nothing`]).
    pub config: SeedConfig,
    /// Every problem found in the records used.
    pub problems: Vec<Problem>,
    /// Where the configuration came from.
    pub source: Source,
    /// The endpoint whose answer was used (also for cached answers).
    pub resolver: Option<String>,
    /// The AD bit of the answer used.
    pub authenticated: bool,
    /// The signature check of the records used.
    pub signature: SignatureStatus,
    /// From the start of the lookup to its end.
    pub elapsed: Duration,
    /// What each endpoint did (empty when the cache answered).
    pub attempts: Vec<Attempt>,
    /// Why the network gave nothing usable, if it did not.
    pub error: Option<DiscoveryError>,
    /// The TXT records the configuration was read from.
    pub records: Vec<TxtRecord>,
}

impl DiscoveryReport {
    /// What each resolver that gave nothing did, in a short phrase people read, e.g.
    /// `"dns.google did not answer in time and cloudflare-dns.com could not be reached"`;
    /// `None` when no resolver failed (or the cache answered).
    #[must_use]
    pub fn resolver_failures(&self) -> Option<String> {
        let phrases: Vec<String> = self
            .attempts
            .iter()
            .filter_map(|attempt| {
                let host = resolver_host(&attempt.resolver);
                let what = match &attempt.outcome {
                    AttemptOutcome::Pending
                    | AttemptOutcome::Answered
                    | AttemptOutcome::Aborted => return None,
                    AttemptOutcome::NoRecords(code) => format!("has no seed records ({code})"),
                    AttemptOutcome::TimedOut => "did not answer in time".to_owned(),
                    AttemptOutcome::Failed(AttemptError::Transport(_)) => {
                        "could not be reached".to_owned()
                    }
                    AttemptOutcome::Failed(AttemptError::Http(status)) => {
                        format!("answered HTTP {status}")
                    }
                    AttemptOutcome::Failed(AttemptError::Dns(_)) => {
                        "sent an unreadable answer".to_owned()
                    }
                    AttemptOutcome::Failed(AttemptError::Rcode(code)) => format!("answered {code}"),
                    AttemptOutcome::Failed(AttemptError::Signature(_)) => {
                        "sent records without a valid signature".to_owned()
                    }
                };
                Some(format!("{host} {what}"))
            })
            .collect();
        match phrases.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            [rest @ .., last] => Some(format!("{} and {last}", rest.join(", "))),
        }
    }
}

/// The host (and port) of a resolver URL, as people name it.
fn resolver_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the endpoints' answers.
    AwaitingAnswers,
    /// The report has been queued.
    Finished,
}

/// One lookup of a domain's seed records.
#[derive(Debug)]
pub struct Lookup {
    seed_name: String,
    config: ResolverConfig,
    started: Instant,
    attempts: Vec<Attempt>,
    deadlines: Vec<Instant>,
    cached: Option<CachedAnswer>,
    outputs: VecDeque<LookupOutput>,
    state: State,
}

impl Lookup {
    /// Starts a lookup of `domain`'s seed records at `now`, given the answer cached last time.
    #[must_use]
    pub fn new(
        now: Instant,
        domain: &str,
        config: &ResolverConfig,
        cached: Option<CachedAnswer>,
    ) -> Self {
        let mut lookup = Self {
            seed_name: String::new(),
            config: config.clone(),
            started: now,
            attempts: Vec::new(),
            deadlines: Vec::new(),
            cached: None,
            outputs: VecDeque::new(),
            state: State::AwaitingAnswers,
        };
        let seed_name = match dns::seed_name(domain) {
            Ok(name) => name,
            Err(e) => {
                lookup.seed_name = domain.to_string();
                lookup.finish_without_network(now, DiscoveryError::InvalidDomain(e));
                return lookup;
            }
        };
        lookup.seed_name = seed_name;
        lookup.cached = cached.filter(|c| c.seed_name == lookup.seed_name);
        if let Some(cached) = lookup.cached.clone() {
            let fresh = cached.fetched_at <= now.as_millis() && now.as_millis() < cached.expires_at;
            if fresh
                && let Ok(found) =
                    interpret(&lookup.seed_name, &cached.records, &config.pinned_keys)
            {
                lookup.finish(now, Source::Cache, Some(&cached), found, None);
                return lookup;
            }
        }
        if config.endpoints.is_empty() {
            lookup.finish_without_network(now, DiscoveryError::NoResolvers);
            return lookup;
        }
        let deadline = now + config.timeout;
        for (index, endpoint) in config.endpoints.iter().enumerate() {
            let (url, accept) = match endpoint.format {
                DohFormat::Wire => (
                    dns::wire_get_url(&endpoint.url, &lookup.seed_name),
                    dns::WIRE_MEDIA_TYPE,
                ),
                DohFormat::Json => (
                    dns::json_get_url(&endpoint.url, &lookup.seed_name),
                    dns::JSON_MEDIA_TYPE,
                ),
            };
            let mut attempt = Attempt {
                resolver: endpoint.url.clone(),
                outcome: AttemptOutcome::Pending,
                elapsed: None,
                authenticated: None,
            };
            match url {
                Ok(url) => lookup.outputs.push_back(LookupOutput::Fetch(FetchRequest {
                    id: RequestId(index),
                    url,
                    accept,
                    deadline,
                })),
                Err(e) => {
                    attempt.outcome = AttemptOutcome::Failed(AttemptError::Dns(e));
                    attempt.elapsed = Some(Duration::ZERO);
                }
            }
            lookup.attempts.push(attempt);
            lookup.deadlines.push(deadline);
        }
        lookup.settle(now);
        lookup
    }

    /// The name being looked up.
    #[must_use]
    pub fn seed_name(&self) -> &str {
        &self.seed_name
    }

    /// True once [`LookupOutput::Done`] has been queued.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.state == State::Finished
    }

    /// The next thing for the driver to do.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<LookupOutput> {
        self.outputs.pop_front()
    }

    /// When [`Lookup::handle_timeout`] must be called next, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Finished {
            return None;
        }
        self.attempts
            .iter()
            .zip(&self.deadlines)
            .filter(|(a, _)| a.outcome == AttemptOutcome::Pending)
            .map(|(_, d)| *d)
            .min()
    }

    /// Gives up on every request whose deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Finished {
            return;
        }
        for index in 0..self.attempts.len() {
            if self.attempts[index].outcome == AttemptOutcome::Pending
                && self.deadlines[index] <= now
            {
                self.end_attempt(now, index, AttemptOutcome::TimedOut);
                self.outputs
                    .push_back(LookupOutput::Abort(RequestId(index)));
            }
        }
        self.settle(now);
    }

    /// A request failed before any response (network error, CORS, abort).
    pub fn handle_transport_error(&mut self, now: Instant, id: RequestId, why: &str) {
        if self.is_pending(id) {
            let why: String = why.chars().take(200).collect();
            self.end_attempt(
                now,
                id.0,
                AttemptOutcome::Failed(AttemptError::Transport(why)),
            );
            self.settle(now);
        }
    }

    /// A request got a response.
    pub fn handle_response(&mut self, now: Instant, id: RequestId, response: &HttpResponse) {
        if !self.is_pending(id) {
            return;
        }
        let index = id.0;
        if response.status != 200 {
            self.end_attempt(
                now,
                index,
                AttemptOutcome::Failed(AttemptError::Http(response.status)),
            );
            self.settle(now);
            return;
        }
        let json = match response.content_type.as_deref() {
            Some(t) if t.contains("json") => true,
            Some(t) if t.contains("dns-message") => false,
            _ => self.config.endpoints[index].format == DohFormat::Json,
        };
        let parsed = if json {
            dns::parse_json(&response.body, &self.seed_name)
        } else {
            dns::parse_wire(&response.body, &self.seed_name)
        };
        match parsed {
            Err(e) => {
                self.end_attempt(now, index, AttemptOutcome::Failed(AttemptError::Dns(e)));
            }
            Ok(answer) => self.handle_answer(now, index, answer),
        }
        self.settle(now);
    }

    fn handle_answer(&mut self, now: Instant, index: usize, answer: TxtAnswer) {
        self.attempts[index].authenticated = Some(answer.authenticated);
        match answer.rcode {
            ResponseCode::NoError | ResponseCode::NxDomain if answer.records.is_empty() => {
                self.end_attempt(now, index, AttemptOutcome::NoRecords(answer.rcode));
                return;
            }
            ResponseCode::NoError => {}
            other => {
                self.end_attempt(
                    now,
                    index,
                    AttemptOutcome::Failed(AttemptError::Rcode(other)),
                );
                return;
            }
        }
        match interpret(&self.seed_name, &answer.records, &self.config.pinned_keys) {
            Err(e) => {
                self.end_attempt(
                    now,
                    index,
                    AttemptOutcome::Failed(AttemptError::Signature(e)),
                );
            }
            Ok(found) => {
                self.end_attempt(now, index, AttemptOutcome::Answered);
                for other in 0..self.attempts.len() {
                    if self.attempts[other].outcome == AttemptOutcome::Pending {
                        self.end_attempt(now, other, AttemptOutcome::Aborted);
                        self.outputs
                            .push_back(LookupOutput::Abort(RequestId(other)));
                    }
                }
                let ttl = Duration::from_secs(u64::from(answer.ttl.unwrap_or(0)))
                    .clamp(self.config.min_ttl, self.config.max_ttl);
                let cached = CachedAnswer {
                    seed_name: self.seed_name.clone(),
                    records: answer.records,
                    resolver: self.config.endpoints[index].url.clone(),
                    authenticated: answer.authenticated,
                    fetched_at: now.as_millis(),
                    expires_at: (now + ttl).as_millis(),
                };
                self.outputs.push_back(LookupOutput::Store(cached.clone()));
                self.finish(now, Source::Network, Some(&cached), found, None);
            }
        }
    }

    fn is_pending(&self, id: RequestId) -> bool {
        self.state == State::AwaitingAnswers
            && self
                .attempts
                .get(id.0)
                .is_some_and(|a| a.outcome == AttemptOutcome::Pending)
    }

    fn end_attempt(&mut self, now: Instant, index: usize, outcome: AttemptOutcome) {
        let attempt = &mut self.attempts[index];
        attempt.outcome = outcome;
        attempt.elapsed = Some(now.saturating_since(self.started));
    }

    /// Ends the lookup with the fallbacks once no request is pending.
    fn settle(&mut self, now: Instant) {
        if self.state == State::Finished
            || self
                .attempts
                .iter()
                .any(|a| a.outcome == AttemptOutcome::Pending)
        {
            return;
        }
        let no_records = self.attempts.iter().find_map(|a| match a.outcome {
            AttemptOutcome::NoRecords(code) => Some(code),
            _ => None,
        });
        let error = match no_records {
            Some(code) => DiscoveryError::NoRecords(code),
            None => DiscoveryError::AllFailed,
        };
        self.finish_without_network(now, error);
    }

    fn finish_without_network(&mut self, now: Instant, error: DiscoveryError) {
        let max_age = self.config.last_known_good_max_age;
        if let Some(cached) = self.cached.clone() {
            let age = Duration::from_millis(now.as_millis().saturating_sub(cached.fetched_at));
            if age <= max_age
                && let Ok(found) =
                    interpret(&self.seed_name, &cached.records, &self.config.pinned_keys)
            {
                self.finish(
                    now,
                    Source::LastKnownGood,
                    Some(&cached),
                    found,
                    Some(error),
                );
                return;
            }
        }
        if !self.config.snapshot.is_empty() {
            // The snapshot is part of the build: trusted as it is, never checked against keys.
            if let Ok(found) = interpret(&self.seed_name, &self.config.snapshot, &[]) {
                let snapshot = CachedAnswer {
                    seed_name: self.seed_name.clone(),
                    records: self.config.snapshot.clone(),
                    resolver: String::new(),
                    authenticated: false,
                    fetched_at: 0,
                    expires_at: 0,
                };
                self.finish(now, Source::Snapshot, Some(&snapshot), found, Some(error));
                return;
            }
        }
        let nothing = Interpretation {
            config: SeedConfig::default(),
            problems: Vec::new(),
            signature: SignatureStatus::NotChecked,
        };
        self.finish(now, Source::Nothing, None, nothing, Some(error));
    }

    fn finish(
        &mut self,
        now: Instant,
        source: Source,
        answer: Option<&CachedAnswer>,
        found: Interpretation,
        error: Option<DiscoveryError>,
    ) {
        let report = DiscoveryReport {
            seed_name: self.seed_name.clone(),
            config: found.config,
            problems: found.problems,
            source,
            resolver: answer.map(|a| a.resolver.clone()).filter(|r| !r.is_empty()),
            authenticated: answer.is_some_and(|a| a.authenticated),
            signature: found.signature,
            elapsed: now.saturating_since(self.started),
            attempts: self.attempts.clone(),
            error,
            records: answer.map(|a| a.records.clone()).unwrap_or_default(),
        };
        self.state = State::Finished;
        self.outputs.push_back(LookupOutput::Done(Box::new(report)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::signature::SecretKey;
    use domain::base::iana::{Class, Rcode};
    use domain::base::{Message, MessageBuilder, Name, Record, Ttl};
    use proptest::prelude::*;

    const DOMAIN: &str = "example.test";
    const NAME: &str = "_seedmesh.example.test";

    fn wire(rcode: Rcode, records: &[TxtRecord], ttl: u32, ad: bool) -> HttpResponse {
        let query = Message::from_octets(dns::build_query(NAME).unwrap()).unwrap();
        let mut builder = MessageBuilder::new_vec()
            .start_answer(&query, rcode)
            .unwrap();
        builder.header_mut().set_ad(ad);
        for record in records {
            let mut txt = domain::rdata::rfc1035::TxtBuilder::<Vec<u8>>::new();
            for s in &record.strings {
                txt.append_charstr(domain::base::CharStr::from_slice(s).unwrap())
                    .unwrap();
            }
            let name: Name<Vec<u8>> = Name::vec_from_str(NAME).unwrap();
            builder
                .push(Record::new(
                    name,
                    Class::IN,
                    Ttl::from_secs(ttl),
                    txt.finish().unwrap(),
                ))
                .unwrap();
        }
        HttpResponse {
            status: 200,
            content_type: Some(dns::WIRE_MEDIA_TYPE.into()),
            body: builder.finish(),
        }
    }

    fn http_status(status: u16) -> HttpResponse {
        HttpResponse {
            status,
            content_type: None,
            body: Vec::new(),
        }
    }

    fn good() -> Vec<TxtRecord> {
        vec![
            TxtRecord::from_text("v=sm1; signal=peerjs; url=wss://signal.example.test/p"),
            TxtRecord::from_text("v=sm1; rendezvous=ex; slots=3"),
        ]
    }

    fn config(n: usize) -> ResolverConfig {
        ResolverConfig {
            endpoints: (0..n)
                .map(|i| DohEndpoint::wire(&format!("http://127.0.0.1:{}/dns-query", 1000 + i)))
                .collect(),
            ..ResolverConfig::default()
        }
    }

    fn drain(lookup: &mut Lookup) -> Vec<LookupOutput> {
        core::iter::from_fn(|| lookup.poll_output()).collect()
    }

    fn fetches(outputs: &[LookupOutput]) -> Vec<RequestId> {
        outputs
            .iter()
            .filter_map(|o| match o {
                LookupOutput::Fetch(f) => Some(f.id),
                _ => None,
            })
            .collect()
    }

    fn done_report(outputs: Vec<LookupOutput>) -> DiscoveryReport {
        outputs
            .into_iter()
            .find_map(|o| match o {
                LookupOutput::Done(r) => Some(*r),
                _ => None,
            })
            .expect("a report")
    }

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn asks_every_endpoint_at_once_and_the_first_good_answer_wins() {
        let mut lookup = Lookup::new(at(0), DOMAIN, &config(3), None);
        let out = drain(&mut lookup);
        assert_eq!(fetches(&out), [RequestId(0), RequestId(1), RequestId(2)]);
        lookup.handle_transport_error(at(5), RequestId(0), "TypeError: Failed to fetch");
        assert!(drain(&mut lookup).is_empty());
        lookup.handle_response(
            at(40),
            RequestId(2),
            &wire(Rcode::NOERROR, &good(), 300, true),
        );
        let out = drain(&mut lookup);
        assert_eq!(out[0], LookupOutput::Abort(RequestId(1)));
        assert!(
            matches!(&out[1], LookupOutput::Store(c) if c.expires_at == 300_040 && c.authenticated)
        );
        let report = done_report(out);
        assert_eq!(report.source, Source::Network);
        assert_eq!(
            report.resolver.as_deref(),
            Some("http://127.0.0.1:1002/dns-query")
        );
        assert_eq!(report.elapsed, Duration::from_millis(40));
        assert!(report.authenticated);
        assert_eq!(report.config.rendezvous.unwrap().slots, 3);
        assert!(matches!(
            report.attempts[0].outcome,
            AttemptOutcome::Failed(AttemptError::Transport(_))
        ));
        assert_eq!(report.attempts[1].outcome, AttemptOutcome::Aborted);
        assert_eq!(report.attempts[2].outcome, AttemptOutcome::Answered);
        assert!(lookup.is_done() && lookup.poll_timeout().is_none());
        // Late results are ignored.
        lookup.handle_response(
            at(50),
            RequestId(1),
            &wire(Rcode::NOERROR, &good(), 300, true),
        );
        assert!(drain(&mut lookup).is_empty());
    }

    #[test]
    fn a_hanging_endpoint_times_out_and_the_other_answers() {
        let mut cfg = config(2);
        cfg.timeout = Duration::from_millis(500);
        let mut lookup = Lookup::new(at(1000), DOMAIN, &cfg, None);
        drain(&mut lookup);
        assert_eq!(lookup.poll_timeout(), Some(at(1500)));
        lookup.handle_timeout(at(1499));
        assert!(drain(&mut lookup).is_empty());
        lookup.handle_timeout(at(1500));
        // Both timed out: nothing cached, no snapshot.
        let out = drain(&mut lookup);
        assert_eq!(out[0], LookupOutput::Abort(RequestId(0)));
        let report = done_report(out);
        assert_eq!(report.source, Source::Nothing);
        assert_eq!(report.error, Some(DiscoveryError::AllFailed));
        assert!(
            report
                .attempts
                .iter()
                .all(|a| a.outcome == AttemptOutcome::TimedOut)
        );
    }

    #[test]
    fn servfail_and_bad_bodies_fail_over() {
        let mut lookup = Lookup::new(at(0), DOMAIN, &config(4), None);
        drain(&mut lookup);
        lookup.handle_response(at(1), RequestId(0), &wire(Rcode::SERVFAIL, &[], 0, false));
        lookup.handle_response(
            at(2),
            RequestId(1),
            &HttpResponse {
                status: 200,
                content_type: None,
                body: b"<html>".to_vec(),
            },
        );
        lookup.handle_response(at(3), RequestId(2), &http_status(503));
        assert!(!lookup.is_done());
        lookup.handle_response(
            at(4),
            RequestId(3),
            &wire(Rcode::NOERROR, &good(), 60, false),
        );
        let report = done_report(drain(&mut lookup));
        assert_eq!(report.source, Source::Network);
        assert_eq!(
            report.attempts[0].outcome,
            AttemptOutcome::Failed(AttemptError::Rcode(ResponseCode::ServFail))
        );
        assert!(matches!(
            report.attempts[1].outcome,
            AttemptOutcome::Failed(AttemptError::Dns(_))
        ));
        assert_eq!(
            report.attempts[2].outcome,
            AttemptOutcome::Failed(AttemptError::Http(503))
        );
    }

    #[test]
    fn every_failed_resolver_is_named_in_one_phrase() {
        let mut lookup = Lookup::new(at(0), DOMAIN, &config(4), None);
        drain(&mut lookup);
        lookup.handle_response(at(1), RequestId(0), &wire(Rcode::SERVFAIL, &[], 0, false));
        lookup.handle_transport_error(at(2), RequestId(1), "TypeError: Failed to fetch");
        lookup.handle_response(at(3), RequestId(2), &http_status(503));
        lookup.handle_timeout(at(60_000));
        let report = done_report(drain(&mut lookup));
        assert_eq!(
            report.resolver_failures().as_deref(),
            Some(
                "127.0.0.1:1000 answered SERVFAIL, 127.0.0.1:1001 could not be reached, \
                 127.0.0.1:1002 answered HTTP 503 and 127.0.0.1:1003 did not answer in time"
            )
        );
    }

    #[test]
    fn a_lookup_that_worked_names_no_failure() {
        let mut lookup = Lookup::new(at(0), DOMAIN, &config(2), None);
        drain(&mut lookup);
        lookup.handle_response(
            at(1),
            RequestId(0),
            &wire(Rcode::NOERROR, &good(), 60, false),
        );
        let report = done_report(drain(&mut lookup));
        assert_eq!(report.resolver_failures(), None);
        assert_eq!(
            resolver_host("https://dns.google/dns-query?x=1"),
            "dns.google"
        );
        assert_eq!(resolver_host("no scheme"), "no scheme");
    }

    #[test]
    fn nxdomain_waits_for_the_others_then_reports_no_records() {
        let mut lookup = Lookup::new(at(0), DOMAIN, &config(2), None);
        drain(&mut lookup);
        lookup.handle_response(at(1), RequestId(0), &wire(Rcode::NXDOMAIN, &[], 0, false));
        assert!(!lookup.is_done());
        lookup.handle_response(at(2), RequestId(1), &wire(Rcode::NOERROR, &[], 0, false));
        let report = done_report(drain(&mut lookup));
        assert_eq!(
            report.error,
            Some(DiscoveryError::NoRecords(ResponseCode::NxDomain))
        );
        assert_eq!(report.source, Source::Nothing);
        assert!(report.config.is_empty());
    }

    #[test]
    fn cache_then_last_known_good_then_snapshot() {
        let cfg = config(1);
        let mut lookup = Lookup::new(at(0), DOMAIN, &cfg, None);
        drain(&mut lookup);
        lookup.handle_response(
            at(10),
            RequestId(0),
            &wire(Rcode::NOERROR, &good(), 60, false),
        );
        let cached = drain(&mut lookup)
            .into_iter()
            .find_map(|o| match o {
                LookupOutput::Store(c) => Some(c),
                _ => None,
            })
            .unwrap();
        // The cache survives a round trip through JSON, as in localStorage.
        let cached: CachedAnswer =
            serde_json::from_str(&serde_json::to_string(&cached).unwrap()).unwrap();

        let mut warm = Lookup::new(at(30_000), DOMAIN, &cfg, Some(cached.clone()));
        let out = drain(&mut warm);
        assert!(fetches(&out).is_empty());
        let report = done_report(out);
        assert_eq!(
            (report.source, report.elapsed),
            (Source::Cache, Duration::ZERO)
        );
        assert_eq!(
            report.resolver.as_deref(),
            Some(cfg.endpoints[0].url.as_str())
        );

        // Expired: asks again; when that fails, the stale answer is used.
        let mut stale = Lookup::new(at(70_010), DOMAIN, &cfg, Some(cached.clone()));
        assert_eq!(fetches(&drain(&mut stale)).len(), 1);
        stale.handle_transport_error(at(70_020), RequestId(0), "down");
        let report = done_report(drain(&mut stale));
        assert_eq!(report.source, Source::LastKnownGood);
        assert_eq!(report.error, Some(DiscoveryError::AllFailed));
        assert!(report.config.rendezvous.is_some());

        // Another domain's cache is not used; the snapshot is.
        let mut cfg = cfg;
        cfg.snapshot = vec![TxtRecord::from_text("v=sm1; peer=snap")];
        let mut other = Lookup::new(at(0), "other.test", &cfg, Some(cached));
        drain(&mut other);
        other.handle_transport_error(at(1), RequestId(0), "down");
        let report = done_report(drain(&mut other));
        assert_eq!(report.source, Source::Snapshot);
        assert_eq!(report.config.bootstrap_peers, ["snap"]);
    }

    #[test]
    fn with_a_pinned_key_a_lying_resolver_loses() {
        let key = SecretKey::from_seed([3; 32]);
        let mut records = good();
        let sig = key.sign(NAME, &crate::discovery::seed::read_records(&records));
        records.push(TxtRecord::from_text(&sig));
        let mut cfg = config(2);
        cfg.pinned_keys = vec![key.public_key()];
        let mut lookup = Lookup::new(at(0), DOMAIN, &cfg, None);
        drain(&mut lookup);
        let mut lie = records.clone();
        lie[0] = TxtRecord::from_text("v=sm1; signal=peerjs; url=wss://evil.test/");
        lookup.handle_response(at(1), RequestId(0), &wire(Rcode::NOERROR, &lie, 60, false));
        assert!(!lookup.is_done());
        lookup.handle_response(
            at(2),
            RequestId(1),
            &wire(Rcode::NOERROR, &records, 60, false),
        );
        let report = done_report(drain(&mut lookup));
        assert_eq!(report.signature, SignatureStatus::Valid(0));
        assert_eq!(
            report.attempts[0].outcome,
            AttemptOutcome::Failed(AttemptError::Signature(SignatureError::Invalid))
        );
        assert_eq!(report.config.signaling[0].host, "signal.example.test");
    }

    #[test]
    fn with_a_pinned_key_a_cached_answer_is_checked_again() {
        let key = SecretKey::from_seed([3; 32]);
        let mut records = good();
        let sig = key.sign(NAME, &crate::discovery::seed::read_records(&records));
        records.push(TxtRecord::from_text(&sig));
        let mut cfg = config(1);
        cfg.pinned_keys = vec![key.public_key()];
        let cached = |records: Vec<TxtRecord>| CachedAnswer {
            seed_name: NAME.to_owned(),
            records,
            resolver: cfg.endpoints[0].url.clone(),
            authenticated: false,
            fetched_at: 0,
            expires_at: 60_000,
        };
        // Stored as signed: used as it is.
        let mut warm = Lookup::new(at(10), DOMAIN, &cfg, Some(cached(records.clone())));
        assert_eq!(done_report(drain(&mut warm)).source, Source::Cache);
        // Changed in storage (or stored before the key was pinned): neither used fresh nor as
        // last known good; the network is asked.
        let mut changed = records.clone();
        changed[0] = TxtRecord::from_text("v=sm1; signal=peerjs; url=wss://evil.test/");
        let mut lookup = Lookup::new(at(10), DOMAIN, &cfg, Some(cached(changed)));
        assert_eq!(fetches(&drain(&mut lookup)).len(), 1);
        lookup.handle_transport_error(at(20), RequestId(0), "down");
        let report = done_report(drain(&mut lookup));
        assert_ne!(report.source, Source::Cache);
        assert_ne!(report.source, Source::LastKnownGood);
        assert!(
            report
                .config
                .signaling
                .iter()
                .all(|s| s.host != "evil.test")
        );
    }

    #[test]
    fn bad_domain_and_no_resolvers_end_at_once() {
        let report = done_report(drain(&mut Lookup::new(at(0), "a b", &config(1), None)));
        assert!(matches!(
            report.error,
            Some(DiscoveryError::InvalidDomain(_))
        ));
        let report = done_report(drain(&mut Lookup::new(at(0), DOMAIN, &config(0), None)));
        assert_eq!(report.error, Some(DiscoveryError::NoResolvers));
    }

    #[test]
    fn json_endpoints_get_json_queries() {
        let cfg = ResolverConfig {
            endpoints: DohEndpoint::parse_list(" json:http://127.0.0.1:1/resolve ,, "),
            ..ResolverConfig::default()
        };
        let mut lookup = Lookup::new(at(0), DOMAIN, &cfg, None);
        let out = drain(&mut lookup);
        assert!(
            matches!(&out[0], LookupOutput::Fetch(f) if f.url == "http://127.0.0.1:1/resolve?name=_seedmesh.example.test&type=16" && f.accept == dns::JSON_MEDIA_TYPE)
        );
        let body = br#"{"Status":0,"AD":true,"Answer":[{"name":"_seedmesh.example.test.","type":16,"TTL":9,"data":"\"v=sm1; peer=j\""}]}"#;
        lookup.handle_response(
            at(3),
            RequestId(0),
            &HttpResponse {
                status: 200,
                content_type: Some("application/dns-json".into()),
                body: body.to_vec(),
            },
        );
        let report = done_report(drain(&mut lookup));
        assert_eq!(report.config.bootstrap_peers, ["j"]);
        assert!(report.authenticated);
    }

    proptest! {
        /// Any order of events on any number of endpoints ends in exactly one report, with no
        /// panic, and never before every endpoint is settled unless one answered.
        #[test]
        fn any_event_order_ends_in_one_report(
            n in 1usize..5,
            events in proptest::collection::vec((0usize..6, 0u8..6, 0u64..5000), 0..20),
            body in proptest::collection::vec(any::<u8>(), 0..60),
        ) {
            let mut cfg = config(n);
            cfg.timeout = Duration::from_millis(3000);
            let mut lookup = Lookup::new(at(0), DOMAIN, &cfg, None);
            let mut reports = 0;
            let mut now = 0;
            let mut step = |lookup: &mut Lookup| {
                for o in drain(lookup) { if matches!(o, LookupOutput::Done(_)) { reports += 1; } }
            };
            step(&mut lookup);
            for (id, kind, dt) in events {
                now += dt;
                let id = RequestId(id);
                match kind {
                    0 => lookup.handle_transport_error(at(now), id, "x"),
                    1 => lookup.handle_response(at(now), id, &wire(Rcode::NOERROR, &good(), 5, false)),
                    2 => lookup.handle_response(at(now), id, &wire(Rcode::NXDOMAIN, &[], 5, false)),
                    3 => lookup.handle_response(at(now), id, &HttpResponse { status: 200, content_type: None, body: body.clone() }),
                    _ => lookup.handle_timeout(at(now)),
                }
                step(&mut lookup);
            }
            lookup.handle_timeout(at(now + 3000));
            step(&mut lookup);
            prop_assert_eq!(reports, 1);
            prop_assert!(lookup.poll_timeout().is_none());
        }
    }
}
