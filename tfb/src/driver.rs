//! `tfb bench`: starts one service per stack, loads each with `wrk` in interleaved rounds,
//! and prints per-round ratios (median and interquartile range), requests/s and p99.
//!
//! Interleaving: in every round each test runs on every stack back to back, in an order
//! that rotates from round to round, so slow drifts of a shared 2-core machine (wrk, the
//! services and PostgreSQL all run on it) fall on every stack alike and each round's
//! ratio compares like with like.
//!
//! The pipelined test (`queries-pipelined`) is a cell of its own kind: each stack that
//! pipelines runs there twice per round, `/queries?q=20` and `/queries-pipelined?q=20`,
//! in the same rotation, so pipelined / one at a time is paired like any other ratio.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::{
    record::{Record, Sample},
    stacks::Kind,
};

/// What `tfb bench` was asked to run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// How long each `wrk` run lasts.
    pub(crate) duration: Duration,
    /// Rounds per (test, connections) cell.
    pub(crate) rounds: usize,
    /// `wrk -c` values.
    pub(crate) connections: Vec<u32>,
    /// Paths to load (`/db`, `/queries?q=20`, …, [`PIPELINED`]).
    pub(crate) tests: Vec<&'static str>,
    /// The stacks to compare.
    pub(crate) stacks: Vec<Kind>,
    /// Where to write every run's figures as JSON (`--json`), if anywhere.
    pub(crate) json: Option<std::path::PathBuf>,
}

/// The four TechEmpower tests, as loaded, then the pipelined `/queries` (after the plain
/// one: `--tests queries` picks the first test whose name starts so).
pub(crate) const TESTS: [&str; 5] = [
    "/db",
    ONE_AT_A_TIME,
    "/updates?q=20",
    "/fortunes",
    PIPELINED,
];

/// TechEmpower's `/queries`: 20 queries, each sent when the one before has answered.
const ONE_AT_A_TIME: &str = "/queries?q=20";

/// The same 20 queries in flight at once on the one connection: loaded only on the stacks
/// that pipeline ([`Kind::pipelines`]), each beside its own [`ONE_AT_A_TIME`].
pub(crate) const PIPELINED: &str = "/queries-pipelined?q=20";

/// One service loaded at one path: a row of a cell's report.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The index of the service in the run's list.
    service: usize,
    /// The path `wrk` loads.
    path: &'static str,
    /// Whether `path` is the pipelined `/queries`.
    pipelined: bool,
}

/// A stack and whether its queries are pipelined: how a report row is named.
fn label(kind: Kind, pipelined: bool) -> String {
    if pipelined {
        format!("{} pipelined", kind.name())
    } else {
        kind.name().to_owned()
    }
}

