//! `seedmesh`: render, sign and check a domain's seed records (docs/seed-records.md).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod check;
mod records;

use std::process::ExitCode;
use std::time::Duration;

use seedmesh_core::discovery::signature::{PublicKey, SecretKey};
use seedmesh_core::discovery::{DohEndpoint, ResolverConfig, Source};

const USAGE: &str = "\
seedmesh: render, sign and check a domain's seed records (TXT at _seedmesh.<domain>)

usage:
  seedmesh render CONFIG.toml [--key SECRET_FILE]
      print the zone-file lines CONFIG.toml describes; with --key, signed
  seedmesh keygen SECRET_FILE
      make an ed25519 key: the secret goes to SECRET_FILE (mode 0600), the public key to
      stdout, for the page's build configuration (SEEDMESH_SEED_KEYS)
  seedmesh check DOMAIN [--doh URL]... [--key PUBLIC_KEY]... [--timeout MS]
      look DOMAIN up over DoH (every URL at once; `json:URL` for a JSON endpoint; default
      Cloudflare and Google) and print what a page would find: the configuration, the resolver
      that answered, the AD bit, each resolver's error and every problem. Exits 0 when a
      resolver answered with records that have no problem, 1 otherwise.

CONFIG.toml:
  domain = \"example.org\"
  ttl = 300
  peers = [\"example-org-seed-1\"]
  [[signal]]                      # also host/port/path/secure instead of url
  url = \"wss://0.peerjs.com/\"
  key = \"peerjs\"
  [[ice]]
  urls = [\"turn:turn.example.org:3478\"]
  username = \"user\"
  credential = \"secret\"
  [rendezvous]
  namespace = \"example-org\"
  slots = 8
";

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

fn render(args: &[String]) -> Result<ExitCode, String> {
    let (mut config_path, mut key_path) = (None, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--key" => key_path = Some(args.next().ok_or("--key needs a file")?),
            other if config_path.is_none() && !other.starts_with("--") => config_path = Some(other),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let config = records::parse_config(&read(config_path.ok_or("render needs a CONFIG file")?)?)
        .map_err(|e| e.to_string())?;
    let key = match key_path {
        Some(path) => Some(SecretKey::parse(&read(path)?).map_err(|e| format!("{path}: {e}"))?),
        None => None,
    };
    print!(
        "{}",
        records::render_zone(&config, key.as_ref()).map_err(|e| e.to_string())?
    );
    Ok(ExitCode::SUCCESS)
}

fn keygen(args: &[String]) -> Result<ExitCode, String> {
    let [path] = args else {
        return Err("keygen needs exactly one SECRET_FILE".into());
    };
    if std::path::Path::new(path).exists() {
        return Err(format!(
            "{path} exists; remove it first or choose another file"
        ));
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| format!("no randomness from the system: {e}"))?;
    let key = SecretKey::from_seed(seed);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create {path}: {e}"))?;
    std::io::Write::write_all(&mut file, format!("{}\n", key.to_text()).as_bytes())
        .map_err(|e| format!("cannot write {path}: {e}"))?;
    println!("{}", key.public_key());
    Ok(ExitCode::SUCCESS)
}

fn check_command(args: &[String]) -> Result<ExitCode, String> {
    let mut domain = None;
    let mut config = ResolverConfig {
        endpoints: Vec::new(),
        ..ResolverConfig::default()
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--doh" => config.endpoints.extend(DohEndpoint::parse_list(
                args.next().ok_or("--doh needs a URL")?,
            )),
            "--key" => {
                let key = args.next().ok_or("--key needs a public key")?;
                config
                    .pinned_keys
                    .push(PublicKey::parse(key).map_err(|e| format!("--key: {e}"))?);
            }
            "--timeout" => {
                let ms = args.next().ok_or("--timeout needs milliseconds")?;
                let ms: u64 = ms
                    .parse()
                    .map_err(|_| format!("--timeout: {ms:?} is not a number of milliseconds"))?;
                config.timeout = Duration::from_millis(ms);
            }
            other if domain.is_none() && !other.starts_with("--") => domain = Some(other),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    if config.endpoints.is_empty() {
        config.endpoints = DohEndpoint::defaults();
    }
    let report = check::lookup(domain.ok_or("check needs a DOMAIN")?, &config);
    print!("{}", check::render(&report, !config.pinned_keys.is_empty()));
    let good = report.source == Source::Network && report.problems.is_empty();
    Ok(if good {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("render") => render(&args[1..]),
        Some("keygen") => keygen(&args[1..]),
        Some("check") => check_command(&args[1..]),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => Err(format!("expected a command\n\n{USAGE}")),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("seedmesh: {message}");
            ExitCode::from(2)
        }
    }
}
