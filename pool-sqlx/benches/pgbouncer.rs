//! `SELECT 1` through a real PgBouncer (transaction mode, `pgbouncer=true`) vs directly to
//! PostgreSQL, at 1 and 16 tasks, in the same run; prints the throughput ratios at the
//! end.
//!
//! ```text
//! TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p pool-sqlx --bench pgbouncer
//! ```
//!
//! The bench starts its own PgBouncer (`$PGBOUNCER`, `pgbouncer` on `PATH` or
//! `/usr/sbin/pgbouncer`; with `-u postgres` when run as root) on a free loopback port with
//! a generated configuration in a temp dir (`pool_mode = transaction`, a server pool of
//! 16, `auth_type = trust`: the local server must trust loopback logins), and kills it at
//! the end. Without a URL or without PgBouncer it says so and measures nothing. (It cannot
//! use the `tests` crate's harness: `tests` depends on `pool-sqlx`, so as a dev-dependency
//! here it would link a second copy of `pool-sqlx`.)
//!
//! Both pools: `Config::from_url` defaults with `connection_limit=16`; one element is
//! `pool.get()` + `conn.execute("SELECT 1")` (simple protocol: the statement every
//! configuration can run, and what a parameterless query through the bouncer should be)
//! + return.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a benchmark: failing loudly is the point

use std::{
    collections::BTreeMap,
    fs,
    net::{Ipv4Addr, TcpListener},
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pool_sqlx::{
    Config, PgPool,
    sqlx::{self, ConnectOptions, Executor, postgres::PgConnectOptions},
};
use tokio::{runtime::Runtime, time::Instant};
use url::Url;

const TASKS: [u64; 2] = [1, 16];

/// Everything criterion timed, per (tasks, case): (queries, time).
type Totals = BTreeMap<(u64, &'static str), (u64, Duration)>;
const SERVER_POOL: usize = 16;

fn url() -> Option<String> {
    std::env::var("TEST_POSTGRES_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .ok()
        .filter(|url| !url.is_empty())
}

fn binary() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("PGBOUNCER")
        && !path.is_empty()
    {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("pgbouncer"))
                .find(|candidate| candidate.is_file())
        })
        .or_else(|| {
            let debian = PathBuf::from("/usr/sbin/pgbouncer");
            debian.is_file().then_some(debian)
        })
}

/// A PgBouncer in front of the server `url` names, killed (and its files removed) on drop.
struct Bouncer {
    child: Child,
    dir: PathBuf,
    url: Url,
}

