//! The connect and check timeouts have one owner, the pool: whichever door sets the
//! connect timeout (the builder, a URL's `connect_timeout`, a preset, or nothing at all:
//! the builder's default), it is the value that ends a connect to a server that never
//! answers; the builder's `check_timeout` alone ends a check that gets no answer.
//!
//! The server is a loopback fault proxy in `Mode::Blackhole` in front of a listener that
//! accepts and holds: TCP connects succeed, every byte the driver sends is swallowed, and
//! nothing ever comes back. The clock is tokio's paused clock, so a 20 s timeout costs no
//! real time and the elapsed time is exact: `build_and_connect` fails fast, so its start
//! ends when its first connect, unanswered, reaches the connect timeout.

use std::{future::Future, time::Duration};

use pool_sqlx::{
    Config, Pool, PoolBuilder, PoolError, Preset, SqlxManager, StartError, TimeoutPhase,
    sqlx::{MySql, Postgres},
};
use tests::proxy::{FaultProxy, Mode};
use tokio::{net::TcpListener, task::JoinHandle, time::Instant};

/// A black hole: a proxy that swallows everything, in front of a listener that holds
/// every connection it accepts.
struct BlackHole {
    proxy: FaultProxy,
    _holder: JoinHandle<()>,
}

impl BlackHole {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = listener.local_addr().unwrap();
        let holder = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let proxy = FaultProxy::start(upstream).await.unwrap();
        proxy.set(Mode::Blackhole);
        BlackHole {
            proxy,
            _holder: holder,
        }
    }

    fn url(&self, scheme: &str, query: &str) -> String {
        format!("{scheme}://app@{}/db{query}", self.proxy.addr())
    }
}

/// Runs `build_and_connect` on the paused clock and returns how long it took and the
/// time limit its error reports.
async fn time_the_start<M>(builder: PoolBuilder<M>) -> (Duration, Duration)
where
    M: pool_sqlx::Manager,
    M::Error: std::fmt::Debug,
{
    let builder = builder.connect_backoff(Duration::from_millis(1), Duration::from_millis(1));
    let started = Instant::now();
    let error = match builder.build_and_connect().await {
        Ok(_) => panic!("a black hole answered"),
        Err(error) => error,
    };
    let elapsed = started.elapsed();
    let waited = match error {
        StartError::Connect(PoolError::Timeout {
            phase: TimeoutPhase::Connecting,
            waited,
            ..
        }) => waited,
        other => panic!("expected a connect timeout, got {other:?}"),
    };
    (elapsed, waited)
}

/// The start ended when the connect timeout ran out: an eager start fails fast, within
/// one connect timeout counted from its first attempt (a connect that gets no answer is
/// not tried again after it).
fn assert_ended_at(door: &str, (elapsed, waited): (Duration, Duration), timeout: Duration) {
    assert_eq!(waited, timeout, "{door}: the error names another limit");
    assert!(
        elapsed >= timeout && elapsed < timeout + Duration::from_millis(10),
        "{door}: a start with a connect timeout of {timeout:?} took {elapsed:?}"
    );
    println!("{door}: connect_timeout {timeout:?}, the start ended after {elapsed:?}");
}

fn postgres_builder(url: &str) -> PoolBuilder<SqlxManager<Postgres>> {
    Pool::builder(SqlxManager::<Postgres>::from_url(url).unwrap())
}

#[tokio::test(start_paused = true)]
async fn the_builders_connect_timeout_ends_the_connect() {
    let hole = BlackHole::start().await;
    // 20 s: above the 10 s the manager used to keep for itself, which cut it short.
    let timeout = Duration::from_secs(20);
    let pg = postgres_builder(&hole.url("postgres", "")).connect_timeout(timeout);
    assert_ended_at("builder, postgres", time_the_start(pg).await, timeout);
    let my = Pool::builder(SqlxManager::<MySql>::from_url(&hole.url("mysql", "")).unwrap())
        .connect_timeout(timeout);
    assert_ended_at("builder, mysql", time_the_start(my).await, timeout);
    // Every attempt reached the black hole: the timeout ended a real connect.
    assert!(
        hole.proxy.counters().snapshot().accepted >= 2,
        "{:?}",
        hole.proxy.counters().snapshot()
    );
}

#[tokio::test(start_paused = true)]
async fn the_builders_default_connect_timeout_ends_the_connect() {
    let hole = BlackHole::start().await;
    let builder = postgres_builder(&hole.url("postgres", ""));
    assert_ended_at(
        "builder default",
        time_the_start(builder).await,
        Duration::from_secs(10),
    );
}

