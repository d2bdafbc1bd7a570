//! The private primary/standby cluster the failover tests stand on: it starts, the
//! standby replays what the primary commits, a paused replay stops it, a standby refuses
//! writes as read-only (25006), and a promotion after the primary crashed makes the standby
//! writable with every synchronously acknowledged commit in it.

use std::time::{Duration, Instant};

use pool_sqlx::sqlx::{self, Connection, PgConnection};
use tests::cluster::{Cluster, Replication};

/// A hung server must fail the test, not eat the suite's time budget.
const SCENARIO_LIMIT: Duration = Duration::from_secs(120);

async fn connect(url: &str) -> PgConnection {
    PgConnection::connect(url)
        .await
        .unwrap_or_else(|error| panic!("connect to {url}: {error}"))
}

async fn count(conn: &mut PgConnection) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(&mut *conn)
        .await
        .unwrap_or(-1)
}

/// Polls the row count of `t` on `conn` until it equals `want` or `within` passes.
async fn count_eventually(conn: &mut PgConnection, want: i64, within: Duration) -> i64 {
    let deadline = Instant::now() + within;
    loop {
        let got = count(conn).await;
        if got == want || Instant::now() >= deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_standby_replays_refuses_writes_and_takes_over_when_promoted() {
    tokio::time::timeout(SCENARIO_LIMIT, async {
        let started = Instant::now();
        let Some(cluster) = Cluster::start(Replication::Async) else {
            return;
        };
        let start_time = started.elapsed();
        let mut primary = connect(&cluster.primary_url("postgres")).await;
        let mut standby = connect(&cluster.standby_url("postgres")).await;
        assert_eq!(cluster.in_recovery(cluster.standby_port()), Some(true));

        sqlx::raw_sql("CREATE TABLE t (id bigint PRIMARY KEY); INSERT INTO t VALUES (1)")
            .execute(&mut primary)
            .await
            .unwrap();
        assert_eq!(
            count_eventually(&mut standby, 1, Duration::from_secs(10)).await,
            1
        );

        cluster.pause_replay();
        sqlx::query("INSERT INTO t VALUES (2)")
            .execute(&mut primary)
            .await
            .unwrap();
        let paused = count_eventually(&mut standby, 2, Duration::from_millis(300)).await;
        assert_eq!(paused, 1, "a paused replay does not apply new commits");
        cluster.resume_replay();
        assert_eq!(
            count_eventually(&mut standby, 2, Duration::from_secs(10)).await,
            2
        );

        let refused = sqlx::query("INSERT INTO t VALUES (3)")
            .execute(&mut standby)
            .await
            .expect_err("a standby refuses writes");
        let code = refused
            .as_database_error()
            .and_then(|error| error.code())
            .map(|code| code.into_owned());
        assert_eq!(
            code.as_deref(),
            Some("25006"),
            "read_only_sql_transaction: {refused}"
        );
        drop(standby);
        let _ = primary.close().await;

        let crashed = Instant::now();
        cluster.stop_primary_immediate();
        cluster.promote_standby();
        let promote_time = crashed.elapsed();
        assert_eq!(cluster.in_recovery(cluster.standby_port()), Some(false));
        let mut promoted = connect(&cluster.standby_url("postgres")).await;
        sqlx::query("INSERT INTO t VALUES (3)")
            .execute(&mut promoted)
            .await
            .unwrap();
        assert_eq!(count(&mut promoted).await, 3);
        println!(
            "cluster (async): started in {start_time:.1?}; crash to writable promoted standby \
             in {promote_time:.1?}"
        );
    })
    .await
    .expect("the cluster scenario finished in time");
}

#[tokio::test]
async fn a_synchronous_standby_has_every_acknowledged_commit_after_a_crash() {
    tokio::time::timeout(SCENARIO_LIMIT, async {
        let Some(cluster) = Cluster::start(Replication::Sync) else {
            return;
        };
        let mut primary = connect(&cluster.primary_url("postgres")).await;
        sqlx::raw_sql("CREATE TABLE t (id bigint PRIMARY KEY)")
            .execute(&mut primary)
            .await
            .unwrap();
        for id in 0..100_i64 {
            sqlx::query("INSERT INTO t VALUES ($1)")
                .bind(id)
                .execute(&mut primary)
                .await
                .unwrap();
        }
        // The crash comes straight after the last acknowledgement: nothing waits for
        // the standby to catch up.
        cluster.stop_primary_immediate();
        cluster.promote_standby();
        let mut promoted = connect(&cluster.standby_url("postgres")).await;
        assert_eq!(
            count(&mut promoted).await,
            100,
            "no acknowledged commit lost"
        );
        sqlx::query("INSERT INTO t VALUES (100)")
            .execute(&mut promoted)
            .await
            .expect("the promoted standby takes writes without waiting for a standby");
    })
    .await
    .expect("the cluster scenario finished in time");
}
