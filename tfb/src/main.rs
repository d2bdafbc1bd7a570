//! TechEmpower Framework Benchmarks' database tests (`/db`, `/queries`, `/updates`,
//! `/fortunes`) as a bench service, in five stacks: `attributes` (pool-sqlx under
//! `#[resilient]` and `#[pooled]`), `plain` (the same pool-sqlx pool without the
//! attributes), `pgpool` (sqlx's `PgPool`), `deadpool` (deadpool-postgres) and `postgres`
//! (pool-postgres under the same attributes as `attributes`); and, with `--stacks`, three
//! that take the attributes' cost apart, `untimed`, `pooled` and `postgres-plain` (see
//! `stacks`).
//!
//! One more test, `queries-pipelined` (not in the default `--tests`), is for the
//! tokio-postgres stacks (`deadpool`, `postgres`, `postgres-plain`): in each round each runs
//! `/queries?q=20` and `/queries-pipelined?q=20` (the same 20 rows, every query in flight
//! at once on the one connection) back to back, and the report gives pipelined / one at
//! a time per stack. The other stacks are left out of that test.
//!
//! ```text
//! tfb/run.sh                                   # installs wrk if missing, builds, runs the bench
//! cargo run --release -p tfb -- bench [--duration 5] [--rounds 3] [--connections 64,256]
//!                                     [--tests db,queries,updates,fortunes,queries-pipelined]
//!                                     [--stacks attributes,plain,pgpool,deadpool,postgres,untimed,pooled,postgres-plain]
//!                                     [--json target/tfb.json]
//! cargo run --release -p tfb -- serve --stack attributes|plain|pgpool|deadpool|postgres|untimed|pooled|postgres-plain [--listen ADDR]
//! ```
//!
//! `--stacks` takes the names in any order, a name more than once included (each is a
//! service of its own: `plain,attributes,plain,attributes` is an A/A run); the report lists
//! them in the order given, and the default is the first five.
//!
//! `--json PATH` also writes every `wrk` run's figures to PATH (see `record`): the input of
//! `cargo run -p bench-plots -- tfb PATH OUT.png`, the plot in `BENCHMARKS.md`.
//!
//! The database is `TFB_DATABASE_URL`, else `TEST_POSTGRES_URL`, else `DATABASE_URL`: a
//! PostgreSQL server on which `bench` may create (and at the end drop) the database
//! `tfb_bench`. `serve` uses that URL as it is.
//!
//! A benchmark, not a test: nothing here asserts a speed.

mod driver;
mod postgres_sql;
mod record;
mod service;
mod setup;
mod sql;
mod stacks;

use std::{net::SocketAddr, process::ExitCode, time::Duration};

use stacks::{Kind, Stack};

fn database_url() -> Result<String, String> {
    ["TFB_DATABASE_URL", "TEST_POSTGRES_URL", "DATABASE_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|url| !url.is_empty()))
        .ok_or_else(|| {
            "set TFB_DATABASE_URL (or TEST_POSTGRES_URL) to a PostgreSQL server, e.g. \
             postgres://postgres@127.0.0.1:5432/test"
                .to_owned()
        })
}

/// The value after `flag` in `args`, if present.
fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|arg| arg == flag)
        .and_then(|index| args.get(index + 1))
        .map(String::as_str)
}

fn plan(args: &[String]) -> Result<driver::Plan, String> {
    let number = |name: &str, default: u64| -> Result<u64, String> {
        flag(args, name).map_or(Ok(default), |value| {
            value
                .parse()
                .map_err(|_| format!("{name} must be a whole number, not `{value}`"))
        })
    };
    let connections = flag(args, "--connections")
        .unwrap_or("64,256")
        .split(',')
        .map(|value| {
            value
                .trim()
                .parse::<u32>()
                .map_err(|_| format!("--connections takes numbers, not `{value}`"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let tests = flag(args, "--tests")
        .unwrap_or("db,queries,updates,fortunes")
        .split(',')
        .map(|name| {
            driver::TESTS
                .into_iter()
                .find(|path| path[1..].starts_with(name.trim()))
                .ok_or_else(|| {
                    format!(
                        "--tests: no test `{name}` (db, queries, updates, fortunes, \
                         queries-pipelined)"
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let stacks = match flag(args, "--stacks") {
        None => Kind::DEFAULT.to_vec(),
        Some(names) => names
            .split(',')
            .map(|name| {
                Kind::parse(name.trim())
                    .ok_or_else(|| format!("--stacks: no stack `{name}` ({})", Kind::names(", ")))
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(driver::Plan {
        stacks,
        duration: Duration::from_secs(number("--duration", 5)?),
        rounds: number("--rounds", 3)?.max(1) as usize,
        connections,
        tests,
        json: flag(args, "--json").map(std::path::PathBuf::from),
    })
}

async fn bench(args: &[String]) -> Result<(), String> {
    let plan = plan(args)?;
    let admin_url = database_url()?;
    let url = setup::create(&admin_url)
        .await
        .map_err(|error| format!("create the bench database: {error}"))?;
    let result = tokio::task::spawn_blocking(move || driver::run(&plan, &url))
        .await
        .map_err(|error| format!("the bench driver failed: {error}"))?;
    if let Err(error) = setup::drop_database(&admin_url).await {
        eprintln!("tfb: could not drop {}: {error}", setup::DATABASE);
    }
    result
}

async fn serve(args: &[String]) -> Result<(), String> {
    let name =
        flag(args, "--stack").ok_or_else(|| format!("serve needs --stack {}", Kind::names("|")))?;
    let kind = Kind::parse(name)
        .ok_or_else(|| format!("--stack: no stack `{name}` ({})", Kind::names(", ")))?;
    let listen: SocketAddr = flag(args, "--listen")
        .unwrap_or("127.0.0.1:8080")
        .parse()
        .map_err(|error| format!("--listen: {error}"))?;
    let stack = Stack::connect(kind, &database_url()?)
        .await
        .map_err(|error| format!("connect the {name} stack: {error}"))?;
    service::serve(stack, listen)
        .await
        .map_err(|error| format!("serve: {error}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("bench") => bench(&args).await,
        Some("serve") => serve(&args).await,
        _ => Err(format!(
            "usage: tfb bench [--duration SECS] [--rounds N] [--connections 64,256] \
             [--tests db,queries,updates,fortunes,queries-pipelined] [--stacks a,b,...] [--json PATH] | \
             tfb serve --stack {} [--listen ADDR]",
            Kind::names("|")
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tfb: {error}");
            ExitCode::FAILURE
        }
    }
}
