#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The connect walk of a multi-host URL on a real primary and streaming standby: a host
//! that refuses, one that never answers, and one of the wrong role are skipped; when none
//! fits, one error names every host and why, without the password, and the pool keeps
//! trying (it is not permanent). The pool's check asks the role again; health lists each
//! host with its connections (and the gauge `pool_host_connections` agrees); the role
//! query works through PgBouncer in transaction mode.

use std::{cell::RefCell, fmt, time::Duration};

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

use pool_postgres::PostgresManager;
use pool_sqlx::{
    Classify, Config, ErrorClass, Health, Manager, NoHostAvailable, Pool, PoolBuilder, SqlxManager,
    Validation,
    failover::HostHealth,
    health,
    sqlx::{self, Connection, PgConnection, Postgres},
};
use tests::{
    cluster::{self, Cluster, Replication},
    db,
    pgbouncer::PgBouncer,
};
use tokio::time::Instant;

const PASSWORD: &str = "hunter2-not-shown";
const SCENARIO_LIMIT: Duration = Duration::from_secs(120);

/// A loopback port nothing listens on: connects are refused at once.
fn refusing_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn url(ports: &[u16], query: &str) -> String {
    let hosts: Vec<String> = ports
        .iter()
        .map(|port| format!("127.0.0.1:{port}"))
        .collect();
    format!(
        "postgres://postgres:{PASSWORD}@{}/postgres?{query}",
        hosts.join(",")
    )
}

/// One binding's side of the scenarios: its pool builder and manager for a URL, the two
/// questions a scenario asks a connection, and where its connect error keeps the
/// [`NoHostAvailable`]. Every scenario body is generic over it and runs once per binding,
/// both runs on one cluster.
trait Binding {
    /// Names the binding in assertion messages and pool names.
    const NAME: &'static str;
    /// The binding's manager.
    type M: Manager<Error: Classify + fmt::Display + fmt::Debug>;

    /// The URL's pool builder, named `name`.
    fn builder(url: &str, name: &str) -> PoolBuilder<Self::M>;

    /// The URL's manager, outside any pool.
    fn manager(url: &str) -> Self::M;

    /// `pg_is_in_recovery()` on `conn`.
    async fn in_recovery(conn: &mut <Self::M as Manager>::Connection) -> bool;

    /// `inet_server_port()` on `conn`: which server of the cluster it talks to.
    async fn port(conn: &mut <Self::M as Manager>::Connection) -> i32;

    /// The walk's error inside the manager's connect error.
    fn no_host(error: &<Self::M as Manager>::Error) -> Option<&NoHostAvailable>;

    /// The pool's open connections per host, in the URL's order, read without I/O.
    fn per_host(pool: &Pool<Self::M>) -> Vec<usize>;

    /// The binding's health report on `pool`.
    async fn health(pool: &Pool<Self::M>, timeout: Duration) -> Health;
}

/// pool-sqlx on sqlx's `PgConnection`.
struct Sqlx;

impl Binding for Sqlx {
    const NAME: &'static str = "pool-sqlx";
    type M = SqlxManager<Postgres>;

    fn builder(url: &str, name: &str) -> PoolBuilder<Self::M> {
        Config::from_url(url)
            .unwrap()
            .pool_builder::<Postgres>(name)
            .unwrap()
    }

    fn manager(url: &str) -> Self::M {
        Config::from_url(url)
            .unwrap()
            .manager::<Postgres>()
            .unwrap()
    }

    async fn in_recovery(conn: &mut <Self::M as Manager>::Connection) -> bool {
        in_recovery(conn.raw_mut()).await
    }

    async fn port(conn: &mut <Self::M as Manager>::Connection) -> i32 {
        port(conn.raw_mut()).await
    }

    fn no_host(error: &<Self::M as Manager>::Error) -> Option<&NoHostAvailable> {
        pool_sqlx::failover::no_host_available(error.as_sqlx())
    }

    fn per_host(pool: &Pool<Self::M>) -> Vec<usize> {
        let counts = pool.manager().connections_per_host();
        counts.into_iter().map(|(_, open)| open).collect()
    }

    async fn health(pool: &Pool<Self::M>, timeout: Duration) -> Health {
        health(pool, timeout).await
    }
}

/// pool-postgres on tokio-postgres (simple protocol: safe behind PgBouncer too).
struct TokioPostgres;

