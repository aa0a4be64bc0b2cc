//! Running cases for a time budget and a case cap, and telling findings
//! apart from the errors hostile input is supposed to get.
//!
//! A finding is one of: a panic anywhere in the process (a panic hook
//! records it, including those on the server's blocking threads, which the
//! server would otherwise turn into a 500), a malformed or 5xx response, a
//! request over its time bound, a tree that does not survive printing, or
//! a case stuck past [`HANG_LIMIT`] (the watchdog then ends the process,
//! since a stuck thread cannot be interrupted).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::expr_target;
use crate::http_target::{self, Client};
use crate::rng::case_seed;

/// One expression case over this long is a finding (they take microseconds).
pub const EXPR_CASE_TIME_MAX: Duration = Duration::from_secs(2);
/// A case running this long is stuck: the watchdog reports it and exits.
pub const HANG_LIMIT: Duration = Duration::from_secs(60);
/// Distinct findings shown in full; repeats are only counted.
const FINDINGS_SHOWN_MAX: usize = 20;

/// What to fuzz.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The expression parsers and evaluators, called directly.
    Expr,
    /// Requests to an in-process server over loopback.
    Http,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Expr => "expr",
            Target::Http => "http",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    /// Case `i` of each target uses `case_seed(seed, i)`.
    pub seed: u64,
    /// Shared equally by the targets.
    pub budget: Duration,
    /// The most cases per target, whatever the budget.
    pub cases: u64,
    pub targets: Vec<Target>,
    /// Print findings as they are found.
    pub verbose: bool,
}

/// One finding: enough to replay it and to read what went wrong.
#[derive(Clone, Debug)]
pub struct Finding {
    pub target: Target,
    pub seed: u64,
    /// What makes two findings the same bug (a panic's location, a status
    /// and operation…): repeats are counted, not shown.
    pub signature: String,
    pub what: String,
    pub input: String,
}

impl Finding {
    pub fn render(&self) -> String {
        format!(
            "[{}] {}\n  replay: cargo xtask fuzz --target {} --seed {} --cases 1\n  input:\n    {}",
            self.target.name(),
            self.what,
            self.target.name(),
            self.seed,
            self.input.replace('\n', "\n    ")
        )
    }
}

/// Cases run and outcomes seen by one target.
#[derive(Clone, Debug)]
pub struct TargetReport {
    pub target: Target,
    pub cases: u64,
    pub elapsed: Duration,
    /// How far cases got, and how often: HTTP outcomes (`200`, `400
    /// ValidationException`…), or what the expression cases parsed and
    /// applied. A run that is all `SerializationException` reaches no
    /// handler; one where nothing parses tests no evaluator.
    pub outcomes: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub targets: Vec<TargetReport>,
    /// Distinct findings, first occurrence of each.
    pub findings: Vec<Finding>,
    /// Occurrences per signature.
    pub occurrences: BTreeMap<String, u64>,
}

impl Report {
    fn record(&mut self, finding: Finding, verbose: bool) {
        let count = self
            .occurrences
            .entry(finding.signature.clone())
            .or_insert(0);
        *count += 1;
        if *count == 1 && self.findings.len() < FINDINGS_SHOWN_MAX {
            if verbose {
                eprintln!("FINDING {}", finding.render());
            }
            self.findings.push(finding);
        }
    }

    pub fn found_anything(&self) -> bool {
        !self.occurrences.is_empty()
    }

    pub fn summary(&self) -> String {
        let mut lines = Vec::new();
        for target in &self.targets {
            let seconds = target.elapsed.as_secs_f64().max(1e-9);
            lines.push(format!(
                "{}: {} cases in {:.1} s ({:.0} cases/s)",
                target.target.name(),
                target.cases,
                seconds,
                target.cases as f64 / seconds
            ));
            for (outcome, count) in &target.outcomes {
                lines.push(format!("    {count:>9}  {outcome}"));
            }
        }
        if self.occurrences.is_empty() {
            lines.push("findings: none".into());
        } else {
            lines.push(format!("findings: {} distinct", self.occurrences.len()));
            for (signature, count) in &self.occurrences {
                lines.push(format!("    {count:>9}  {signature}"));
            }
        }
        lines.join("\n")
    }
}

// ---------------------------------------------------------------------------
// Panics.

fn panics() -> &'static Mutex<Vec<String>> {
    static PANICS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    PANICS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Whether cases are running: only their panics are findings.
static FUZZING: AtomicBool = AtomicBool::new(false);

