//! The operator's config file turned into seed entries and zone-file lines.

use core::fmt;

use seedmesh_core::discovery::dns::{self, TxtRecord};
use seedmesh_core::discovery::seed::{self, Problem};
use seedmesh_core::discovery::signature::SecretKey;
use serde::Deserialize;

/// The most bootstrap peers written into one entry.
const PEERS_PER_ENTRY: usize = 8;

/// The config file: what a domain's seed records should say (TOML).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsConfig {
    /// The domain; the records go at `_seedmesh.<domain>`.
    pub domain: String,
    /// The records' TTL in seconds.
    #[serde(default = "default_ttl")]
    pub ttl: u32,
    /// Bootstrap peer IDs.
    #[serde(default)]
    pub peers: Vec<String>,
    /// PeerServers.
    #[serde(default)]
    pub signal: Vec<SignalConfig>,
    /// STUN and TURN servers.
    #[serde(default)]
    pub ice: Vec<IceConfig>,
    /// The rendezvous namespace.
    pub rendezvous: Option<RendezvousConfig>,
}

fn default_ttl() -> u32 {
    300
}

/// A PeerServer: a URL, or host/port/path/secure as in PeerJS's options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalConfig {
    /// `wss://host:port/path`.
    pub url: Option<String>,
    /// Host, when no URL is given.
    pub host: Option<String>,
    /// Port, when no URL is given.
    pub port: Option<u16>,
    /// Path, when no URL is given.
    pub path: Option<String>,
    /// TLS, when no URL is given.
    pub secure: Option<bool>,
    /// The PeerServer key.
    pub key: Option<String>,
    /// Lower is tried first.
    pub prio: Option<u16>,
}

/// A STUN or TURN server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceConfig {
    /// Its URLs.
    pub urls: Vec<String>,
    /// TURN username.
    pub username: Option<String>,
    /// TURN credential.
    pub credential: Option<String>,
}

/// The rendezvous namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RendezvousConfig {
    /// The namespace.
    pub namespace: String,
    /// The number of slots.
    pub slots: Option<u16>,
}

