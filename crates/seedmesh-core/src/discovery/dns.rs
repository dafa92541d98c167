//! DNS-over-HTTPS messages: TXT queries built and answers read, in the RFC 8484 wire format and in
//! the `application/dns-json` format as a fallback.
//!
//! Both readers return the same [`TxtAnswer`]: the response code, the AD (DNSSEC-validated) bit,
//! and the TXT records found at the queried name after following any CNAME chain in the answer.
//! Records that are not on that chain are ignored, so a resolver cannot slip in records for a name
//! nobody asked about.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::base::iana::{Opcode, Rtype};
use domain::base::{Message, MessageBuilder, Name, ParsedName};
use domain::rdata::{Cname, Txt};
use serde::{Deserialize, Serialize};

/// The media type of the RFC 8484 wire format.
pub const WIRE_MEDIA_TYPE: &str = "application/dns-message";

/// The media type of the JSON format Cloudflare and Google serve.
pub const JSON_MEDIA_TYPE: &str = "application/dns-json";

/// The most CNAME hops followed inside one answer.
pub const MAX_CNAME_HOPS: usize = 8;

/// The largest response body read; DoH answers are far smaller.
pub const MAX_RESPONSE_BYTES: usize = 65_535;

/// A DNS response code, with the ones discovery treats specially named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ResponseCode {
    /// NOERROR: the name exists (the answer may still hold no TXT record).
    NoError,
    /// SERVFAIL: the resolver could not get an answer (often a DNSSEC validation failure).
    ServFail,
    /// NXDOMAIN: the name does not exist.
    NxDomain,
    /// REFUSED: the resolver will not answer this query.
    Refused,
    /// Any other code, by number.
    Other(u16),
}

impl ResponseCode {
    /// The code for a number from a DNS header or a JSON `Status`.
    #[must_use]
    pub fn from_number(code: u16) -> Self {
        match code {
            0 => Self::NoError,
            2 => Self::ServFail,
            3 => Self::NxDomain,
            5 => Self::Refused,
            other => Self::Other(other),
        }
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoError => f.write_str("NOERROR"),
            Self::ServFail => f.write_str("SERVFAIL"),
            Self::NxDomain => f.write_str("NXDOMAIN"),
            Self::Refused => f.write_str("REFUSED"),
            Self::Other(code) => write!(f, "RCODE {code}"),
        }
    }
}

/// One TXT record: its character-strings, each at most 255 bytes, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TxtRecord {
    /// The record's character-strings as they came off the wire.
    pub strings: Vec<Vec<u8>>,
}

impl TxtRecord {
    /// A record of one or more strings given as text (for tests, snapshots and the CLI).
    #[must_use]
    pub fn from_strs(strings: &[&str]) -> Self {
        Self {
            strings: strings.iter().map(|s| s.as_bytes().to_vec()).collect(),
        }
    }

    /// A record holding `text`, split into character-strings of at most 255 bytes.
    #[must_use]
    pub fn from_text(text: &str) -> Self {
        let strings = text.as_bytes().chunks(255).map(<[u8]>::to_vec).collect();
        Self { strings }
    }

    /// The record's strings joined with nothing between them, as the seed-record spec reads them.
    #[must_use]
    pub fn joined(&self) -> Vec<u8> {
        self.strings.concat()
    }
}

/// What a resolver said about a TXT query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxtAnswer {
    /// The response code.
    pub rcode: ResponseCode,
    /// The AD bit: the resolver validated the answer with DNSSEC.
    pub authenticated: bool,
    /// The TXT records at the end of the CNAME chain, in the order the resolver sent them.
    pub records: Vec<TxtRecord>,
    /// The smallest TTL, in seconds, of the records and CNAMEs used; `None` with no records.
    pub ttl: Option<u32>,
    /// The names the answer's CNAME chain went through after the queried name, in order.
    pub cnames: Vec<String>,
}