impl TokioPostgres {
    async fn scalar(client: &pool_postgres::Client, sql: &str) -> String {
        let messages = client.simple_query(sql).await.unwrap();
        messages
            .iter()
            .find_map(|message| match message {
                pool_postgres::tokio_postgres::SimpleQueryMessage::Row(row) => {
                    row.get(0).map(str::to_owned)
                }
                _ => None,
            })
            .expect("one row")
    }
}

impl Binding for TokioPostgres {
    const NAME: &'static str = "pool-postgres";
    type M = PostgresManager;

    fn builder(url: &str, name: &str) -> PoolBuilder<Self::M> {
        pool_postgres::Config::from_url(url)
            .unwrap()
            .pool_builder(name)
            .unwrap()
    }

    fn manager(url: &str) -> Self::M {
        pool_postgres::Config::from_url(url)
            .unwrap()
            .manager()
            .unwrap()
    }

    async fn in_recovery(conn: &mut pool_postgres::Client) -> bool {
        Self::scalar(conn, "SELECT pg_is_in_recovery()").await == "t"
    }

    async fn port(conn: &mut pool_postgres::Client) -> i32 {
        Self::scalar(conn, "SELECT inet_server_port()")
            .await
            .parse()
            .unwrap()
    }

    fn no_host(error: &pool_postgres::PgError) -> Option<&NoHostAvailable> {
        match error {
            pool_postgres::PgError::NoHost(no_host) => Some(no_host),
            _ => None,
        }
    }

    fn per_host(pool: &Pool<Self::M>) -> Vec<usize> {
        let counts = pool.manager().connections_per_host();
        counts.into_iter().map(|(_, open)| open).collect()
    }

    async fn health(pool: &Pool<Self::M>, timeout: Duration) -> Health {
        pool_postgres::health(pool, timeout).await
    }
}

fn pool<B: Binding>(url: &str, name: &str) -> Pool<B::M> {
    B::builder(url, &format!("{name}_{}", B::NAME))
        .acquire_timeout(Duration::from_secs(3))
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

async fn in_recovery(conn: &mut PgConnection) -> bool {
    sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(conn)
        .await
        .unwrap()
}

/// The role a pool's connection lands on.
async fn lands_on_standby<B: Binding>(url: &str, name: &str) -> bool {
    let pool = pool::<B>(url, name);
    let mut conn = pool
        .get()
        .await
        .unwrap_or_else(|error| panic!("{} {name}: {error}", B::NAME));
    B::in_recovery(&mut conn).await
}

/// Each target over each host list lands where libpq would; a refusing host is skipped.
async fn the_walk_lands_where_libpq_would<B: Binding>(cluster: &Cluster) {
    let (primary, standby, dead) = (
        cluster.primary_port(),
        cluster.standby_port(),
        refusing_port(),
    );
    let cases = [
        ("read-write", vec![dead, standby, primary], false),
        ("primary", vec![standby, primary], false),
        ("read-only", vec![primary, standby], true),
        ("standby", vec![dead, primary, standby], true),
        ("prefer-standby", vec![primary, standby], true),
        ("prefer-standby", vec![dead, primary], false),
        ("any", vec![dead, standby, primary], true),
    ];
    for (index, (target, ports, standby_wanted)) in cases.into_iter().enumerate() {
        let url = url(&ports, &format!("target_session_attrs={target}"));
        assert_eq!(
            lands_on_standby::<B>(&url, &format!("walk_{index}")).await,
            standby_wanted,
            "{}: {target} over {ports:?}",
            B::NAME
        );
    }
    // One host with a role asked for: the walk of one.
    let one = url(&[standby], "target_session_attrs=standby");
    assert!(lands_on_standby::<B>(&one, "walk_one").await, "{}", B::NAME);
}

#[tokio::test]
async fn the_walk_skips_hosts_that_refuse_or_have_the_wrong_role() {
    tokio::time::timeout(SCENARIO_LIMIT, async {
        let Some(cluster) = Cluster::start(Replication::Async) else {
            return;
        };
        the_walk_lands_where_libpq_would::<Sqlx>(&cluster).await;
        the_walk_lands_where_libpq_would::<TokioPostgres>(&cluster).await;
    })
    .await
    .expect("the scenario finished in time");
}

async fn port(conn: &mut PgConnection) -> i32 {
    sqlx::query_scalar("SELECT inet_server_port()")
        .fetch_one(conn)
        .await
        .unwrap()
}

thread_local! {
    /// The calling test's own metrics recorder (see [`record_here`]).
    static SNAPSHOTTER: RefCell<Option<Snapshotter>> = const { RefCell::new(None) };
}

/// Installs a metrics recorder for the calling test alone: metrics' thread-local default,
/// which `#[tokio::test]`'s current-thread runtime also applies to the pool's spawned
/// tasks. A global recorder would be shared with the tests running beside this one, and
/// every snapshot of metrics-util's debugging recorder resets the gauges it reads.
fn record_here() -> metrics::LocalRecorderGuard<'static> {
    let recorder: &'static DebuggingRecorder = Box::leak(Box::new(DebuggingRecorder::new()));
    SNAPSHOTTER.with(|snapshotter| *snapshotter.borrow_mut() = Some(recorder.snapshotter()));
    metrics::set_default_local_recorder(recorder)
}