/// While cases run, records every panic of the process instead of
/// printing it; outside them, panics are reported as usual (a test's
/// failed assertion must still show). Installed once.
pub fn install_panic_hook() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !FUZZING.load(Ordering::SeqCst) {
                previous(info);
                return;
            }
            let thread = std::thread::current();
            let text = format!(
                "panic on thread {}: {info}",
                thread.name().unwrap_or("unnamed")
            );
            if let Ok(mut list) = panics().lock() {
                list.push(text);
            }
        }));
    });
}

/// The panics recorded since the last call.
fn take_panics() -> Vec<String> {
    match panics().lock() {
        Ok(mut list) => std::mem::take(&mut *list),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    }
}

/// A panic's location (`file:line:col`), which identifies the bug.
fn panic_signature(panic: &str) -> String {
    let location = panic
        .split(" panicked at ")
        .nth(1)
        .or_else(|| panic.split(": ").nth(1))
        .unwrap_or(panic);
    let location = location.split(':').take(2).collect::<Vec<_>>().join(":");
    format!("panic at {location}")
}

/// A finding's text without its digits, cut short: the same complaint
/// about another table name or number is the same finding.
fn signature_of(what: &str) -> String {
    what.chars()
        .filter(|c| !c.is_ascii_digit())
        .take(160)
        .collect()
}

// ---------------------------------------------------------------------------
// The watchdog.

/// What the watchdog watches: the case running now and since when.
#[derive(Debug, Default)]
struct Current {
    /// Milliseconds since the run started, plus one; 0 when idle.
    since: AtomicU64,
    seed: AtomicU64,
    http: AtomicBool,
    stop: AtomicBool,
}

/// Ends the process if one case runs past [`HANG_LIMIT`].
fn watchdog(current: Arc<Current>, started: Instant, run_for: Duration) {
    let give_up = run_for + HANG_LIMIT * 2;
    std::thread::spawn(move || {
        // Bounded: it stops with the run, or after the run's time plus slack.
        while !current.stop.load(Ordering::Relaxed) && started.elapsed() < give_up {
            std::thread::sleep(Duration::from_millis(250));
            let since = current.since.load(Ordering::Relaxed);
            if since == 0 {
                continue;
            }
            let now = started.elapsed().as_millis() as u64 + 1;
            if now.saturating_sub(since) > HANG_LIMIT.as_millis() as u64 {
                let target = if current.http.load(Ordering::Relaxed) {
                    "http"
                } else {
                    "expr"
                };
                let seed = current.seed.load(Ordering::Relaxed);
                eprintln!(
                    "FINDING [{target}] a case has run for over {} s\n  replay: cargo xtask fuzz --target {target} --seed {seed} --cases 1",
                    HANG_LIMIT.as_secs()
                );
                std::process::exit(3);
            }
        }
    });
}