/// Why a DoH query could not be built or its answer not read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DnsError {
    /// The domain is not a valid DNS name; give a name like `example.org`.
    InvalidName(String),
    /// The response is not a DNS message (too short, or cut off inside a record).
    Malformed(String),
    /// The response is a DNS query, not an answer; the endpoint is not a DoH resolver.
    NotAResponse,
    /// The answer is for a different question than the one asked.
    WrongQuestion(String),
    /// The answer was truncated (TC bit); the resolver should have sent it whole over HTTPS.
    Truncated,
    /// The CNAME chain loops or is longer than [`MAX_CNAME_HOPS`].
    CnameChainTooLong,
    /// The JSON answer does not have the shape of an `application/dns-json` answer.
    Json(String),
    /// The response body is larger than [`MAX_RESPONSE_BYTES`].
    TooLarge(usize),
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidName(why) => {
                write!(
                    f,
                    "not a valid domain name ({why}); give a name like example.org"
                )
            }
            Self::Malformed(why) => write!(f, "the answer is not a valid DNS message: {why}"),
            Self::NotAResponse => f.write_str(
                "the endpoint sent back a query, not an answer: is the URL a DoH resolver?",
            ),
            Self::WrongQuestion(what) => write!(f, "the answer is for another question: {what}"),
            Self::Truncated => f.write_str("the resolver sent a truncated answer"),
            Self::CnameChainTooLong => write!(
                f,
                "the CNAME chain loops or is longer than {MAX_CNAME_HOPS} names"
            ),
            Self::Json(why) => write!(f, "the JSON answer cannot be read: {why}"),
            Self::TooLarge(len) => write!(
                f,
                "the answer is {len} bytes, over the {MAX_RESPONSE_BYTES}-byte limit"
            ),
        }
    }
}

impl std::error::Error for DnsError {}

/// The `_seedmesh.<domain>` name whose TXT records hold a domain's seed records.
///
/// `domain` may end in a dot and may already start with `_seedmesh.`. The result is lowercase and
/// has no trailing dot.
///
/// # Errors
/// [`DnsError::InvalidName`] if the result is not a valid DNS name.
pub fn seed_name(domain: &str) -> Result<String, DnsError> {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    if domain.is_empty() {
        return Err(DnsError::InvalidName("the domain is empty".into()));
    }
    let name = if domain == super::SEED_LABEL || domain.starts_with("_seedmesh.") {
        domain
    } else {
        format!("{}.{domain}", super::SEED_LABEL)
    };
    check_name(&name)?;
    Ok(name)
}

/// Checks a dotted name: labels of 1–63 bytes of letters, digits, `-` and `_`, at most 253 bytes.
fn check_name(name: &str) -> Result<(), DnsError> {
    if name.len() > 253 {
        return Err(DnsError::InvalidName(format!(
            "{} bytes, over 253",
            name.len()
        )));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(DnsError::InvalidName(format!(
                "the label {label:?} must have 1 to 63 characters"
            )));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(DnsError::InvalidName(format!(
                "{bad:?} in {label:?}: only letters, digits, '-' and '_' are allowed"
            )));
        }
    }
    Ok(())
}

/// A TXT query for `name` in the wire format: ID 0 (RFC 8484 §4.1, for HTTP caches), RD set, and
/// AD set to ask for the DNSSEC status (RFC 6840 §5.7).
///
/// # Errors
/// [`DnsError::InvalidName`] if `name` is not a valid DNS name.
pub fn build_query(name: &str) -> Result<Vec<u8>, DnsError> {
    check_name(name.trim_end_matches('.'))?;
    let qname =
        Name::<Vec<u8>>::vec_from_str(name).map_err(|e| DnsError::InvalidName(e.to_string()))?;
    let mut builder = MessageBuilder::new_vec();
    builder.header_mut().set_id(0);
    builder.header_mut().set_rd(true);
    builder.header_mut().set_ad(true);
    let mut question = builder.question();
    question
        .push((&qname, Rtype::TXT))
        .map_err(|e| DnsError::InvalidName(e.to_string()))?;
    Ok(question.finish())
}

