#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;

use pool_core::{ErrorClass, Manager, Pool, PoolError, Resilience};

use super::{probe::judge, *};
use crate::BackendKind;

fn standby(received: u64, replayed: u64, age_ms: Option<f64>) -> ReplayPosition {
    ReplayPosition {
        in_recovery: true,
        received: Some(Lsn(received)),
        replayed: Some(Lsn(replayed)),
        last_replay_age_ms: age_ms,
    }
}

const BOUND: Duration = Duration::from_secs(1);

/// A binding whose servers never answer: what the set does with no driver at all.
#[derive(Debug)]
struct Nowhere;

#[derive(Debug, thiserror::Error)]
#[error("refused")]
struct Refused;

impl Classify for Refused {
    fn class(&self) -> ErrorClass {
        ErrorClass::Connection
    }
}

impl From<PoolError<Refused>> for Refused {
    fn from(_: PoolError<Refused>) -> Self {
        Refused
    }
}

impl Manager for Nowhere {
    type Connection = ();
    type Error = Refused;

    async fn connect(&self) -> Result<(), Refused> {
        Err(Refused)
    }

    async fn check(&self, (): &mut ()) -> Result<(), Refused> {
        Ok(())
    }

    fn has_broken(&self, (): &mut ()) -> bool {
        false
    }
}

impl ReplicaBinding for Nowhere {
    type Config = BackendKind;
    type BindingError = Refused;
    type TransactionConnection = ();

    fn kind(config: &BackendKind) -> BackendKind {
        *config
    }

    fn build_pool(_: &BackendKind, name: &str) -> Result<Pool<Nowhere>, Refused> {
        Ok(Pool::builder(Nowhere).name(name).build().unwrap())
    }

    fn description(&self) -> &str {
        "nowhere"
    }

    async fn probe_connection(&self) -> Result<(), Refused> {
        Err(Refused)
    }

    async fn primary_position(_: &mut ()) -> Result<PrimaryPosition, Refused> {
        Err(Refused)
    }

    async fn replay_position(_: &mut ()) -> Result<ReplayPosition, Refused> {
        Err(Refused)
    }

    fn health(_: &Pool<Nowhere>, _: Duration) -> impl Future<Output = Health> + Send {
        std::future::pending()
    }

    async fn transaction<T, E, F>(_: &Pool<Nowhere>, _: &Resilience, _: F) -> Result<T, E>
    where
        E: Classify + From<Refused>,
        F: for<'c> FnMut(&'c mut ()) -> BoxFuture<'c, Result<T, E>>,
    {
        Err(E::from(Refused))
    }
}

#[test]
fn build_errors_name_what_is_wrong() {
    let outside = Replicas::<Nowhere>::builder(BackendKind::Postgres).build();
    assert!(
        matches!(outside, Err(ReplicasError::NoRuntime)),
        "{outside:?}"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let zero = Replicas::<Nowhere>::builder(BackendKind::Postgres)
            .probe_every(Duration::ZERO)
            .build()
            .unwrap_err();
        assert_eq!(zero.to_string(), "probe_every must be more than zero");
        let sqlite = Replicas::<Nowhere>::builder(BackendKind::Postgres)
            .replica(BackendKind::Sqlite)
            .build()
            .unwrap_err();
        assert_eq!(
            sqlite.to_string(),
            "the replica 0 is sqlite: read replicas are PostgreSQL streaming standbys"
        );
    });
}

fn probe_task(set: &Replicas<Nowhere>) -> tokio::task::AbortHandle {
    lock(&set.inner.prober)
        .as_ref()
        .map(JoinHandle::abort_handle)
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_probe_stops_when_the_set_is_closed_or_dropped() {
    let set = Replicas::<Nowhere>::builder(BackendKind::Postgres)
        .replica(BackendKind::Postgres)
        .build()
        .unwrap();
    let probe = probe_task(&set);
    // Nothing answers: the replica never qualifies, reads go to the primary.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(std::ptr::eq(set.replica(), set.primary()));
    let status = set.status();
    assert!(!status.replicas[0].qualifies);
    assert!(
        status.replicas[0]
            .reason
            .as_deref()
            .is_some_and(|reason| reason.contains("lag probe failed: refused")),
        "{status:?}"
    );
    assert_eq!(set.write_token().await, WriteToken::unknown());
    assert!(std::ptr::eq(
        set.replica_after(&WriteToken::at(Lsn(1))).await,
        set.primary()
    ));
    let clone = set.clone();
    drop(set);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!probe.is_finished(), "a clone keeps the probe");
    drop(clone);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        probe.is_finished(),
        "dropping the last clone stops the probe"
    );

    let set = Replicas::<Nowhere>::builder(BackendKind::Postgres)
        .build()
        .unwrap();
    let probe = probe_task(&set);
    set.close().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(probe.is_finished(), "close() stops the probe");
    assert!(set.primary().is_closed());
}

#[test]
fn positions_read_from_text_as_the_simple_protocol_sends_them() {
    assert_eq!(
        ReplayPosition::from_text([Some("t"), Some("300"), Some("200"), Some("12.5")]),
        Ok(ReplayPosition::new(true, Some(300), Some(200), Some(12.5)))
    );
    let primary = ReplayPosition::from_text([Some("f"), None, None, None]).unwrap();
    assert!(!primary.in_recovery);
    assert_eq!((primary.received, primary.replayed), (None, None));
    assert!(ReplayPosition::from_text([None, None, None, None]).is_err());
    assert!(ReplayPosition::from_text([Some("t"), Some("x"), None, None]).is_err());
    assert_eq!(
        PrimaryPosition::from_text([Some("10"), Some("12")]),
        Ok(PrimaryPosition {
            written: Lsn(10),
            inserted: Lsn(12)
        })
    );
    assert!(PrimaryPosition::from_text([Some("-1"), Some("12")]).is_err());
    assert!(PrimaryPosition::from_text([None, Some("12")]).is_err());
}