/// The gauges `pool_host_connections` of `pool` for `hosts`, read off this test's
/// recorder (which resets them: health sets them again before each read).
fn gauged(pool: &Pool<SqlxManager<Postgres>>, hosts: &[String]) -> Vec<Option<usize>> {
    let snapshot = SNAPSHOTTER.with(|snapshotter| {
        snapshotter
            .borrow()
            .as_ref()
            .expect("record_here() first")
            .snapshot()
            .into_hashmap()
    });
    hosts
        .iter()
        .map(|host| {
            snapshot.iter().find_map(|(key, (_, _, value))| {
                let labels: Vec<(&str, &str)> =
                    key.key().labels().map(|l| (l.key(), l.value())).collect();
                match value {
                    DebugValue::Gauge(value)
                        if key.key().name() == pool_sqlx::names::HOST_CONNECTIONS
                            && labels == [("pool", pool.name()), ("host", host.as_str())] =>
                    {
                        Some(value.into_inner() as usize)
                    }
                    _ => None,
                }
            })
        })
        .collect()
}

/// `pool`'s connections per host as health reports them and as the gauge
/// `pool_host_connections` says right after, in the URL's order.
async fn counted_and_gauged(
    pool: &Pool<SqlxManager<Postgres>>,
) -> (Vec<usize>, Vec<Option<usize>>) {
    let report = health(pool, Duration::from_secs(2)).await;
    let counted: Vec<usize> = report.hosts.iter().map(|host| host.connections).collect();
    let hosts: Vec<String> = report.hosts.iter().map(|host| host.host.clone()).collect();
    (counted, gauged(pool, &hosts))
}

/// [`counted_and_gauged`] when nothing is changing: the two must agree.
async fn per_host(pool: &Pool<SqlxManager<Postgres>>) -> Vec<usize> {
    let (counted, gauged) = counted_and_gauged(pool).await;
    let expected: Vec<Option<usize>> = counted.iter().copied().map(Some).collect();
    assert_eq!(gauged, expected, "health and the gauge disagree");
    counted
}