/// The GET URL for a TXT query for `name` at the DoH endpoint `endpoint` (RFC 8484 §4.1:
/// `?dns=` and the query in base64url without padding). A GET sends no CORS preflight.
///
/// # Errors
/// [`DnsError::InvalidName`] if `name` is not a valid DNS name.
pub fn wire_get_url(endpoint: &str, name: &str) -> Result<String, DnsError> {
    let query = URL_SAFE_NO_PAD.encode(build_query(name)?);
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    Ok(format!("{endpoint}{sep}dns={query}"))
}

/// The GET URL for a TXT query for `name` at a JSON endpoint: `?name=NAME&type=16` (the numeric
/// type, which every JSON DoH server accepts).
///
/// # Errors
/// [`DnsError::InvalidName`] if `name` is not a valid DNS name.
pub fn json_get_url(endpoint: &str, name: &str) -> Result<String, DnsError> {
    check_name(name.trim_end_matches('.'))?;
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    Ok(format!("{endpoint}{sep}name={name}&type=16"))
}

/// Lowercase, no trailing dot: the form names are compared in.
fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Collected answer-section records, before the CNAME chain is followed.
#[derive(Default)]
struct Collected {
    txt: Vec<(String, u32, TxtRecord)>,
    cnames: Vec<(String, u32, String)>,
}

impl Collected {
    /// Follows the chain from `qname` and keeps the TXT records at its end.
    fn into_answer(
        self,
        qname: &str,
        rcode: ResponseCode,
        authenticated: bool,
    ) -> Result<TxtAnswer, DnsError> {
        let mut target = normalize(qname);
        let mut chain = Vec::new();
        let mut ttl: Option<u32> = None;
        loop {
            let records: Vec<_> = self.txt.iter().filter(|(o, ..)| *o == target).collect();
            if !records.is_empty() {
                let min = records.iter().map(|(_, t, _)| *t).min();
                ttl = match (ttl, min) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                let records = records.into_iter().map(|(.., r)| r.clone()).collect();
                return Ok(TxtAnswer {
                    rcode,
                    authenticated,
                    records,
                    ttl,
                    cnames: chain,
                });
            }
            let Some((_, cname_ttl, next)) = self.cnames.iter().find(|(o, ..)| *o == target) else {
                return Ok(TxtAnswer {
                    rcode,
                    authenticated,
                    records: Vec::new(),
                    ttl: None,
                    cnames: chain,
                });
            };
            if chain.len() >= MAX_CNAME_HOPS || chain.contains(next) || *next == normalize(qname) {
                return Err(DnsError::CnameChainTooLong);
            }
            ttl = Some(ttl.map_or(*cname_ttl, |t| t.min(*cname_ttl)));
            chain.push(next.clone());
            target = next.clone();
        }
    }
}

