//! The lag probe: a background task that asks the primary and each replica where their
//! WAL stands and decides which replicas qualify for reads (the rule is in the module's
//! documentation of [`replicas`](super)).

use pool_core::{Manager, Pool};

use super::*;

/// How long one probe query (or its connect) may take before the server counts as not
/// answering.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The probe's own connections (outside the pools), reopened when one fails.
type Slot<M> = Option<<M as Manager>::Connection>;

pub(super) async fn probe_loop<M: ReplicaBinding>(set: Weak<Inner<M>>, period: Duration) {
    let mut primary: Slot<M> = None;
    let mut replicas: Vec<Slot<M>> = Vec::new();
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(set) = set.upgrade() else {
            return;
        };
        replicas.resize_with(set.replicas.len(), || None);
        probe(&set, &mut primary, &mut replicas).await;
    }
}

/// One round: the primary's position, then each replica's.
async fn probe<M: ReplicaBinding>(
    set: &Inner<M>,
    primary_slot: &mut Slot<M>,
    slots: &mut [Slot<M>],
) {
    let asked_primary = Instant::now();
    let primary = ask(primary_slot, &set.primary, |conn| {
        Box::pin(async move {
            M::primary_position(conn)
                .await
                .map(|position| position.written)
        })
    })
    .await
    .ok();
    for (replica, slot) in set.replicas.iter().zip(slots.iter_mut()) {
        let asked = ask(slot, &replica.pool, |conn| {
            Box::pin(M::replay_position(conn))
        })
        .await;
        let now = Instant::now();
        let (qualifies, lag_ms, left) = {
            let mut state = lock(&replica.state);
            let verdict = judge(
                &mut state,
                asked,
                primary,
                asked_primary,
                now,
                set.max_replica_lag,
            );
            state.probed_at = Some(now);
            if let Some(position) = &state.position {
                replica.saw_replayed(position);
            }
            (verdict, state.lag_ms, state.reason.clone())
        };
        let was = replica.qualifies.swap(qualifies, Ordering::AcqRel);
        if was && !qualifies {
            tracing::warn!(
                pool = replica.pool.name(),
                lag_ms,
                max_replica_lag_ms = pool_core::rounded_millis(set.max_replica_lag),
                reason = left.as_deref().unwrap_or(""),
                "replica left the read set: its reads go to other replicas or the primary"
            );
        } else if !was && qualifies {
            tracing::info!(
                pool = replica.pool.name(),
                lag_ms,
                "replica in the read set"
            );
        }
    }
}

/// Runs `query` on the slot's connection (opened through `pool`'s manager, outside the
/// pool, when there is none), within [`PROBE_TIMEOUT`]; a connection that failed or timed
/// out is dropped, to be reopened next time.
async fn ask<M: ReplicaBinding, T>(
    slot: &mut Slot<M>,
    pool: &Pool<M>,
    query: impl for<'c> FnOnce(&'c mut M::Connection) -> BoxFuture<'c, Result<T, M::Error>>,
) -> Result<T, String> {
    let answer = tokio::time::timeout(PROBE_TIMEOUT, async {
        let conn = match slot {
            Some(conn) => conn,
            None => slot.insert(
                pool.manager()
                    .probe_connection()
                    .await
                    .map_err(|e| e.to_string())?,
            ),
        };
        query(conn).await.map_err(|e| e.to_string())
    })
    .await;
    match answer {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => {
            *slot = None;
            Err(error)
        }
        Err(_elapsed) => {
            *slot = None;
            Err(format!("no answer within {PROBE_TIMEOUT:?}"))
        }
    }
}

/// Updates `state` from one probe and says whether the replica qualifies (the lag rule of
/// [the module](super)).
pub(super) fn judge(
    state: &mut ProbeState,
    asked: Result<ReplayPosition, String>,
    primary: Option<Lsn>,
    asked_primary: Instant,
    now: Instant,
    max_lag: Duration,
) -> bool {
    let position = match asked {
        Ok(position) => position,
        Err(error) => {
            state.reason = Some(format!("its lag probe failed: {error}"));
            state.error = Some(error);
            state.lag_ms = None;
            return false;
        }
    };
    state.error = None;
    state.position = Some(position);
    if !position.in_recovery {
        state.lag_ms = None;
        state.reason = Some("it is not a standby (pg_is_in_recovery() is false)".to_owned());
        return false;
    }
    let caught_up = match (primary, position.replayed) {
        (Some(primary), Some(replayed)) => replayed >= primary,
        (None, Some(replayed)) => position.received == Some(replayed),
        (_, None) => false,
    };
    if caught_up {
        state.caught_up_at = Some(asked_primary);
    }
    let since_caught_up = state
        .caught_up_at
        .map(|at| pool_core::rounded_millis(now.saturating_duration_since(at)));
    let age = position.last_replay_age_ms.map(|age| age.max(0.0));
    let lag_ms = if caught_up {
        Some(0.0)
    } else {
        match (age, since_caught_up) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    };
    state.lag_ms = lag_ms;
    let max_ms = pool_core::rounded_millis(max_lag);
    match lag_ms {
        Some(lag) if lag <= max_ms => {
            state.reason = None;
            true
        }
        Some(lag) => {
            state.reason = Some(format!(
                "it lags {lag:.0} ms, more than max_replica_lag {max_ms:.0} ms"
            ));
            false
        }
        None => {
            state.reason =
                Some("its lag is not known yet (not caught up, no commit replayed)".to_owned());
            false
        }
    }
}