/// Polls until health and the gauge both read `expected` (a close runs on a task of its
/// own, so either may read a change the other has not seen yet).
async fn wait_per_host(pool: &Pool<SqlxManager<Postgres>>, expected: &[usize]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let gauged_expected: Vec<Option<usize>> = expected.iter().copied().map(Some).collect();
    loop {
        let (counted, gauged) = counted_and_gauged(pool).await;
        if counted == expected && gauged == gauged_expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "per host: health {counted:?}, gauge {gauged:?}; expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The pool's check (validation on checkout) asks the role again, before the primary is
/// fenced: a pool whose one connection is the primary's.
async fn validating_pool<B: Binding>(primary: u16, standby: u16) -> Pool<B::M> {
    let pool = B::builder(
        &url(&[primary, standby], "target_session_attrs=read-write"),
        &format!("walk_validation_{}", B::NAME),
    )
    .validation(Validation::Always)
    .build()
    .unwrap();
    {
        let mut conn = pool.get().await.unwrap();
        assert_eq!(B::port(&mut conn).await, i32::from(primary), "{}", B::NAME);
    }
    // The standby shows too, at 0.
    assert_eq!(B::per_host(&pool), [1, 0], "{}", B::NAME);
    pool
}

/// After the primary was fenced read-only and the standby promoted: the connection to the
/// old primary is closed on checkout, and the new one lands on the promoted standby,
/// before any write is refused.
async fn validation_moves_to_the_new_primary<B: Binding>(pool: &Pool<B::M>, standby: u16) {
    // The reload reaches the idle backend asynchronously: give it a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    let landed = loop {
        let mut conn = pool.get().await.unwrap();
        let landed = B::port(&mut conn).await;
        if landed == i32::from(standby) || Instant::now() >= deadline {
            break landed;
        }
        drop(conn);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(landed, i32::from(standby), "{}", B::NAME);
    assert!(
        pool.metrics().closed_invalid >= 1,
        "{}: {:?}",
        B::NAME,
        pool.metrics()
    );
    wait_on_each::<B>(pool, &[0, 1]).await;
}

/// Polls until the pool's connections per host read `expected` (a close runs on a task
/// of its own).
async fn wait_on_each<B: Binding>(pool: &Pool<B::M>, expected: &[usize]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while B::per_host(pool) != expected {
        assert!(
            Instant::now() < deadline,
            "{}: per host {:?}, expected {expected:?}",
            B::NAME,
            B::per_host(pool)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn validation_closes_a_connection_whose_server_changed_role() {
    tokio::time::timeout(SCENARIO_LIMIT, async {
        let Some(cluster) = Cluster::start(Replication::Async) else {
            return;
        };
        let _recorder = record_here();
        let (primary, standby) = (cluster.primary_port(), cluster.standby_port());
        let sqlx_pool = validating_pool::<Sqlx>(primary, standby).await;
        let postgres_pool = validating_pool::<TokioPostgres>(primary, standby).await;
        // The standby shows too, at 0 (health's own check reuses the idle connection).
        assert_eq!(
            per_host(&sqlx_pool).await,
            [1, 0],
            "the idle connection is the primary's"
        );
        let mut admin = PgConnection::connect(&cluster.primary_url("postgres"))
            .await
            .unwrap();
        cluster::fence(&mut admin).await.unwrap();
        cluster.promote_standby();
        validation_moves_to_the_new_primary::<Sqlx>(&sqlx_pool, standby).await;
        validation_moves_to_the_new_primary::<TokioPostgres>(&postgres_pool, standby).await;
        // After the promotion every connection is the new primary's.
        wait_per_host(&sqlx_pool, &[0, 1]).await;
    })
    .await
    .expect("the scenario finished in time");
}

/// A pool with `keepalive` and two idle connections, both to the primary, before it is
/// fenced; and its metrics then.
async fn keepalive_pool<B: Binding>(
    primary: u16,
    standby: u16,
) -> (Pool<B::M>, pool_sqlx::Metrics) {
    let pool = B::builder(
        &url(
            &[primary, standby],
            "target_session_attrs=read-write&keepalive=1s",
        ),
        &format!("walk_keepalive_{}", B::NAME),
    )
    .min_idle(2)
    .connect_backoff(Duration::from_millis(50), Duration::from_millis(500))
    .build_and_connect()
    .await
    .unwrap();
    // No checkout from here on: only the background task touches the pool.
    let deadline = Instant::now() + Duration::from_secs(5);
    while B::per_host(&pool) != [2, 0] || pool.status().idle != 2 {
        assert!(
            Instant::now() < deadline,
            "{} warm-up: {:?} {:?}",
            B::NAME,
            B::per_host(&pool),
            pool.status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = pool.metrics();
    (pool, before)
}

/// The background sweep, after the primary was fenced and the standby promoted: the idle
/// connections whose server turned read-only are closed by the pool's own task, with no
/// checkout to find them, and `min_idle` refills on the new primary.
async fn keepalive_sweeps_to_the_new_primary<B: Binding>(
    pool: &Pool<B::M>,
    before: &pool_sqlx::Metrics,
    standby: u16,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while B::per_host(pool) != [0, 2] {
        assert!(
            Instant::now() < deadline,
            "{}: per host {:?}, expected [0, 2]: {:?}",
            B::NAME,
            B::per_host(pool),
            pool.metrics()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let metrics = pool.metrics();
    assert_eq!(
        metrics.closed_invalid,
        before.closed_invalid + 2,
        "{}: {metrics:?}",
        B::NAME
    );
    assert_eq!(
        metrics.checkouts_direct + metrics.checkouts_waited,
        before.checkouts_direct + before.checkouts_waited,
        "{}: found by the background task, not by a checkout",
        B::NAME
    );
    let mut conn = pool.get().await.unwrap();
    assert_eq!(B::port(&mut conn).await, i32::from(standby), "{}", B::NAME);
}

/// The background sweep: with `keepalive`, idle connections whose server turned read-only
/// are closed by the pool's own task, with no checkout to find them, and `min_idle`
/// refills on the new primary.
#[tokio::test]
async fn keepalive_closes_idle_connections_whose_server_changed_role() {
    tokio::time::timeout(SCENARIO_LIMIT, async {
        let Some(cluster) = Cluster::start(Replication::Async) else {
            return;
        };
        let _recorder = record_here();
        let (primary, standby) = (cluster.primary_port(), cluster.standby_port());
        let (sqlx_pool, sqlx_before) = keepalive_pool::<Sqlx>(primary, standby).await;
        let (postgres_pool, postgres_before) =
            keepalive_pool::<TokioPostgres>(primary, standby).await;
        let mut admin = PgConnection::connect(&cluster.primary_url("postgres"))
            .await
            .unwrap();
        cluster::fence(&mut admin).await.unwrap();
        admin.close().await.unwrap();
        cluster.promote_standby();
        keepalive_sweeps_to_the_new_primary::<Sqlx>(&sqlx_pool, &sqlx_before, standby).await;
        keepalive_sweeps_to_the_new_primary::<TokioPostgres>(
            &postgres_pool,
            &postgres_before,
            standby,
        )
        .await;
        // pool-sqlx's health and gauge agree: the connections are the new primary's.
        assert_eq!(per_host(&sqlx_pool).await, [0, 2]);
    })
    .await
    .expect("the scenario finished in time");
}

/// `B`'s report on a pool of the dead host, the primary and the standby: each host with
/// its role, the dead one's error, a primary's lag none and a caught-up standby's 0.
async fn hosts_with_roles<B: Binding>(dead: u16, primary: u16, standby: u16) -> Pool<B::M> {
    let pool = pool::<B>(
        &url(&[dead, primary, standby], "target_session_attrs=read-write"),
        "walk_health",
    );
    let report = B::health(&pool, Duration::from_secs(2)).await;
    assert!(report.is_healthy(), "{}: {report:#?}", B::NAME);
    let seen: Vec<(String, bool, Option<&str>)> = report
        .hosts
        .iter()
        .map(|host| (host.host.clone(), host.reachable, host.role))
        .collect();
    assert_eq!(
        seen,
        [
            (format!("127.0.0.1:{dead}"), false, None),
            (format!("127.0.0.1:{primary}"), true, Some("primary")),
            (format!("127.0.0.1:{standby}"), true, Some("standby")),
        ],
        "{}",
        B::NAME
    );
    assert!(report.hosts[0].error.is_some(), "{}", B::NAME);
    assert_eq!(
        report.hosts[1].replay_lag_bytes,
        None,
        "{}: a primary has no lag",
        B::NAME
    );
    assert_eq!(
        report.hosts[2].replay_lag_bytes,
        Some(0),
        "{}: caught up",
        B::NAME
    );
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains(PASSWORD), "{json}");
    pool
}

/// `B`'s report on the standby once its replay lags (paused, with a write after): its lag
/// in bytes and in the age of its last replayed commit.
async fn lagging_standby<B: Binding>(pool: &Pool<B::M>) -> HostHealth {
    let deadline = Instant::now() + Duration::from_secs(10);
    let lagging = loop {
        let report = B::health(pool, Duration::from_secs(2)).await;
        let bytes = report.hosts[2].replay_lag_bytes.unwrap_or(0);
        if bytes > 0 || Instant::now() >= deadline {
            break report.hosts[2].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        lagging.replay_lag_bytes.unwrap_or(0) > 0,
        "{}: {lagging:?}",
        B::NAME
    );
    assert!(
        lagging.replay_lag_ms.is_some_and(|ms| ms > 0.0),
        "{}: {lagging:?}",
        B::NAME
    );
    println!(
        "failover health ({}): a paused standby shows {} bytes, {:.0} ms of replay lag",
        B::NAME,
        lagging.replay_lag_bytes.unwrap_or(0),
        lagging.replay_lag_ms.unwrap_or(0.0)
    );
    lagging
}

#[tokio::test]
async fn health_shows_each_host_with_its_role() {
    tokio::time::timeout(SCENARIO_LIMIT, async {
        let Some(cluster) = Cluster::start(Replication::Async) else {
            return;
        };
        let dead = refusing_port();
        let (primary, standby) = (cluster.primary_port(), cluster.standby_port());
        // Both bindings' reports, from one body each, on the one cluster.
        let sqlx = hosts_with_roles::<Sqlx>(dead, primary, standby).await;
        let tokio = hosts_with_roles::<TokioPostgres>(dead, primary, standby).await;

        // A commit replayed, then replay paused and a write on the primary: the
        // standby's lag shows in bytes and in the age of its last replayed commit.
        let mut primary_conn = PgConnection::connect(&cluster.primary_url("postgres"))
            .await
            .unwrap();
        sqlx::raw_sql("CREATE TABLE lag (id int)")
            .execute(&mut primary_conn)
            .await
            .unwrap();
        let mut standby_conn = PgConnection::connect(&cluster.standby_url("postgres"))
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sqlx::query_scalar::<_, bool>("SELECT pg_last_xact_replay_timestamp() IS NOT NULL")
            .fetch_one(&mut standby_conn)
            .await
            .unwrap()
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        cluster.pause_replay();
        sqlx::raw_sql("INSERT INTO lag SELECT generate_series(1, 1000)")
            .execute(&mut primary_conn)
            .await
            .unwrap();
        let by_sqlx = lagging_standby::<Sqlx>(&sqlx).await;
        let by_tokio = lagging_standby::<TokioPostgres>(&tokio).await;
        // Paused, the standby stands still: both read the same bytes behind.
        assert_eq!(by_sqlx.replay_lag_bytes, by_tokio.replay_lag_bytes);
        cluster.resume_replay();

        let single = pool_from(&cluster.primary_url("postgres"));
        assert!(
            health(&single, Duration::from_secs(2))
                .await
                .hosts
                .is_empty()
        );
    })
    .await
    .expect("the scenario finished in time");
}

fn pool_from(url: &str) -> Pool<SqlxManager<Postgres>> {
    Config::from_url(url)
        .unwrap()
        .build_pool::<Postgres>("walk_health_single")
        .unwrap()
}

/// A host that accepts TCP and never says a word is given up after its share of the
/// connect timeout, and the next host answers.
async fn a_silent_host_costs_its_share<B: Binding>(primary: u16) {
    // Accepts TCP (the kernel's backlog) and never says a word: a black hole.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let url = url(
        &[silent_port, primary],
        "target_session_attrs=read-write&connect_timeout=2",
    );
    let manager = B::manager(&url);
    let started = Instant::now();
    let mut conn = manager.connect().await.expect("the second host answers");
    let took = started.elapsed();
    assert!(!B::in_recovery(&mut conn).await, "{}", B::NAME);
    // 2 s divided between 2 hosts: the silent one is given up after 1 s.
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(2),
        "{}: {took:?}",
        B::NAME
    );
    println!(
        "failover connect ({}): a silent first host cost {took:.1?} (its share: 1 s)",
        B::NAME
    );
    drop(silent);
}

#[tokio::test]
async fn a_host_that_never_answers_gets_its_share_of_the_connect_timeout() {
    tokio::time::timeout(SCENARIO_LIMIT, async {
        let Some(cluster) = Cluster::start(Replication::Async) else {
            return;
        };
        a_silent_host_costs_its_share::<Sqlx>(cluster.primary_port()).await;
        a_silent_host_costs_its_share::<TokioPostgres>(cluster.primary_port()).await;
    })
    .await
    .expect("the scenario finished in time");
}

/// Before the promotion: no host fits, and one error names every host and why, without
/// the password, retried rather than permanent, directly and through the pool (whose
/// checkout fails within its acquire timeout). The pool is kept for after.
async fn no_host_fits<B: Binding>(dead: u16, standby: u16) -> Pool<B::M> {
    let url = url(&[dead, standby], "target_session_attrs=primary");
    let Err(error) = B::manager(&url).connect().await else {
        panic!("{}: no primary listed, yet a connect succeeded", B::NAME);
    };
    let text = error.to_string();
    assert!(!text.contains(PASSWORD), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{dead} failed"))
            && text.contains(&format!("127.0.0.1:{standby} is a standby, not primary")),
        "{}: {text}",
        B::NAME
    );
    assert_eq!(
        error.class(),
        ErrorClass::Connection,
        "{}: retried, not permanent",
        B::NAME
    );
    let typed = B::no_host(&error).expect("the typed error is reachable");
    assert_eq!(typed.skipped.len(), 2);

    // Through the pool: the checkout fails within its acquire timeout, saying why.
    let pool = pool::<B>(&url, "walk_none");
    let started = Instant::now();
    let error = pool.get().await.expect_err("no primary listed");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "{}: {took:?}", B::NAME);
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(shown.contains("is a standby"), "{}: {shown}", B::NAME);
    assert_ne!(error.class(), ErrorClass::Permanent, "{}", B::NAME);
    pool
}

/// After a promotion the same pool finds the primary, no restart.
async fn the_pool_finds_the_promoted_primary<B: Binding>(pool: &Pool<B::M>) {
    let mut conn = pool.get().await.expect("the promoted standby is a primary");
    assert!(!B::in_recovery(&mut conn).await, "{}", B::NAME);
}

#[tokio::test]
async fn when_no_host_fits_one_error_names_every_host_and_the_pool_keeps_trying() {
    tokio::time::timeout(SCENARIO_LIMIT, async {
        let Some(cluster) = Cluster::start(Replication::Async) else {
            return;
        };
        let (dead, standby) = (refusing_port(), cluster.standby_port());
        let sqlx_pool = no_host_fits::<Sqlx>(dead, standby).await;
        let postgres_pool = no_host_fits::<TokioPostgres>(dead, standby).await;
        cluster.stop_primary_immediate();
        cluster.promote_standby();
        the_pool_finds_the_promoted_primary::<Sqlx>(&sqlx_pool).await;
        the_pool_finds_the_promoted_primary::<TokioPostgres>(&postgres_pool).await;
    })
    .await
    .expect("the scenario finished in time");
}

/// Through PgBouncer (`through` lists a refusing host, then the bouncer): the walk and the
/// check with validation on every checkout, and a walk that finds no standby.
async fn the_role_query_goes_through<B: Binding>(
    through: &impl Fn(&str) -> String,
    dead: u16,
    bouncer: u16,
) {
    let pool = B::builder(
        &through("pgbouncer=true&target_session_attrs=read-write"),
        &format!("walk_bouncer_{}", B::NAME),
    )
    .validation(Validation::Always)
    .build()
    .unwrap();
    for _ in 0..3 {
        let mut conn = pool.get().await.expect("through the bouncer");
        assert!(!B::in_recovery(&mut conn).await, "{}", B::NAME);
    }
    let Err(error) = B::manager(&through("pgbouncer=true&target_session_attrs=standby"))
        .connect()
        .await
    else {
        panic!("{}: no standby there, yet a connect succeeded", B::NAME);
    };
    let text = error.to_string();
    assert!(
        text.contains(&format!("127.0.0.1:{dead} failed"))
            && text.contains(&format!(
                "127.0.0.1:{bouncer} is a read-write primary, not standby"
            )),
        "{}: {text}",
        B::NAME
    );
}

/// The role query is one parameterless simple-protocol statement, so the walk and the
/// check work through PgBouncer in transaction mode.
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn the_role_query_works_behind_pgbouncer() {
    let Some(db) = db::postgres("walk_pgbouncer").await else {
        return;
    };
    let Some(bouncer) = PgBouncer::start(&db, 2).await else {
        db.cleanup().await;
        return;
    };
    let dead = refusing_port();
    let through = |query: &str| {
        bouncer.url_with(query).replacen(
            &format!("127.0.0.1:{}", bouncer.port()),
            &format!("127.0.0.1:{dead},127.0.0.1:{}", bouncer.port()),
            1,
        )
    };
    the_role_query_goes_through::<Sqlx>(&through, dead, bouncer.port()).await;
    the_role_query_goes_through::<TokioPostgres>(&through, dead, bouncer.port()).await;
    drop(bouncer);
    db.cleanup().await;
}