impl Current {
    fn begin(&self, started: Instant, seed: u64, http: bool) {
        self.seed.store(seed, Ordering::Relaxed);
        self.http.store(http, Ordering::Relaxed);
        self.since
            .store(started.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
    }

    fn end(&self) {
        self.since.store(0, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------
// The targets.

/// Runs every target of `options` and reports. `Err` only if the HTTP
/// target's server cannot start or refuses its fixtures.
pub fn run(options: &Options) -> Result<Report, String> {
    install_panic_hook();
    let started = Instant::now();
    let current = Arc::new(Current::default());
    watchdog(Arc::clone(&current), started, options.budget);
    let share = options.budget / options.targets.len().max(1) as u32;
    FUZZING.store(true, Ordering::SeqCst);
    let mut report = Report::default();
    let mut result = Ok(());
    for target in &options.targets {
        let outcome = match target {
            Target::Expr => {
                run_expr(options, share, &current, started, &mut report);
                Ok(())
            }
            Target::Http => run_http(options, share, &current, started, &mut report),
        };
        if outcome.is_err() {
            result = outcome;
            break;
        }
    }
    FUZZING.store(false, Ordering::SeqCst);
    current.stop.store(true, Ordering::Relaxed);
    result.map(|()| report)
}

fn run_expr(
    options: &Options,
    budget: Duration,
    current: &Current,
    started: Instant,
    report: &mut Report,
) {
    let begun = Instant::now();
    let mut cases = 0;
    let mut tally = expr_target::Tally::new();
    // Bounded by the case cap and the time budget.
    while cases < options.cases && (cases == 0 || begun.elapsed() < budget) {
        let seed = case_seed(options.seed, cases);
        cases += 1;
        current.begin(started, seed, false);
        let case_started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let case = expr_target::generate(seed);
            let result = expr_target::run(&case, &mut tally);
            (case.describe(), result)
        }));
        let elapsed = case_started.elapsed();
        current.end();
        let panics = take_panics();
        let finding = |signature: String, what: String, input: String| Finding {
            target: Target::Expr,
            seed,
            signature,
            what,
            input,
        };
        // Generating again is deterministic; a generator that panics is
        // itself reported, with no input to show.
        let input = || {
            let described = catch_unwind(|| expr_target::generate(seed).describe());
            take_panics();
            described.unwrap_or_else(|_| "(the generator panicked)".to_string())
        };
        if let Some(panic) = panics.first() {
            report.record(
                finding(panic_signature(panic), panic.clone(), input()),
                options.verbose,
            );
            continue;
        }
        match outcome {
            Ok((_, Err(what))) => {
                let signature = what.split(':').next().unwrap_or_default().to_string();
                report.record(finding(signature, what, input()), options.verbose);
            }
            Ok((described, Ok(()))) if elapsed > EXPR_CASE_TIME_MAX => {
                let what = format!("a case took {} ms", elapsed.as_millis());
                report.record(
                    finding("a slow expression case".into(), what, described),
                    options.verbose,
                );
            }
            _ => {}
        }
    }
    report.targets.push(TargetReport {
        target: Target::Expr,
        cases,
        elapsed: begun.elapsed(),
        outcomes: tally,
    });
}

fn run_http(
    options: &Options,
    budget: Duration,
    current: &Current,
    started: Instant,
    report: &mut Report,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    runtime.block_on(async {
        let mut addrs = Vec::new();
        let mut handles = Vec::new();
        for server in 0..http_target::SERVERS {
            let mut config = step05_api::ServerConfig::in_memory();
            config.throttling = server == http_target::THROTTLED;
            let (addr, handle) = step05_api::Server::bind(config)
                .await
                .map_err(|e| format!("cannot start a server: {e}"))?;
            addrs.push(addr);
            handles.push(handle);
        }
        let result = http_cases(options, budget, &addrs, current, started, report).await;
        for handle in handles {
            handle
                .shutdown()
                .await
                .map_err(|e| format!("a server did not stop cleanly: {e}"))?;
        }
        result
    })
}

async fn http_cases(
    options: &Options,
    budget: Duration,
    addrs: &[SocketAddr],
    current: &Current,
    started: Instant,
    report: &mut Report,
) -> Result<(), String> {
    let operations: Vec<String> = step05_api::ops::registry()
        .targets()
        .iter()
        .filter_map(|target| target.split_once('.').map(|(_, op)| op.to_string()))
        .collect();
    let mut clients: Vec<Client> = addrs.iter().map(|addr| Client::new(*addr)).collect();
    for client in &mut clients {
        http_target::create_fixtures(client).await?;
    }
    let begun = Instant::now();
    let mut cases = 0;
    let mut outcomes = BTreeMap::new();
    // Bounded by the case cap and the time budget.
    while cases < options.cases && (cases == 0 || begun.elapsed() < budget) {
        let seed = case_seed(options.seed, cases);
        cases += 1;
        current.begin(started, seed, true);
        let case = http_target::generate(seed, &operations);
        let Some(client) = clients.get_mut(case.server) else {
            return Err(format!("no server {}", case.server));
        };
        let response = client.send(&case.headers, &case.body).await;
        current.end();
        let panics = take_panics();
        let finding = |signature: String, what: String| Finding {
            target: Target::Http,
            seed,
            signature,
            what,
            input: case.describe(),
        };
        if let Some(panic) = panics.first() {
            report.record(
                finding(panic_signature(panic), panic.clone()),
                options.verbose,
            );
            continue;
        }
        match response {
            Err(what) => {
                let signature = format!("{} in {}", signature_of(&what), case.operation);
                report.record(finding(signature, what), options.verbose);
            }
            Ok(response) => {
                *outcomes.entry(http_target::outcome(&response)).or_insert(0) += 1;
                if let Err(what) = http_target::check(&case, &response) {
                    report.record(finding(signature_of(&what), what), options.verbose);
                }
            }
        }
    }
    report.targets.push(TargetReport {
        target: Target::Http,
        cases,
        elapsed: begun.elapsed(),
        outcomes,
    });
    Ok(())
}
