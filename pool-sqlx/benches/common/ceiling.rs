//! What the ceiling tables of pool-sqlx's and pool-postgres's `select_one` benches share:
//! the run's settings, pgbench (the server's own limit, the reference both tables divide
//! by) and how a column of per-round ratios is printed. One copy, included by both
//! (`#[path]`): a bench target cannot depend on another package's bench.

use std::time::Duration;

use tokio::runtime::Runtime;

/// The server: `TEST_POSTGRES_URL`, else `DATABASE_URL`.
pub(crate) fn url() -> Option<String> {
    std::env::var("TEST_POSTGRES_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .ok()
}

/// Rounds and seconds per side: 5 × 3 s, or `CEILING_ROUNDS` and `CEILING_SECONDS` (a
/// smoke run: `CEILING_ROUNDS=1 CEILING_SECONDS=1`).
pub(crate) fn rounds_and_seconds() -> (usize, u64) {
    let read = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse::<u64>().ok())
            .filter(|&value| value > 0)
            .unwrap_or(default)
    };
    (
        read("CEILING_ROUNDS", 5) as usize,
        read("CEILING_SECONDS", 3),
    )
}

/// The runtime the ceiling runs on: the multi-thread one, or with `CEILING_WORKERS=1` a
/// current-thread one (where a connection's wake-ups cannot move between workers); and
/// its name for the table's heading.
pub(crate) fn runtime() -> (Runtime, &'static str) {
    if std::env::var("CEILING_WORKERS").is_ok_and(|workers| workers == "1") {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        (runtime, "current-thread runtime")
    } else {
        (Runtime::new().unwrap(), "multi-thread runtime, 2 workers")
    }
}

/// The ceiling table's heading, for a pool called `pool`.
pub(crate) fn print_heading(rounds: usize, seconds: u64, flavour: &str, pool: &str) {
    println!(
        "\nceiling: {rounds} rounds of {seconds} s per side; {flavour}; pgbench -M prepared -j 2; all on this machine's cores"
    );
    println!(
        "| tasks | pgbench, q/s | raw held, q/s | {pool}, q/s | {pool} / raw held, median [IQR] | raw held / pgbench, median [IQR] | {pool} / pgbench, median [IQR] |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
}

/// One row of the ceiling table: each side's median rate and the per-round ratios.
pub(crate) fn print_row(tasks: u64, pgbench: &[f64], raw: &[f64], pool: &[f64]) {
    println!(
        "| {tasks} | {:.0} | {:.0} | {:.0} | {} | {} | {} |",
        median(pgbench),
        median(raw),
        median(pool),
        ratio(pool, raw),
        ratio(raw, pgbench),
        ratio(pool, pgbench),
    );
}

/// The median of the per-round ratios `a[i] / b[i]`, with their interquartile range.
pub(crate) fn ratio(a: &[f64], b: &[f64]) -> String {
    let mut ratios: Vec<f64> = a.iter().zip(b).map(|(a, b)| a / b).collect();
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
    format!("{:.2}× [{:.2}–{:.2}]", at(0.5), at(0.25), at(0.75))
}

/// The median (the upper one of an even count).
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut values = values.to_vec();
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The warm-up every turn starts with (connections open, statement prepared), as
/// pgbench's own connects are outside its measured time.
pub(crate) const WARM_UP: Duration = Duration::from_millis(500);

/// pgbench: `$PGBENCH`, else on `PATH`.
pub(crate) fn pgbench() -> Option<std::path::PathBuf> {
    if let Ok(path) = std::env::var("PGBENCH") {
        return Some(path.into());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("pgbench"))
            .find(|candidate| candidate.is_file())
    })
}

/// The line printed instead of the ceiling table without pgbench.
pub(crate) const NO_PGBENCH: &str =
    "\nSKIPPED the ceiling table: pgbench is not installed (apt-get install postgresql-client)";

/// pgbench's transactions per second (one `SELECT 1` each) with `clients` clients.
pub(crate) fn pgbench_rate(
    pgbench: &std::path::Path,
    url: &str,
    clients: u64,
    seconds: u64,
) -> f64 {
    let script = std::env::temp_dir().join(format!("select_one_{}.sql", std::process::id()));
    std::fs::write(&script, "SELECT 1;\n").unwrap();
    // libpq takes the URL as the database name; pool parameters it does not know are
    // not in TEST_POSTGRES_URL.
    let output = std::process::Command::new(pgbench)
        .args(["-n", "-M", "prepared", "-j", "2"])
        .arg(format!("-c{clients}"))
        .arg(format!("-T{seconds}"))
        .arg("-f")
        .arg(&script)
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix("tps = ")?;
            rest.split_whitespace().next()?.parse::<f64>().ok()
        })
        .unwrap_or_else(|| {
            panic!(
                "pgbench gave no tps: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
}