/// Why records could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// The config file is not valid TOML of the expected shape.
    Config(String),
    /// The domain is not a valid DNS name.
    Domain(String),
    /// A value holds `;`, which the entry syntax cannot carry.
    Semicolon(String),
    /// The entries would not read back cleanly; each problem is listed.
    Problems(Vec<Problem>),
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(why) => write!(f, "the config file cannot be read: {why}"),
            Self::Domain(why) => write!(f, "the domain is not valid: {why}"),
            Self::Semicolon(value) => write!(
                f,
                "{value:?} contains ';', which seed entries cannot hold; percent-encode it or choose another value"
            ),
            Self::Problems(problems) => {
                writeln!(f, "the records would not read back cleanly:")?;
                for problem in problems {
                    writeln!(f, "  {problem}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for RenderError {}

/// Reads a config file's text.
///
/// # Errors
/// [`RenderError::Config`] if it is not valid.
pub fn parse_config(text: &str) -> Result<RecordsConfig, RenderError> {
    toml::from_str(text).map_err(|e| RenderError::Config(e.to_string()))
}

fn tag(out: &mut String, key: &str, value: &str) -> Result<(), RenderError> {
    if value.contains(';') {
        return Err(RenderError::Semicolon(value.to_string()));
    }
    out.push_str("; ");
    out.push_str(key);
    out.push('=');
    out.push_str(value.trim());
    Ok(())
}

/// The seed entries the config describes, checked by reading them back with the same parser
/// pages use: any problem is an error.
///
/// # Errors
/// A [`RenderError`] naming what is wrong.
pub fn render_entries(config: &RecordsConfig) -> Result<Vec<String>, RenderError> {
    let version = format!("v={}", seed::VERSION);
    let mut entries = Vec::new();
    for signal in &config.signal {
        let mut e = format!("{version}; signal=peerjs");
        for (key, value) in [
            ("url", signal.url.clone()),
            ("host", signal.host.clone()),
            ("port", signal.port.map(|p| p.to_string())),
            ("path", signal.path.clone()),
            ("secure", signal.secure.map(|s| u8::from(s).to_string())),
            ("key", signal.key.clone()),
            ("prio", signal.prio.map(|p| p.to_string())),
        ] {
            if let Some(value) = value {
                tag(&mut e, key, &value)?;
            }
        }
        entries.push(e);
    }
    for ice in &config.ice {
        let mut e = version.clone();
        tag(&mut e, "ice", &ice.urls.join(","))?;
        if let Some(username) = &ice.username {
            tag(&mut e, "username", username)?;
        }
        if let Some(credential) = &ice.credential {
            tag(&mut e, "credential", credential)?;
        }
        entries.push(e);
    }
    if let Some(rendezvous) = &config.rendezvous {
        let mut e = version.clone();
        tag(&mut e, "rendezvous", &rendezvous.namespace)?;
        if let Some(slots) = rendezvous.slots {
            tag(&mut e, "slots", &slots.to_string())?;
        }
        entries.push(e);
    }
    for chunk in config.peers.chunks(PEERS_PER_ENTRY) {
        let mut e = version.clone();
        tag(&mut e, "peer", &chunk.join(","))?;
        entries.push(e);
    }
    let records: Vec<TxtRecord> = entries.iter().map(|e| TxtRecord::from_text(e)).collect();
    let set = seed::read_records(&records);
    let (_, more) = seed::build_config(&set);
    let problems: Vec<Problem> = set.problems.into_iter().chain(more).collect();
    if !problems.is_empty() {
        return Err(RenderError::Problems(problems));
    }
    Ok(entries)
}

/// A TXT record's text in zone-file syntax: strings of at most 255 bytes, quoted, with `"` and
/// `\` escaped and bytes outside printable ASCII as `\DDD`.
#[must_use]
pub fn quote(record: &TxtRecord) -> String {
    record
        .strings
        .iter()
        .map(|s| {
            let mut out = String::from('"');
            for &b in s {
                match b {
                    b'"' | b'\\' => {
                        out.push('\\');
                        out.push(char::from(b));
                    }
                    0x20..=0x7e => out.push(char::from(b)),
                    _ => out.push_str(&format!("\\{b:03}")),
                }
            }
            out.push('"');
            out
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The zone-file lines for `config`, signed with `key` if given.
///
/// # Errors
/// A [`RenderError`] naming what is wrong with the config.
pub fn render_zone(config: &RecordsConfig, key: Option<&SecretKey>) -> Result<String, RenderError> {
    let name = dns::seed_name(&config.domain).map_err(|e| RenderError::Domain(e.to_string()))?;
    let mut entries = render_entries(config)?;
    if let Some(key) = key {
        let records: Vec<TxtRecord> = entries.iter().map(|e| TxtRecord::from_text(e)).collect();
        entries.push(key.sign(&name, &seed::read_records(&records)));
    }
    let mut out = String::new();
    for entry in entries {
        out.push_str(&format!(
            "{name}. {} IN TXT {}\n",
            config.ttl,
            quote(&TxtRecord::from_text(&entry))
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use seedmesh_core::discovery::{interpret, signature::SignatureStatus};

    const EXAMPLE: &str = r#"
domain = "Example.org"
ttl = 600
peers = ["seed-1", "seed-2"]

[[signal]]
url = "wss://0.peerjs.com/"
key = "peerjs"
prio = 1

[[signal]]
host = "127.0.0.1"
port = 9000
path = "/seedmesh"
secure = false

[[ice]]
urls = ["stun:stun.example.org:3478"]

[[ice]]
urls = ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:443"]
username = "user"
credential = "pass"

[rendezvous]
namespace = "example-org"
slots = 8
"#;

    /// Reads zone lines back the way a resolver would serve them.
    fn records_of(zone: &str) -> Vec<TxtRecord> {
        zone.lines()
            .map(|line| {
                let quoted = &line[line.find('"').unwrap()..];
                let mut strings = Vec::new();
                let mut rest = quoted;
                while let Some(start) = rest.find('"') {
                    let body = &rest[start + 1..];
                    let mut bytes = Vec::new();
                    let mut chars = body.bytes().enumerate();
                    let mut end = body.len();
                    while let Some((i, b)) = chars.next() {
                        match b {
                            b'"' => {
                                end = i;
                                break;
                            }
                            b'\\' => {
                                let (_, n) = chars.next().unwrap();
                                if n.is_ascii_digit() {
                                    let d: String =
                                        [n, chars.next().unwrap().1, chars.next().unwrap().1]
                                            .iter()
                                            .map(|&c| char::from(c))
                                            .collect();
                                    bytes.push(d.parse().unwrap());
                                } else {
                                    bytes.push(n);
                                }
                            }
                            _ => bytes.push(b),
                        }
                    }
                    strings.push(bytes);
                    rest = &body[end + 1..];
                }
                TxtRecord { strings }
            })
            .collect()
    }

    #[test]
    fn renders_a_config_that_reads_back_the_same() {
        let config = parse_config(EXAMPLE).unwrap();
        let zone = render_zone(&config, None).unwrap();
        assert!(
            zone.lines()
                .all(|l| l.starts_with("_seedmesh.example.org. 600 IN TXT \"v=sm1; "))
        );
        let found = interpret("_seedmesh.example.org", &records_of(&zone), &[]).unwrap();
        assert!(found.problems.is_empty(), "{:?}", found.problems);
        let c = found.config;
        assert_eq!(c.signaling[0].socket_url(), "wss://0.peerjs.com:443/peerjs");
        assert_eq!(
            c.signaling[1].socket_url(),
            "ws://127.0.0.1:9000/seedmesh/peerjs"
        );
        assert_eq!(c.ice_servers.len(), 2);
        assert_eq!(c.rendezvous.unwrap().slots, 8);
        assert_eq!(c.bootstrap_peers, ["seed-1", "seed-2"]);
    }

    #[test]
    fn signed_zones_verify_and_long_entries_split() {
        let mut config = parse_config(EXAMPLE).unwrap();
        config.peers = (0..20)
            .map(|i| format!("a-rather-long-bootstrap-peer-name-{i}"))
            .collect();
        let key = SecretKey::from_seed([5; 32]);
        let zone = render_zone(&config, Some(&key)).unwrap();
        let records = records_of(&zone);
        assert!(
            records.iter().any(|r| r.strings.len() > 1),
            "an entry over 255 bytes"
        );
        let found = interpret("_seedmesh.example.org", &records, &[key.public_key()]).unwrap();
        assert_eq!(found.signature, SignatureStatus::Valid(0));
        assert_eq!(found.config.bootstrap_peers.len(), 20);
    }

    #[test]
    fn bad_configs_are_refused_with_the_reason() {
        assert!(matches!(
            parse_config("domain = 1"),
            Err(RenderError::Config(_))
        ));
        assert!(matches!(
            parse_config("domain = \"a\"\ncolour = 1"),
            Err(RenderError::Config(_))
        ));
        let mut config = parse_config(EXAMPLE).unwrap();
        config.ice[1].credential = Some("a;b".into());
        assert!(matches!(
            render_zone(&config, None),
            Err(RenderError::Semicolon(_))
        ));
        let mut config = parse_config(EXAMPLE).unwrap();
        config.ice[1].credential = None;
        let err = render_zone(&config, None).unwrap_err();
        assert!(
            matches!(&err, RenderError::Problems(p) if p.len() == 1),
            "{err}"
        );
        let mut config = parse_config(EXAMPLE).unwrap();
        config.domain = "not a domain".into();
        assert!(matches!(
            render_zone(&config, None),
            Err(RenderError::Domain(_))
        ));
    }

    #[test]
    fn quoting_escapes() {
        let record = TxtRecord {
            strings: vec![b"a\"b\\c\xff".to_vec(), b"d".to_vec()],
        };
        assert_eq!(quote(&record), r#""a\"b\\c\255" "d""#);
        assert_eq!(
            records_of(&format!("x TXT {}", quote(&record))),
            vec![record]
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_config_text_never_panics(text in "\\PC{0,200}") {
            if let Ok(config) = parse_config(&text) {
                let _ = render_zone(&config, None);
            }
        }
    }
}
