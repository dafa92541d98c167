//! `seedmesh check` against the real local stack (dnsdist serving tests/fixtures/discovery.zone,
//! a closed port, a hanging server, unbound with DNSSEC), started by scripts/stack.sh for this
//! test and stopped after it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

struct Stack {
    dir: PathBuf,
    env: HashMap<String, String>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl Stack {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("seedmesh-cli-check-{}", std::process::id()));
        let mut command = Command::new(root().join("scripts/stack.sh"));
        command.arg("start").arg(&dir);
        // Free ports of its own, whatever ports another stack of the caller's was given.
        for (name, _) in std::env::vars() {
            if name.starts_with("SEEDMESH_") && name.ends_with("_PORT") {
                command.env_remove(name);
            }
        }
        let status = command
            .status()
            .expect("running scripts/stack.sh (run scripts/setup.sh first)");
        if !status.success() {
            // Stop what did start, so that nothing is left running.
            let _ = Command::new(root().join("scripts/stack.sh"))
                .arg("stop")
                .arg(&dir)
                .status();
            panic!("the local stack did not start");
        }
        let text = std::fs::read_to_string(dir.join("env")).expect("the stack's env file");
        let env = text
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self { dir, env }
    }

    fn url(&self, name: &str) -> &str {
        &self.env[name]
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/stack.sh"))
            .arg("stop")
            .arg(&self.dir)
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn check(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_seedmesh"))
        .arg("check")
        .args(args)
        .output()
        .expect("running seedmesh");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), text)
}

#[test]
fn check_reads_live_records_and_reports_every_problem() {
    let stack = Stack::start();
    let doh = stack.url("SEEDMESH_DOH_URL");

    let (code, out) = check(&[
        "several.discovery.test",
        "--doh",
        doh,
        "--doh",
        stack.url("SEEDMESH_DOH_DOWN_URL"),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("source:     network"), "{out}");
    assert!(out.contains("\"namespace\": \"discovery-test\""), "{out}");
    // The resolver that is down is listed either way: refused, or not needed when the other
    // answered before its refusal came back.
    let down = stack.url("SEEDMESH_DOH_DOWN_URL");
    assert!(
        out.lines()
            .any(|l| l.contains(down) && (l.contains("refused") || l.contains("not needed"))),
        "{out}"
    );
    assert!(out.contains("problems (0)"), "{out}");

    // Alone, it is reported as refused.
    let (code, out) = check(&["several.discovery.test", "--doh", down]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("refused"), "{out}");

    let (code, out) = check(&["malformed.discovery.test", "--doh", doh]);
    assert_eq!(code, 1, "problems make the exit code 1: {out}");
    assert!(out.contains("problems (8)"), "{out}");
    assert!(out.contains("unknown key \"colour\" ignored"), "{out}");

    let (code, out) = check(&["missing.discovery.test", "--doh", doh]);
    assert_eq!(code, 1);
    assert!(out.contains("no seed records (NXDOMAIN)"), "{out}");

    let key = "ed25519:/e+NPpq7UIVpV1L8ZOmQ+51tt1qdtXpCtH4BIjIJ2SA=";
    let (code, out) = check(&["signed.discovery.test", "--doh", doh, "--key", key]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("signature:  valid"), "{out}");
    let (code, out) = check(&["tampered.discovery.test", "--doh", doh, "--key", key]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("no signature on the seed records verifies"),
        "{out}"
    );

    let (code, out) = check(&[
        "several.discovery.test",
        "--doh",
        stack.url("SEEDMESH_DOH_HANG_URL"),
        "--timeout",
        "300",
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("timed out"), "{out}");

    let (code, out) = check(&["secure.test", "--doh", stack.url("SEEDMESH_DOH_AD_URL")]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("AD set"), "{out}");

    let (code, out) = check(&["bad domain", "--doh", doh]);
    assert_eq!(code, 1);
    assert!(out.contains("not a valid domain name"), "{out}");
}