#[test]
fn lsn_displays_as_postgres_writes_it() {
    assert_eq!(Lsn(0x16_B374_D848).to_string(), "16/B374D848");
    assert_eq!(Lsn(0).to_string(), "0/0");
}

#[tokio::test(start_paused = true)]
async fn caught_up_is_zero_lag_whatever_the_last_commits_age() {
    let mut state = ProbeState::default();
    let t0 = Instant::now();
    let ok = judge(
        &mut state,
        Ok(standby(100, 100, Some(3_600_000.0))),
        Some(Lsn(100)),
        t0,
        t0,
        BOUND,
    );
    assert!(ok);
    assert_eq!(state.lag_ms, Some(0.0));
}

#[tokio::test(start_paused = true)]
async fn an_idle_replica_does_not_look_an_hour_behind_when_a_commit_is_on_its_way() {
    let mut state = ProbeState::default();
    let t0 = Instant::now();
    assert!(judge(
        &mut state,
        Ok(standby(100, 100, Some(3_600_000.0))),
        Some(Lsn(100)),
        t0,
        t0,
        BOUND
    ));
    tokio::time::advance(Duration::from_millis(250)).await;
    let t1 = Instant::now();
    // The primary wrote 200; the replica has not replayed it yet.
    assert!(judge(
        &mut state,
        Ok(standby(100, 100, Some(3_600_250.0))),
        Some(Lsn(200)),
        t1,
        t1,
        BOUND
    ));
    assert_eq!(state.lag_ms, Some(250.0));
}

#[tokio::test(start_paused = true)]
async fn paused_replay_leaves_once_past_the_bound_and_returns_when_caught_up() {
    let mut state = ProbeState::default();
    let t0 = Instant::now();
    assert!(judge(
        &mut state,
        Ok(standby(100, 100, Some(5.0))),
        Some(Lsn(100)),
        t0,
        t0,
        BOUND
    ));
    let mut left_at = None;
    for step in 1..=8u64 {
        tokio::time::advance(Duration::from_millis(250)).await;
        let now = Instant::now();
        let age = 5.0 + 250.0 * step as f64;
        let ok = judge(
            &mut state,
            Ok(standby(100 + step * 10, 100, Some(age))),
            Some(Lsn(100 + step * 10)),
            now,
            now,
            BOUND,
        );
        if !ok && left_at.is_none() {
            left_at = Some(step);
        }
    }
    // 4 × 250 ms = 1000 ms: still within; the fifth probe (1250 ms) is past it.
    assert_eq!(left_at, Some(5));
    assert!(state.reason.as_deref().is_some_and(|r| r.contains("lags")));
    let now = Instant::now();
    assert!(judge(
        &mut state,
        Ok(standby(180, 180, Some(2005.0))),
        Some(Lsn(180)),
        now,
        now,
        BOUND
    ));
    assert_eq!(state.reason, None);
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_a_promoted_replica_and_an_unknown_lag_do_not_qualify() {
    let t0 = Instant::now();
    let mut state = ProbeState::default();
    assert!(!judge(
        &mut state,
        Err("refused".into()),
        Some(Lsn(1)),
        t0,
        t0,
        BOUND
    ));
    assert_eq!(state.error.as_deref(), Some("refused"));
    let promoted = ReplayPosition {
        in_recovery: false,
        received: None,
        replayed: None,
        last_replay_age_ms: None,
    };
    assert!(!judge(
        &mut state,
        Ok(promoted),
        Some(Lsn(1)),
        t0,
        t0,
        BOUND
    ));
    let mut fresh = ProbeState::default();
    assert!(!judge(
        &mut fresh,
        Ok(standby(50, 40, None)),
        Some(Lsn(60)),
        t0,
        t0,
        BOUND
    ));
    assert_eq!(fresh.lag_ms, None);
    // The primary cannot be asked: caught up means everything received is replayed.
    assert!(judge(
        &mut fresh,
        Ok(standby(60, 60, Some(90_000.0))),
        None,
        t0,
        t0,
        BOUND
    ));
}

#[test]
fn tokens_combine_to_the_later_position_and_unknown_wins() {
    let a = WriteToken::at(Lsn(10));
    let b = WriteToken::at(Lsn(20));
    assert_eq!(a.and(b), b);
    assert_eq!(WriteToken::none().and(a), a);
    assert_eq!(a.and(WriteToken::none()), a);
    assert_eq!(a.and(WriteToken::unknown()), WriteToken::unknown());
    assert_eq!(WriteToken::none().lsn(), None);
}

#[test]
fn health_lag_is_zero_when_everything_received_is_replayed() {
    assert_eq!(standby(10, 10, Some(500.0)).health_lag(), (Some(0.0), 0));
    assert_eq!(standby(30, 10, Some(500.0)).health_lag(), (Some(500.0), 20));
    let archive = ReplayPosition {
        in_recovery: true,
        received: None,
        replayed: Some(Lsn(5)),
        last_replay_age_ms: Some(7.0),
    };
    assert_eq!(archive.health_lag(), (Some(7.0), 0));
}