impl Bouncer {
    fn start(binary: &PathBuf, server: &Url, runtime: &Runtime) -> Bouncer {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("pool-sqlx-bench-pgbouncer-{port}"));
        fs::create_dir_all(&dir).unwrap();
        let user = match server.username() {
            "" => "postgres",
            user => user,
        };
        let users = dir.join("userlist.txt");
        fs::write(
            &users,
            format!("\"{user}\" \"{}\"\n", server.password().unwrap_or("")),
        )
        .unwrap();
        let ini = dir.join("pgbouncer.ini");
        let host = server.host_str().unwrap_or("127.0.0.1");
        let server_port = server.port().unwrap_or(5432);
        fs::write(
            &ini,
            format!(
                "[databases]\n* = host={host} port={server_port}\n\n[pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = trust\nauth_file = {}\npool_mode = transaction\n\
                 default_pool_size = {SERVER_POOL}\nmax_client_conn = 200\n",
                users.display()
            ),
        )
        .unwrap();
        for path in [&dir, &users, &ini] {
            let mode = if path.is_dir() { 0o755 } else { 0o644 };
            fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
        }
        let mut command = Command::new(binary);
        if fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0) {
            // PgBouncer refuses to run as root.
            command.arg("-u").arg("postgres");
        }
        let child = command
            .arg(&ini)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(fs::File::create(dir.join("log")).unwrap()))
            .spawn()
            .unwrap();
        let mut url = server.clone();
        url.set_port(Some(port)).unwrap();
        let mut bouncer = Bouncer { child, dir, url };
        // Poll until a login through it works, with a deadline.
        let options = PgConnectOptions::from_url(&bouncer.url)
            .unwrap()
            .extra_float_digits(None);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        runtime.block_on(async {
            loop {
                if let Ok(Some(status)) = bouncer.child.try_wait() {
                    panic!("pgbouncer exited with {status}: {}", bouncer.log());
                }
                if let Ok(mut conn) = options.connect().await
                    && conn.execute("SELECT 1").await.is_ok()
                {
                    return;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "pgbouncer did not accept a login within 10 s: {}",
                    bouncer.log()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        bouncer.url.set_query(Some(&format!(
            "pgbouncer=true&connection_limit={SERVER_POOL}"
        )));
        bouncer
    }

    fn log(&mut self) -> String {
        fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Runs `iters` `SELECT 1` over `tasks` tasks on `pool`; returns the wall time.
async fn spread(pool: PgPool, iters: u64, tasks: u64) -> Duration {
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let pool = pool.clone();
            let share = iters / tasks + u64::from(task < iters % tasks);
            tokio::spawn(async move {
                for _ in 0..share {
                    let mut conn = pool.get().await.unwrap();
                    conn.execute("SELECT 1").await.unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    started.elapsed()
}

fn pgbouncer(c: &mut Criterion) {
    let Some(url) = url() else {
        eprintln!("SKIPPED pgbouncer: set TEST_POSTGRES_URL to run this benchmark");
        return;
    };
    let Some(binary) = binary() else {
        eprintln!(
            "SKIPPED pgbouncer: PgBouncer is not installed (apt-get install pgbouncer, or \
             set PGBOUNCER to its path)"
        );
        return;
    };
    let runtime = Runtime::new().unwrap();
    let mut server = Url::parse(&url).unwrap();
    server.set_query(None);
    let bouncer = Bouncer::start(&binary, &server, &runtime);
    let mut direct_url = server.clone();
    direct_url.set_query(Some(&format!("connection_limit={SERVER_POOL}")));
    let pools = [
        (
            "direct",
            Config::from_url(direct_url.as_str())
                .unwrap()
                .build_pool::<sqlx::Postgres>("bench-direct")
                .unwrap(),
        ),
        (
            "pgbouncer",
            Config::from_url(bouncer.url.as_str())
                .unwrap()
                .build_pool::<sqlx::Postgres>("bench-bouncer")
                .unwrap(),
        ),
    ];
    // Open every connection before measuring.
    for (_, pool) in &pools {
        runtime.block_on(spread(pool.clone(), 256, SERVER_POOL as u64));
    }

    let totals: Arc<Mutex<Totals>> = Arc::default();
    let mut group = c.benchmark_group("pgbouncer");
    group
        .throughput(Throughput::Elements(1))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    for tasks in TASKS {
        for (name, pool) in &pools {
            let totals = Arc::clone(&totals);
            group.bench_function(BenchmarkId::new(*name, tasks), |b| {
                b.to_async(&runtime).iter_custom(|iters| {
                    let (pool, totals) = (pool.clone(), Arc::clone(&totals));
                    async move {
                        let took = spread(pool, iters, tasks).await;
                        let mut totals = totals.lock().unwrap();
                        let entry = totals.entry((tasks, *name)).or_default();
                        entry.0 += iters;
                        entry.1 += took;
                        took
                    }
                })
            });
        }
    }
    group.finish();

    let totals = totals.lock().unwrap();
    let rate = |tasks: u64, name: &'static str| {
        totals
            .get(&(tasks, name))
            .map(|(n, took)| *n as f64 / took.as_secs_f64())
            .unwrap_or(f64::NAN)
    };
    println!("\nSELECT 1 throughput, all of criterion's timed runs (queries/s):");
    println!("| tasks | direct | through PgBouncer | PgBouncer / direct |");
    println!("|---:|---:|---:|---:|");
    for tasks in TASKS {
        let (direct, bounced) = (rate(tasks, "direct"), rate(tasks, "pgbouncer"));
        println!(
            "| {tasks} | {direct:.0} | {bounced:.0} | {:.2}× |",
            bounced / direct
        );
    }
    drop(totals);
    for (_, pool) in &pools {
        runtime.block_on(pool.close());
    }
    drop(bouncer);
}

criterion_group!(benches, pgbouncer);
criterion_main!(benches);