/// Reads a wire-format answer to a TXT query for `qname`.
///
/// # Errors
/// A [`DnsError`] if the bytes are not a DNS answer to that question.
pub fn parse_wire(bytes: &[u8], qname: &str) -> Result<TxtAnswer, DnsError> {
    if bytes.len() > MAX_RESPONSE_BYTES {
        return Err(DnsError::TooLarge(bytes.len()));
    }
    let message = Message::from_octets(bytes)
        .map_err(|_| DnsError::Malformed("shorter than a header".into()))?;
    let header = message.header();
    if !header.qr() || header.opcode() != Opcode::QUERY {
        return Err(DnsError::NotAResponse);
    }
    if header.tc() {
        return Err(DnsError::Truncated);
    }
    let rcode = ResponseCode::from_number(message.opt_rcode().to_int());
    let wanted = normalize(qname);
    for question in message.question() {
        let question = question.map_err(|e| DnsError::Malformed(e.to_string()))?;
        let asked = normalize(&question.qname().to_string());
        if asked != wanted || question.qtype() != Rtype::TXT {
            return Err(DnsError::WrongQuestion(format!(
                "{asked} {} instead of {wanted} TXT",
                question.qtype()
            )));
        }
    }
    let mut collected = Collected::default();
    let answer = message
        .answer()
        .map_err(|e| DnsError::Malformed(e.to_string()))?;
    for record in answer {
        let record = record.map_err(|e| DnsError::Malformed(e.to_string()))?;
        let owner = normalize(&record.owner().to_string());
        let ttl = record.ttl().as_secs();
        if record.rtype() == Rtype::TXT {
            let parsed = record
                .to_record::<Txt<_>>()
                .map_err(|e| DnsError::Malformed(e.to_string()))?;
            if let Some(parsed) = parsed {
                let strings = parsed.data().iter().map(<[u8]>::to_vec).collect();
                collected.txt.push((owner, ttl, TxtRecord { strings }));
            }
        } else if record.rtype() == Rtype::CNAME {
            let parsed = record
                .to_record::<Cname<ParsedName<_>>>()
                .map_err(|e| DnsError::Malformed(e.to_string()))?;
            if let Some(parsed) = parsed {
                let target = normalize(&parsed.data().cname().to_string());
                collected.cnames.push((owner, ttl, target));
            }
        }
    }
    collected.into_answer(qname, rcode, header.ad())
}

#[derive(Deserialize)]
struct JsonMessage {
    #[serde(rename = "Status")]
    status: u16,
    #[serde(rename = "TC", default)]
    tc: bool,
    #[serde(rename = "AD", default)]
    ad: bool,
    #[serde(rename = "Answer", default)]
    answer: Vec<JsonRecord>,
}

#[derive(Deserialize)]
struct JsonRecord {
    name: String,
    #[serde(rename = "type")]
    rtype: u16,
    #[serde(rename = "TTL", default)]
    ttl: u32,
    data: String,
}

/// Reads the `data` of a JSON TXT record into its strings.
///
/// Cloudflare quotes each string (`"\"a\" \"b\""`, with `\"`, `\\` and `\DDD` escapes); Google
/// sends the text unquoted. Unquoted data is taken as one string of any length.
fn json_txt_strings(data: &str) -> Result<Vec<Vec<u8>>, DnsError> {
    let trimmed = data.trim();
    if !trimmed.starts_with('"') {
        return Ok(vec![data.as_bytes().to_vec()]);
    }
    let bytes = trimmed.as_bytes();
    let mut strings = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' => i += 1,
            b'"' => {
                i += 1;
                let mut current = Vec::new();
                loop {
                    match bytes.get(i) {
                        None => return Err(DnsError::Json("an unterminated TXT string".into())),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let digits = bytes
                                .get(i + 1..i + 4)
                                .filter(|d| d.iter().all(u8::is_ascii_digit));
                            if let Some(digits) = digits {
                                let value = digits
                                    .iter()
                                    .fold(0u16, |v, d| v * 10 + u16::from(d - b'0'));
                                let byte = u8::try_from(value).map_err(|_| {
                                    DnsError::Json(format!("the escape \\{value} is over 255"))
                                })?;
                                current.push(byte);
                                i += 4;
                            } else if let Some(&next) = bytes.get(i + 1) {
                                current.push(next);
                                i += 2;
                            } else {
                                return Err(DnsError::Json("a TXT string ends in '\\'".into()));
                            }
                        }
                        Some(&other) => {
                            current.push(other);
                            i += 1;
                        }
                    }
                }
                strings.push(current);
            }
            _ => {
                return Err(DnsError::Json("text between quoted TXT strings".into()));
            }
        }
    }
    Ok(strings)
}

