//! `seedmesh check`: the core's lookup machine driven over native HTTP, one thread a request.

use std::sync::mpsc;
use std::time::{Duration, Instant as StdInstant};

use seedmesh_core::Instant;
use seedmesh_core::discovery::dns::MAX_RESPONSE_BYTES;
use seedmesh_core::discovery::{
    AttemptOutcome, DiscoveryReport, FetchRequest, HttpResponse, Lookup, LookupOutput, RequestId,
    ResolverConfig, SignatureStatus, TxtRecord,
};

type Reply = (RequestId, Result<HttpResponse, String>);

fn get(agent: &ureq::Agent, request: &FetchRequest) -> Result<HttpResponse, String> {
    let mut response = agent
        .get(&request.url)
        .header("accept", request.accept)
        .call()
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BYTES as u64)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    Ok(HttpResponse {
        status,
        content_type,
        body,
    })
}

/// Looks `domain` up with `config`, every endpoint at once.
pub fn lookup(domain: &str, config: &ResolverConfig) -> DiscoveryReport {
    let epoch = StdInstant::now();
    let now =
        || Instant::from_millis(u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(config.timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let (replies, inbox) = mpsc::channel::<Reply>();
    let mut lookup = Lookup::new(now(), domain, config, None);
    loop {
        while let Some(output) = lookup.poll_output() {
            match output {
                LookupOutput::Fetch(request) => {
                    let agent = agent.clone();
                    let replies = replies.clone();
                    // Each thread ends by its own timeout; an abandoned one sends into a closed
                    // channel and exits.
                    std::thread::spawn(move || {
                        let _ = replies.send((request.id, get(&agent, &request)));
                    });
                }
                LookupOutput::Abort(_) | LookupOutput::Store(_) => {}
                LookupOutput::Done(report) => return *report,
            }
        }
        let wait = lookup
            .poll_timeout()
            .map_or(Duration::from_millis(10), |deadline| {
                Duration::from_millis(deadline.as_millis().saturating_sub(now().as_millis()))
            });
        match inbox.recv_timeout(wait) {
            Ok((id, Ok(response))) => lookup.handle_response(now(), id, &response),
            Ok((id, Err(why))) => lookup.handle_transport_error(now(), id, &why),
            Err(_) => lookup.handle_timeout(now()),
        }
    }
}

fn text(record: &TxtRecord) -> String {
    record
        .strings
        .iter()
        .map(|s| format!("{:?}", String::from_utf8_lossy(s)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The report as the operator reads it.
#[must_use]
pub fn render(report: &DiscoveryReport, keys_pinned: bool) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!("name:       {}", report.seed_name));
    line(format!("source:     {}", report.source));
    if let Some(resolver) = &report.resolver {
        line(format!("resolver:   {resolver}"));
    }
    line(format!("elapsed:    {} ms", report.elapsed.as_millis()));
    line(format!(
        "dnssec:     {}",
        if report.authenticated {
            "AD set (validated by the resolver)"
        } else {
            "AD not set"
        }
    ));
    line(format!(
        "signature:  {}",
        match report.signature {
            SignatureStatus::Valid(i) => format!("valid (pinned key #{i})"),
            _ if keys_pinned => "no records that verify".into(),
            _ => "not checked (no key given)".into(),
        }
    ));
    if let Some(error) = &report.error {
        line(format!("error:      {error}"));
    }
    line("resolvers:".into());
    for attempt in &report.attempts {
        let outcome = match &attempt.outcome {
            AttemptOutcome::Answered => "answered".to_string(),
            AttemptOutcome::NoRecords(code) => format!("no records ({code})"),
            AttemptOutcome::Failed(e) => format!("failed: {e}"),
            AttemptOutcome::TimedOut => "timed out".into(),
            AttemptOutcome::Aborted => "not needed (another answered first)".into(),
            other => format!("{other:?}"),
        };
        let ms = attempt.elapsed.map(|e| format!(" ({} ms)", e.as_millis()));
        line(format!(
            "  {}{}: {outcome}",
            attempt.resolver,
            ms.unwrap_or_default()
        ));
    }
    line(format!("records ({}):", report.records.len()));
    for record in &report.records {
        line(format!("  {}", text(record)));
    }
    let config = serde_json::to_string_pretty(&report.config).unwrap_or_default();
    line(format!("configuration:\n{config}"));
    line(format!("problems ({}):", report.problems.len()));
    for problem in &report.problems {
        line(format!("  {problem}"));
    }
    out
}