/// What one test's cells load: every service at `test`, or, for [`PIPELINED`], each
/// service that pipelines at both `/queries` paths.
fn entries(test: &'static str, services: &[Service]) -> Vec<Entry> {
    services
        .iter()
        .enumerate()
        .flat_map(|(service, running)| {
            let both = [(ONE_AT_A_TIME, false), (PIPELINED, true)];
            let paths: &[(&'static str, bool)] = if test != PIPELINED {
                &[(test, false)]
            } else if running.kind.pipelines() {
                &both
            } else {
                &[]
            };
            paths
                .iter()
                .map(move |&(path, pipelined)| Entry {
                    service,
                    path,
                    pipelined,
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A service started for the bench; killed on drop.
struct Service {
    kind: Kind,
    child: Child,
    base: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(kind: Kind, url: &str) -> Result<Service, String> {
    let exe = std::env::current_exe().map_err(|error| format!("own executable: {error}"))?;
    let mut child = Command::new(exe)
        .args(["serve", "--stack", kind.name(), "--listen", "127.0.0.1:0"])
        .env("TFB_DATABASE_URL", url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|error| format!("start the {} service: {error}", kind.name()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|error| format!("read the {} service's address: {error}", kind.name()))?;
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| {
            format!(
                "the {} service did not start: `{}`",
                kind.name(),
                line.trim()
            )
        })?
        .to_owned();
    Ok(Service { kind, child, base })
}

/// One `wrk` run's figures.
#[derive(Debug, Clone, Copy)]
struct Run {
    requests_per_second: f64,
    p99: Duration,
    /// Non-2xx answers: the service's own failures (it logs each one).
    failed: u64,
    /// wrk's socket errors (connect, read, write, timeout: wrk gives up after 2 s).
    socket: u64,
}

fn wrk(url: &str, connections: u32, duration: Duration) -> Result<Run, String> {
    let output = Command::new("wrk")
        .args([
            "-t2".to_owned(),
            format!("-c{connections}"),
            format!("-d{}s", duration.as_secs().max(1)),
            "--latency".to_owned(),
            url.to_owned(),
        ])
        .output()
        .map_err(|error| format!("run wrk (install it: apt-get install wrk): {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    parse_wrk(&text).ok_or_else(|| format!("unreadable wrk output:\n{text}"))
}

fn parse_wrk(text: &str) -> Option<Run> {
    let mut requests_per_second = None;
    let mut p99 = None;
    let (mut failed, mut socket) = (0, 0);
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", value] => requests_per_second = value.parse().ok(),
            ["99%", value] => p99 = parse_latency(value),
            ["Non-2xx", "or", "3xx", "responses:", count] => failed += count.parse::<u64>().ok()?,
            ["Socket", "errors:", rest @ ..] => {
                // "connect 0, read 0, write 0, timeout 12"
                socket += rest
                    .iter()
                    .filter_map(|word| word.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    Some(Run {
        requests_per_second: requests_per_second?,
        p99: p99?,
        failed,
        socket,
    })
}

fn parse_latency(value: &str) -> Option<Duration> {
    let (number, scale) = if let Some(n) = value.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = value.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = value.strip_suffix('m') {
        (n, 60.0)
    } else {
        return None;
    };
    Some(Duration::from_secs_f64(number.parse::<f64>().ok()? * scale))
}

fn median(values: &mut [f64]) -> f64 {
    quantile(values, 0.5)
}

/// The q-quantile by linear interpolation between order statistics.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let rank = q * (values.len() - 1) as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    values[low] + (values[high] - values[low]) * (rank - low as f64)
}

/// Runs the plan against a database at `url` and prints the report.
pub(crate) fn run(plan: &Plan, url: &str) -> Result<(), String> {
    let services = plan
        .stacks
        .iter()
        .map(|&kind| start(kind, url))
        .collect::<Result<Vec<_>, _>>()?;
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "tfb: {} rounds of {:?} per cell, wrk -t2, connections {:?}; wrk, the services and \
         PostgreSQL share this machine's {cores} cores",
        plan.rounds, plan.duration, plan.connections,
    );
    let mut record = Record {
        duration_seconds: plan.duration.as_secs(),
        rounds: plan.rounds,
        connections: plan.connections.clone(),
        stacks: plan.stacks.iter().map(|kind| kind.name()).collect(),
        machine_cores: cores,
        runs: Vec::new(),
    };
    for service in &services {
        // Warm every stack's pool and caches before anything is measured.
        wrk(&format!("{}/db", service.base), 64, Duration::from_secs(2))?;
    }
    let started = std::time::Instant::now();
    for &test in &plan.tests {
        let entries = entries(test, &services);
        if entries.is_empty() {
            println!(
                "\n{test}: skipped, no stack in --stacks pipelines ({})",
                Kind::ALL
                    .into_iter()
                    .filter(|kind| kind.pipelines())
                    .map(Kind::name)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            continue;
        }
        for &connections in &plan.connections {
            // runs[entry][round]
            let mut runs: Vec<Vec<Run>> = vec![Vec::new(); entries.len()];
            for round in 0..plan.rounds {
                for offset in 0..entries.len() {
                    let index = (round + offset) % entries.len();
                    let entry = entries[index];
                    let service = &services[entry.service];
                    let run = wrk(
                        &format!("{}{}", service.base, entry.path),
                        connections,
                        plan.duration,
                    )?;
                    // Every run, as it ends: a tail that comes and goes shows here, and
                    // when, to be laid beside the server's log (checkpoints, autovacuum).
                    eprintln!(
                        "tfb: {:>7.1} s {} c{connections} round {round} {}: {:.0} req/s, p99 {:.1} ms",
                        started.elapsed().as_secs_f64(),
                        entry.path,
                        label(service.kind, entry.pipelined),
                        run.requests_per_second,
                        run.p99.as_secs_f64() * 1e3,
                    );
                    record.runs.push(Sample {
                        test,
                        path: entry.path,
                        connections,
                        service: entry.service,
                        stack: service.kind.name(),
                        pipelined: entry.pipelined,
                        round,
                        requests_per_second: run.requests_per_second,
                        p99_ms: run.p99.as_secs_f64() * 1e3,
                        failed: run.failed,
                        socket_errors: run.socket,
                    });
                    runs[index].push(run);
                }
            }
            report(test, connections, &services, &entries, &runs);
        }
    }
    match &plan.json {
        Some(path) => {
            record.write(path)?;
            println!("\ntfb: every run's figures in {}", path.display());
            Ok(())
        }
        None => Ok(()),
    }
}

fn report(
    test: &str,
    connections: u32,
    services: &[Service],
    entries: &[Entry],
    runs: &[Vec<Run>],
) {
    println!("\n{test}, {connections} connections");
    println!("| stack | requests/s (median) | p99 (median) | failed (non-2xx) | socket errors |");
    println!("|---|---:|---:|---:|---:|");
    for (entry, runs) in entries.iter().zip(runs) {
        let mut rps: Vec<f64> = runs.iter().map(|run| run.requests_per_second).collect();
        let mut p99: Vec<f64> = runs.iter().map(|run| run.p99.as_secs_f64() * 1e3).collect();
        let failed: u64 = runs.iter().map(|run| run.failed).sum();
        let socket: u64 = runs.iter().map(|run| run.socket).sum();
        println!(
            "| {} | {:.0} | {:.2} ms | {failed} | {socket} |",
            label(services[entry.service].kind, entry.pipelined),
            median(&mut rps),
            median(&mut p99)
        );
    }
    // The first row of that stack (a stack given twice in --stacks: its first service).
    let index = |(kind, pipelined): (Kind, bool)| {
        entries
            .iter()
            .position(|entry| services[entry.service].kind == kind && entry.pipelined == pipelined)
    };
    let ratio = |a: (Kind, bool), b: (Kind, bool)| -> Option<String> {
        let (a, b) = (index(a)?, index(b)?);
        let mut ratios: Vec<f64> = runs[a]
            .iter()
            .zip(&runs[b])
            .map(|(a, b)| a.requests_per_second / b.requests_per_second)
            .collect();
        let mut p99: Vec<f64> = runs[a]
            .iter()
            .zip(&runs[b])
            .map(|(a, b)| a.p99.as_secs_f64() / b.p99.as_secs_f64())
            .collect();
        Some(format!(
            "{:.2}× [{:.2}–{:.2}], p99 {:.2}×",
            median(&mut ratios.clone()),
            quantile(&mut ratios.clone(), 0.25),
            quantile(&mut ratios, 0.75),
            median(&mut p99),
        ))
    };
    let (one, pipelined) = (|kind| (kind, false), |kind| (kind, true));
    let mut pairs = Vec::new();
    for theirs in [Kind::PgPool, Kind::Deadpool] {
        pairs.push((one(Kind::Attributes), one(theirs)));
    }
    // The pools on one driver; then the drivers under one pool and the same attributes.
    pairs.push((one(Kind::Postgres), one(Kind::Deadpool)));
    pairs.push((one(Kind::Postgres), one(Kind::Attributes)));
    // pool-postgres by hand: against deadpool the pools and clients alone, against
    // `postgres` what the attributes cost on tokio-postgres.
    pairs.push((one(Kind::PostgresPlain), one(Kind::Deadpool)));
    pairs.push((one(Kind::Postgres), one(Kind::PostgresPlain)));
    for kind in [Kind::Attributes, Kind::Untimed, Kind::Pooled] {
        pairs.push((one(kind), one(Kind::Plain)));
    }
    for kind in [Kind::Deadpool, Kind::Postgres, Kind::PostgresPlain] {
        pairs.push((pipelined(kind), one(kind)));
    }
    pairs.push((pipelined(Kind::Postgres), pipelined(Kind::Deadpool)));
    pairs.push((pipelined(Kind::PostgresPlain), pipelined(Kind::Deadpool)));
    pairs.push((pipelined(Kind::Postgres), pipelined(Kind::PostgresPlain)));
    for (a, b) in pairs {
        if let Some(line) = ratio(a, b) {
            println!("{} / {}: {line}", label(a.0, a.1), label(b.0, b.1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "Running 5s test @ http://127.0.0.1:1/db
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms    1.02ms  20.31ms   80.00%
    Req/Sec    15.20k     1.10k   17.00k    70.00%
  Latency Distribution
     50%    1.90ms
     75%    2.50ms
     90%    3.20ms
     99%    5.75ms
  151234 requests in 5.00s, 20.11MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  30246.80
Transfer/sec:      4.02MB
";

    #[test]
    fn reads_wrk_figures() {
        let run = parse_wrk(WRK).unwrap();
        assert!((run.requests_per_second - 30246.80).abs() < 1e-6);
        assert_eq!(run.p99, Duration::from_micros(5750));
        assert_eq!((run.failed, run.socket), (4, 3));
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(quantile(&mut [1.0, 2.0, 3.0, 4.0, 5.0], 0.25), 2.0);
        assert_eq!(parse_latency("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_latency("250.00us"), Some(Duration::from_micros(250)));
    }
}