/// Reads an `application/dns-json` answer to a TXT query for `qname`.
///
/// # Errors
/// A [`DnsError`] if the bytes are not such an answer.
pub fn parse_json(bytes: &[u8], qname: &str) -> Result<TxtAnswer, DnsError> {
    if bytes.len() > MAX_RESPONSE_BYTES {
        return Err(DnsError::TooLarge(bytes.len()));
    }
    let message: JsonMessage =
        serde_json::from_slice(bytes).map_err(|e| DnsError::Json(e.to_string()))?;
    if message.tc {
        return Err(DnsError::Truncated);
    }
    let mut collected = Collected::default();
    for record in message.answer {
        let owner = normalize(&record.name);
        if record.rtype == Rtype::TXT.to_int() {
            let strings = json_txt_strings(&record.data)?;
            collected
                .txt
                .push((owner, record.ttl, TxtRecord { strings }));
        } else if record.rtype == Rtype::CNAME.to_int() {
            collected
                .cnames
                .push((owner, record.ttl, normalize(&record.data)));
        }
    }
    collected.into_answer(qname, ResponseCode::from_number(message.status), message.ad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::base::{Record, Ttl};
    use proptest::prelude::*;

    const NAME: &str = "_seedmesh.example.test";

    /// An answer built with the same crate, as a resolver would send it.
    fn answer(
        rcode: domain::base::iana::Rcode,
        ad: bool,
        build: impl FnOnce(&mut domain::base::message_builder::AnswerBuilder<Vec<u8>>),
    ) -> Vec<u8> {
        let query = build_query(NAME).unwrap();
        let query = Message::from_octets(query).unwrap();
        let mut builder = MessageBuilder::new_vec()
            .start_answer(&query, rcode)
            .unwrap();
        builder.header_mut().set_ad(ad);
        build(&mut builder);
        builder.finish()
    }

    fn name(text: &str) -> Name<Vec<u8>> {
        Name::vec_from_str(text).unwrap()
    }

    fn txt(strings: &[&[u8]]) -> Txt<Vec<u8>> {
        let mut builder = domain::rdata::rfc1035::TxtBuilder::<Vec<u8>>::new();
        for s in strings {
            builder
                .append_charstr(domain::base::CharStr::from_slice(s).unwrap())
                .unwrap();
        }
        builder.finish().unwrap()
    }

    #[test]
    fn query_is_a_txt_question_with_id_zero_rd_and_ad() {
        let bytes = build_query(NAME).unwrap();
        let message = Message::from_octets(bytes.as_slice()).unwrap();
        let header = message.header();
        assert_eq!(header.id(), 0);
        assert!(header.rd() && header.ad() && !header.qr());
        let question = message.first_question().unwrap();
        assert_eq!(question.qtype(), Rtype::TXT);
        assert_eq!(question.qname().to_string(), NAME);
    }

    #[test]
    fn get_url_is_base64url_without_padding() {
        let url = wire_get_url("http://127.0.0.1:1/dns-query", "_seedmesh.seedmesh.test").unwrap();
        // The same query scripts/stack.sh uses as its readiness probe.
        assert_eq!(
            url,
            "http://127.0.0.1:1/dns-query?dns=AAABIAABAAAAAAAACV9zZWVkbWVzaAhzZWVkbWVzaAR0ZXN0AAAQAAE"
        );
        assert!(!url.contains('=') || url.matches('=').count() == 1);
    }

    #[test]
    fn seed_name_adds_the_label_once_and_normalizes() {
        assert_eq!(seed_name("Example.ORG.").unwrap(), "_seedmesh.example.org");
        assert_eq!(
            seed_name("_seedmesh.example.org").unwrap(),
            "_seedmesh.example.org"
        );
        assert!(matches!(seed_name(""), Err(DnsError::InvalidName(_))));
        assert!(matches!(seed_name("a..b"), Err(DnsError::InvalidName(_))));
        assert!(matches!(seed_name("a b"), Err(DnsError::InvalidName(_))));
        assert!(seed_name(&"a".repeat(64)).is_err());
        assert!(seed_name(&["a"; 130].join(".")).is_err());
    }

    #[test]
    fn reads_several_records_and_multi_string_records() {
        let long = [b"x".repeat(200), b"y".repeat(200)];
        let bytes = answer(domain::base::iana::Rcode::NOERROR, false, |b| {
            b.push(Record::new(
                name(NAME),
                domain::base::iana::Class::IN,
                Ttl::from_secs(300),
                txt(&[b"v=sm1; peer=a"]),
            ))
            .unwrap();
            b.push(Record::new(
                name(NAME),
                domain::base::iana::Class::IN,
                Ttl::from_secs(60),
                txt(&[&long[0], &long[1]]),
            ))
            .unwrap();
        });
        let answer = parse_wire(&bytes, NAME).unwrap();
        assert_eq!(answer.rcode, ResponseCode::NoError);
        assert!(!answer.authenticated);
        assert_eq!(answer.ttl, Some(60));
        assert_eq!(answer.records.len(), 2);
        assert_eq!(answer.records[1].joined().len(), 400);
    }

    #[test]
    fn follows_cnames_and_ignores_records_off_the_chain() {
        let bytes = answer(domain::base::iana::Rcode::NOERROR, true, |b| {
            let class = domain::base::iana::Class::IN;
            b.push(Record::new(
                name(NAME),
                class,
                Ttl::from_secs(30),
                Cname::new(name("seeds.example.net")),
            ))
            .unwrap();
            b.push(Record::new(
                name("seeds.example.net"),
                class,
                Ttl::from_secs(300),
                txt(&[b"v=sm1; peer=b"]),
            ))
            .unwrap();
            b.push(Record::new(
                name("evil.example"),
                class,
                Ttl::from_secs(300),
                txt(&[b"v=sm1; peer=evil"]),
            ))
            .unwrap();
        });
        let answer = parse_wire(&bytes, NAME).unwrap();
        assert!(answer.authenticated);
        assert_eq!(answer.cnames, vec!["seeds.example.net".to_string()]);
        assert_eq!(
            answer.records,
            vec![TxtRecord::from_strs(&["v=sm1; peer=b"])]
        );
        assert_eq!(answer.ttl, Some(30));
    }

    #[test]
    fn cname_loops_are_errors() {
        let bytes = answer(domain::base::iana::Rcode::NOERROR, false, |b| {
            let class = domain::base::iana::Class::IN;
            b.push(Record::new(
                name(NAME),
                class,
                Ttl::from_secs(30),
                Cname::new(name("a.test")),
            ))
            .unwrap();
            b.push(Record::new(
                name("a.test"),
                class,
                Ttl::from_secs(30),
                Cname::new(name(NAME)),
            ))
            .unwrap();
        });
        assert_eq!(parse_wire(&bytes, NAME), Err(DnsError::CnameChainTooLong));
    }

    #[test]
    fn rcodes_and_wrong_questions() {
        let nx = answer(domain::base::iana::Rcode::NXDOMAIN, false, |_| {});
        assert_eq!(parse_wire(&nx, NAME).unwrap().rcode, ResponseCode::NxDomain);
        let fail = answer(domain::base::iana::Rcode::SERVFAIL, false, |_| {});
        assert_eq!(
            parse_wire(&fail, NAME).unwrap().rcode,
            ResponseCode::ServFail
        );
        assert!(matches!(
            parse_wire(&nx, "_seedmesh.other.test"),
            Err(DnsError::WrongQuestion(_))
        ));
        assert_eq!(
            parse_wire(&build_query(NAME).unwrap(), NAME),
            Err(DnsError::NotAResponse)
        );
        assert!(matches!(
            parse_wire(b"\x00\x01", NAME),
            Err(DnsError::Malformed(_))
        ));
    }

    #[test]
    fn json_in_cloudflare_and_google_quoting() {
        let cloudflare = br#"{"Status":0,"TC":false,"AD":true,"Question":[{"name":"_seedmesh.example.test","type":16}],
            "Answer":[{"name":"_seedmesh.example.test","type":16,"TTL":120,"data":"\"v=sm1; \" \"peer=a\\\"q\\\\ \\059\""}]}"#;
        let answer = parse_json(cloudflare, NAME).unwrap();
        assert!(answer.authenticated);
        assert_eq!(
            answer.records[0].strings,
            vec![b"v=sm1; ".to_vec(), b"peer=a\"q\\ ;".to_vec()]
        );
        assert_eq!(answer.ttl, Some(120));

        let google = br#"{"Status":0,"AD":false,"Answer":[
            {"name":"_seedmesh.example.test.","type":5,"TTL":50,"data":"seeds.example.net."},
            {"name":"seeds.example.net.","type":16,"TTL":300,"data":"v=sm1; peer=b"}]}"#;
        let answer = parse_json(google, NAME).unwrap();
        assert_eq!(
            answer.records,
            vec![TxtRecord::from_strs(&["v=sm1; peer=b"])]
        );
        assert_eq!(answer.ttl, Some(50));

        let nx = br#"{"Status":3}"#;
        assert_eq!(parse_json(nx, NAME).unwrap().rcode, ResponseCode::NxDomain);
        assert!(matches!(parse_json(b"[]", NAME), Err(DnsError::Json(_))));
        assert!(matches!(json_txt_strings("\"abc"), Err(DnsError::Json(_))));
        assert!(matches!(
            json_txt_strings("\"a\" b"),
            Err(DnsError::Json(_))
        ));
        assert!(matches!(
            json_txt_strings("\"\\999\""),
            Err(DnsError::Json(_))
        ));
    }

    #[test]
    fn text_splits_into_strings_of_255_bytes() {
        let record = TxtRecord::from_text(&"z".repeat(600));
        assert_eq!(
            record.strings.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![255, 255, 90]
        );
        assert_eq!(record.joined().len(), 600);
    }

    proptest! {
        #[test]
        fn arbitrary_wire_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_wire(&bytes, NAME);
        }

        #[test]
        fn mutated_answers_never_panic(index in 0usize..200, value in any::<u8>(), cut in 0usize..200) {
            let mut bytes = answer(domain::base::iana::Rcode::NOERROR, false, |b| {
                let class = domain::base::iana::Class::IN;
                b.push(Record::new(name(NAME), class, Ttl::from_secs(30), Cname::new(name("a.test")))).unwrap();
                b.push(Record::new(name("a.test"), class, Ttl::from_secs(30), txt(&[b"v=sm1; peer=a", b"x"]))).unwrap();
            });
            let len = bytes.len();
            bytes[index % len] = value;
            bytes.truncate(len - cut % len);
            let _ = parse_wire(&bytes, NAME);
        }

        #[test]
        fn arbitrary_json_never_panics(text in ".{0,300}") {
            let _ = parse_json(text.as_bytes(), NAME);
            let _ = json_txt_strings(&text);
        }

        #[test]
        fn wire_round_trips_txt_records(
            records in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..255), 1..4), 1..5),
            ttl in 0u32..1_000_000,
            ad in any::<bool>(),
        ) {
            let bytes = answer(domain::base::iana::Rcode::NOERROR, ad, |b| {
                for strings in &records {
                    let refs: Vec<&[u8]> = strings.iter().map(Vec::as_slice).collect();
                    b.push(Record::new(name(NAME), domain::base::iana::Class::IN, Ttl::from_secs(ttl), txt(&refs))).unwrap();
                }
            });
            let answer = parse_wire(&bytes, NAME).unwrap();
            prop_assert_eq!(answer.authenticated, ad);
            prop_assert_eq!(answer.ttl, Some(ttl));
            let got: Vec<Vec<Vec<u8>>> = answer.records.into_iter().map(|r| r.strings).collect();
            prop_assert_eq!(got, records);
        }

        #[test]
        fn seed_name_never_panics(domain in "\\PC{0,300}") {
            if let Ok(name) = seed_name(&domain) {
                prop_assert!(build_query(&name).is_ok());
            }
        }
    }
}