#[tokio::test(start_paused = true)]
async fn a_urls_connect_timeout_ends_the_connect() {
    let hole = BlackHole::start().await;
    for (query, timeout) in [
        ("?connect_timeout=25", Duration::from_secs(25)),
        ("?connect_timeout=1500ms", Duration::from_millis(1500)),
    ] {
        let builder = Config::from_url(&hole.url("postgres", query))
            .unwrap()
            .pool_builder::<Postgres>("url")
            .unwrap();
        assert_ended_at(query, time_the_start(builder).await, timeout);
    }
}

#[tokio::test(start_paused = true)]
async fn a_urls_connect_timeout_of_zero_never_ends_the_connect() {
    let hole = BlackHole::start().await;
    let builder = Config::from_url(&hole.url("postgres", "?connect_timeout=0"))
        .unwrap()
        .pool_builder::<Postgres>("forever")
        .unwrap();
    let start = builder.build_and_connect();
    let day = Duration::from_secs(24 * 3600);
    assert!(
        still_running_after(day, start).await,
        "connect_timeout=0 gave up within a day"
    );
}

async fn still_running_after<F: Future>(limit: Duration, future: F) -> bool {
    tokio::time::timeout(limit, future).await.is_err()
}

#[tokio::test(start_paused = true)]
async fn a_presets_connect_timeout_ends_the_connect() {
    let hole = BlackHole::start().await;
    for preset in Preset::ALL {
        let config = Config::from_url(&hole.url("postgres", ""))
            .unwrap()
            .with_preset(preset);
        let timeout = config.settings().connect_timeout;
        let builder = config.pool_builder::<Postgres>(preset.name()).unwrap();
        assert_ended_at(preset.name(), time_the_start(builder).await, timeout);
    }
    // The test preset's own figure, not the default's.
    let test = Config::from_url(&hole.url("postgres", ""))
        .unwrap()
        .with_preset(Preset::Test);
    assert_eq!(test.settings().connect_timeout, Duration::from_secs(5));
}

/// The check timeout has the same one owner. A connection opened through the proxy is
/// returned, the proxy turns into a black hole, and the next checkout validates it
/// (`Validation::Always`): the check gets no answer. The setup runs on the real clock
/// (a real server), the rest on the paused clock.
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn the_builders_check_timeout_ends_the_check() {
    let Some(db) = tests::db::postgres("check_timeout").await else {
        return;
    };
    let acquire = Duration::from_secs(20);
    // 30 s, above the acquire timeout (and the 5 s the manager used to keep for itself):
    // nothing cuts the check short but the checkout's own deadline, which says so.
    let (phase, elapsed) = checkout_after_a_silent_check(&db.url, Duration::from_secs(30)).await;
    assert_eq!(phase, TimeoutPhase::Validating);
    // tokio's timer rounds a deadline up to its next millisecond.
    assert!(
        elapsed >= acquire && elapsed < acquire + Duration::from_millis(5),
        "{elapsed:?}"
    );
    println!("check_timeout 30 s, acquire_timeout 20 s: the check ran until {elapsed:?}");
    // 2 s: the check ends there, the connection is dropped, and the checkout goes on to
    // open a new one (into the black hole) until its deadline.
    let (phase, elapsed) = checkout_after_a_silent_check(&db.url, Duration::from_secs(2)).await;
    assert_eq!(phase, TimeoutPhase::Connecting);
    // tokio's timer rounds a deadline up to its next millisecond.
    assert!(
        elapsed >= acquire && elapsed < acquire + Duration::from_millis(5),
        "{elapsed:?}"
    );
    println!("check_timeout 2 s: the check ended, a new connect was waited for until {elapsed:?}");
    db.cleanup().await;
}

/// A checkout whose validation meets a silent server: the phase its timeout names, and
/// how long it took on the paused clock.
async fn checkout_after_a_silent_check(
    url: &str,
    check_timeout: Duration,
) -> (TimeoutPhase, Duration) {
    let proxy = FaultProxy::for_url(url).await.unwrap();
    let pool = Pool::builder(SqlxManager::<Postgres>::from_url(&proxy.url_through(url)).unwrap())
        .max_size(1)
        .validation(pool_sqlx::Validation::Always)
        .check_timeout(check_timeout)
        .acquire_timeout(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(3600))
        .build()
        .unwrap();
    drop(pool.get().await.unwrap());
    proxy.set(Mode::Blackhole);
    tokio::time::pause();
    let started = Instant::now();
    let error = pool.get().await.map(|_| ()).unwrap_err();
    let elapsed = started.elapsed();
    tokio::time::resume();
    match error {
        PoolError::Timeout { phase, .. } => (phase, elapsed),
        other => panic!("expected a checkout timeout, got {other:?}"),
    }
}
