//! Read replicas: one PostgreSQL primary and any number of streaming standbys, each an
//! ordinary pool of a binding, with lag-aware routing and read-your-writes. One
//! implementation for every binding: `pool_sqlx::Replicas` and `pool_postgres::Replicas`
//! are this [`Replicas`] over their manager, which says how its driver asks a server
//! where its WAL stands ([`ReplicaBinding`]); the rules below are this module's alone.
//!
//! - [`Replicas::primary`] is for writes and transactions.
//! - [`Replicas::replica`] is for reads: the next replica, round-robin, among those that
//!   qualify; the primary when none does. A replica qualifies when its last lag probe
//!   answered, it is still a standby (`pg_is_in_recovery()`), and its lag is at most
//!   [`max_replica_lag`](ReplicasBuilder::max_replica_lag).
//! - [`Replicas::replica_after`] is for a read that must see an earlier write of the
//!   same logical session: given the [`WriteToken`] read after the write, it picks a
//!   replica that has replayed the write, waiting up to a bound, else the primary.
//!
//! # The lag probe
//!
//! A background task of the set (tokio), every [`probe_every`](ReplicasBuilder::probe_every),
//! reads the primary's WAL position ([`PRIMARY_POSITION_QUERY`]) and then asks each
//! replica, with one parameterless simple-protocol query (works behind PgBouncer),
//! `pg_is_in_recovery()`, `pg_last_wal_receive_lsn()`, `pg_last_wal_replay_lsn()` and the
//! age of `pg_last_xact_replay_timestamp()` ([`REPLAY_POSITION_QUERY`], the same query
//! as the standby lag in a binding's health report).
//! It holds one connection of its own to each server, outside the pools, so a replica
//! whose pool is busy with reads still answers its probe.
//!
//! A replica's lag is:
//!
//! - **0** when it has replayed everything the primary had written when the probe asked
//!   the primary (replay LSN ≥ the primary's `pg_current_wal_lsn()`); when the primary
//!   cannot be asked, when it has replayed everything it received;
//! - otherwise the smaller of two upper bounds: the age of the last replayed commit
//!   (`now() - pg_last_xact_replay_timestamp()` on the replica: it has every commit up to
//!   that one; the primary's clock against the replica's), and the time since the probe
//!   last saw it caught up (measured on this process's clock; it keeps a replica that was
//!   idle for an hour from looking an hour behind in the moment a new commit is on its
//!   way);
//! - unknown (the replica does not qualify) when neither is known yet.
//!
//! A replica leaving or returning to the read set is logged as a tracing event
//! (`warn` on leaving, `info` on returning) with its lag; [`Replicas::status`] shows each
//! one's lag, position and whether it qualifies, and [`Replicas::health`] adds each
//! pool's `Health`.
//!
//! # Read-your-writes
//!
//! After a write commits on the primary, [`Replicas::write_token`] (or
//! [`Replicas::transaction`], which runs the binding's `transaction()` and reads it for
//! you) reads the primary's `pg_current_wal_insert_lsn()`: the end of every WAL record
//! inserted so far, so at least the end of the commit record, whatever
//! `synchronous_commit` says (the write position `pg_current_wal_lsn()` can lag the
//! commit when `synchronous_commit = off`). [`Replicas::replica_after`] routes to a
//! qualifying replica whose replay LSN has reached the token: first by the positions the
//! probe last saw, then by polling `pg_last_wal_replay_lsn()` (the same position query)
//! every [`read_your_writes_poll`](ReplicasBuilder::read_your_writes_poll), up to
//! [`read_your_writes_wait`](ReplicasBuilder::read_your_writes_wait); after that, the
//! primary. A replica's replay position only moves forward, so any connection checked out
//! of the pool it returns sees the write.
//!
//! A file each: `position` (WAL positions, write tokens, their queries), `binding` (what
//! a binding supplies), `builder`, `probe` (the lag probe and its rule), `status` (the
//! status and health reports); routing is here.

mod binding;
mod builder;
mod position;
mod probe;
mod status;
#[cfg(test)]
mod tests;

use std::{
    fmt,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use pool_core::{Classify, Pool, Resilience};
use tokio::{task::JoinHandle, time::Instant};

use crate::health::{Health, HealthStatus};

pub use binding::{BoxFuture, ReplicaBinding};
pub use builder::{
    DEFAULT_MAX_REPLICA_LAG, DEFAULT_PROBE_EVERY, DEFAULT_READ_YOUR_WRITES_POLL,
    DEFAULT_READ_YOUR_WRITES_WAIT, ReplicasBuilder, ReplicasError,
};
pub use position::{
    Lsn, PRIMARY_POSITION_QUERY, PrimaryPosition, REPLAY_POSITION_QUERY, ReplayPosition, WriteToken,
};
pub use probe::PROBE_TIMEOUT;
pub use status::{ReplicaHealth, ReplicaStatus, ReplicasHealth, ReplicasStatus};

use probe::probe_loop;

/// One primary pool and any number of replica pools of the binding `M` (its manager),
/// with lag-aware routing of reads and read-your-writes (see [the module](self)).
/// `Clone` shares the set; the lag probe stops when the last clone is dropped or on
/// [`close`](Replicas::close).
///
/// Reads are spread **round-robin** over the replicas that qualify, not to the least
/// busy: the only load this process can see is its own pools' checkouts, which says
/// nothing of what other instances send to the same replica and is equal (zero) for every
/// replica whenever load is light, where "least busy" degenerates into "always the
/// first"; round-robin costs one atomic increment, spreads evenly over equal replicas, and
/// each replica's own pool already queues a burst. Lag, the one signal that differs, is
/// handled by taking lagging replicas out.
pub struct Replicas<M: ReplicaBinding> {
    inner: Arc<Inner<M>>,
}

impl<M: ReplicaBinding> Clone for Replicas<M> {
    fn clone(&self) -> Self {
        Replicas {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<M: ReplicaBinding> {
    primary: Pool<M>,
    replicas: Vec<Replica<M>>,
    next: AtomicUsize,
    max_replica_lag: Duration,
    read_your_writes_wait: Duration,
    read_your_writes_poll: Duration,
    prober: Mutex<Option<JoinHandle<()>>>,
}

impl<M: ReplicaBinding> Drop for Inner<M> {
    fn drop(&mut self) {
        if let Some(prober) = lock(&self.prober).take() {
            prober.abort();
        }
    }
}

/// A replica's pool and what the probe last found.
struct Replica<M: ReplicaBinding> {
    pool: Pool<M>,
    /// Read on every `replica()`: whether it takes reads.
    qualifies: AtomicBool,
    /// The highest replay position seen (probe or read-your-writes poll); 0: none yet.
    replayed: AtomicU64,
    state: Mutex<ProbeState>,
}

/// What the last probe of one replica found.
#[derive(Debug, Clone, Default)]
struct ProbeState {
    position: Option<ReplayPosition>,
    lag_ms: Option<f64>,
    /// When the probe last saw it caught up with the primary (the instant it read the
    /// primary's position).
    caught_up_at: Option<Instant>,
    probed_at: Option<Instant>,
    error: Option<String>,
    reason: Option<String>,
}

impl<M: ReplicaBinding> Replica<M> {
    fn new(pool: Pool<M>) -> Replica<M> {
        Replica {
            pool,
            qualifies: AtomicBool::new(false),
            replayed: AtomicU64::new(0),
            state: Mutex::new(ProbeState::default()),
        }
    }

    fn has_replayed(&self, lsn: Lsn) -> bool {
        self.replayed.load(Ordering::Acquire) >= lsn.0
    }

    fn saw_replayed(&self, position: &ReplayPosition) {
        if position.in_recovery
            && let Some(replayed) = position.replayed
        {
            self.replayed.fetch_max(replayed.0, Ordering::AcqRel);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section is a few field writes: a panic cannot leave it half done.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<M: ReplicaBinding> fmt::Debug for Replicas<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replicas")
            .field("primary", &self.inner.primary.name())
            .field(
                "replicas",
                &self
                    .inner
                    .replicas
                    .iter()
                    .map(|replica| replica.pool.name())
                    .collect::<Vec<_>>(),
            )
            .field("max_replica_lag", &self.inner.max_replica_lag)
            .finish()
    }
}

impl<M: ReplicaBinding> Replicas<M> {
    /// A builder for a set whose primary is `primary` (the binding's `Config`: its pool
    /// settings come from its URL, as for any pool); add replicas with
    /// [`ReplicasBuilder::replica`].
    pub fn builder(primary: M::Config) -> ReplicasBuilder<M> {
        ReplicasBuilder::new(primary)
    }

    /// The primary's pool: for writes, transactions, and reads that must be current.
    pub fn primary(&self) -> &Pool<M> {
        &self.inner.primary
    }

    /// The pool for a read: the next qualifying replica, round-robin; the primary when no
    /// replica qualifies (or there are none). A few atomic operations, no I/O. Until the
    /// lag probe's first round has answered (a few milliseconds after `build()`), no
    /// replica qualifies yet.
    pub fn replica(&self) -> &Pool<M> {
        self.pick(|_| true).unwrap_or(&self.inner.primary)
    }

    /// The pool for a read that must see the write `token` stands for: a qualifying
    /// replica that has replayed it, waiting up to
    /// [`read_your_writes_wait`](ReplicasBuilder::read_your_writes_wait) for one to;
    /// else the primary. Never fails: the primary is the answer of last resort.
    pub async fn replica_after(&self, token: &WriteToken) -> &Pool<M> {
        if token.nothing {
            return self.replica();
        }
        let Some(lsn) = token.lsn else {
            return &self.inner.primary;
        };
        if let Some(pool) = self.pick(|replica| replica.has_replayed(lsn)) {
            return pool;
        }
        let deadline = Instant::now() + self.inner.read_your_writes_wait;
        while Instant::now() < deadline {
            for replica in &self.inner.replicas {
                if !replica.qualifies.load(Ordering::Acquire) {
                    continue;
                }
                let asked = tokio::time::timeout_at(deadline, ask_replay(&replica.pool)).await;
                if let Ok(Some(position)) = asked {
                    replica.saw_replayed(&position);
                }
                if replica.has_replayed(lsn) {
                    return &replica.pool;
                }
            }
            if !self
                .inner
                .replicas
                .iter()
                .any(|replica| replica.qualifies.load(Ordering::Acquire))
            {
                break;
            }
            tokio::time::sleep_until(
                deadline.min(Instant::now() + self.inner.read_your_writes_poll),
            )
            .await;
        }
        &self.inner.primary
    }

    /// The token for what has committed on the primary so far (read after a write
    /// committed, on a connection of the primary's pool); [`WriteToken::unknown`] (reads
    /// go to the primary) when the primary could not be asked. Never fails, so a write
    /// that committed is never reported as failed because its token could not be read.
    pub async fn write_token(&self) -> WriteToken {
        let read = async {
            let mut conn = self
                .inner
                .primary
                .get()
                .await
                .map_err(M::BindingError::from)?;
            conn.begin_operation();
            let position = M::primary_position(&mut conn).await;
            conn.finish(&position);
            position
                .map(|position| WriteToken::at(position.inserted))
                .map_err(M::BindingError::from)
        };
        match read.await {
            Ok(token) => token,
            Err(error) => {
                tracing::warn!(
                    pool = self.inner.primary.name(),
                    error = %error,
                    class = error.class().as_str(),
                    "could not read the primary's WAL position after a write: \
                     the session's reads go to the primary"
                );
                WriteToken::unknown()
            }
        }
    }

    /// Runs `body` as a transaction on the primary under `policy`, through the binding's
    /// `transaction()` (retries and all; the body gets the connection type that door
    /// gives), and returns its value with the [`WriteToken`] read after it committed.
    pub async fn transaction<T, E, F>(
        &self,
        policy: &Resilience,
        body: F,
    ) -> Result<(T, WriteToken), E>
    where
        E: Classify + From<pool_core::Rejected> + From<M::BindingError>,
        F: for<'c> FnMut(&'c mut M::TransactionConnection) -> BoxFuture<'c, Result<T, E>>,
    {
        let value = M::transaction(&self.inner.primary, policy, body).await?;
        Ok((value, self.write_token().await))
    }

    /// Each replica's lag, position and whether it takes reads, as the probe last saw
    /// them, with every pool's status. No I/O.
    pub fn status(&self) -> ReplicasStatus {
        let now = Instant::now();
        ReplicasStatus {
            primary: self.inner.primary.status(),
            max_replica_lag_ms: pool_core::rounded_millis(self.inner.max_replica_lag),
            replicas: self
                .inner
                .replicas
                .iter()
                .map(|replica| {
                    let state = lock(&replica.state).clone();
                    ReplicaStatus {
                        pool: replica.pool.name().to_owned(),
                        database: replica.pool.manager().description().to_owned(),
                        qualifies: replica.qualifies.load(Ordering::Acquire),
                        lag_ms: state.lag_ms,
                        replayed: state.position.and_then(|position| position.replayed),
                        received: state.position.and_then(|position| position.received),
                        probed_ms_ago: state
                            .probed_at
                            .map(|at| pool_core::rounded_millis(now.duration_since(at))),
                        error: state.error,
                        reason: state.reason,
                        connections: replica.pool.status(),
                    }
                })
                .collect(),
        }
    }

    /// The binding's health report of the primary's pool and of every replica's pool
    /// (all at once, each within `timeout`), with [`status`](Self::status). The set's
    /// status is the primary's, made `degraded` when it is healthy but a replica does not
    /// take reads (its reads go elsewhere).
    pub async fn health(&self, timeout: Duration) -> ReplicasHealth {
        let mut checks = tokio::task::JoinSet::new();
        let pools = std::iter::once(&self.inner.primary)
            .chain(self.inner.replicas.iter().map(|replica| &replica.pool));
        for (index, pool) in pools.enumerate() {
            let pool = pool.clone();
            checks.spawn(async move { (index, M::health(&pool, timeout).await) });
        }
        let mut reports: Vec<Option<Health>> = vec![None; self.inner.replicas.len() + 1];
        while let Some(joined) = checks.join_next().await {
            if let Ok((index, report)) = joined
                && let Some(slot) = reports.get_mut(index)
            {
                *slot = Some(report);
            }
        }
        let mut reports = reports.into_iter();
        let primary = reports.next().flatten();
        let status = self.status();
        let replicas: Vec<ReplicaHealth> = status
            .replicas
            .into_iter()
            .zip(reports)
            .map(|(replica, health)| ReplicaHealth { replica, health })
            .collect();
        let primary_status = primary
            .as_ref()
            .map_or(HealthStatus::Unhealthy, |health| health.status);
        let overall = match primary_status {
            HealthStatus::Healthy if replicas.iter().any(|r| !r.replica.qualifies) => {
                HealthStatus::Degraded
            }
            other => other,
        };
        ReplicasHealth {
            status: overall,
            primary,
            replicas,
        }
    }

    /// Stops the lag probe and closes every pool ([`Pool::close`]: new checkouts refused,
    /// those out waited for within each pool's close timeout).
    pub async fn close(&self) {
        if let Some(prober) = lock(&self.inner.prober).take() {
            prober.abort();
        }
        for replica in &self.inner.replicas {
            replica.qualifies.store(false, Ordering::Release);
        }
        let pools = std::iter::once(&self.inner.primary)
            .chain(self.inner.replicas.iter().map(|replica| &replica.pool));
        for pool in pools {
            let _report = pool.close().await;
        }
    }

    /// The next replica (round-robin) that qualifies and passes `also`.
    fn pick(&self, also: impl Fn(&Replica<M>) -> bool) -> Option<&Pool<M>> {
        let replicas = &self.inner.replicas;
        if replicas.is_empty() {
            return None;
        }
        let start = self.inner.next.fetch_add(1, Ordering::Relaxed);
        (0..replicas.len())
            .filter_map(|offset| replicas.get((start.wrapping_add(offset)) % replicas.len()))
            .find(|replica| replica.qualifies.load(Ordering::Acquire) && also(replica))
            .map(|replica| &replica.pool)
    }
}

/// A replica's replay position through a checkout of its own pool (the read-your-writes
/// poll); `None` when it could not be read (the next poll asks again).
async fn ask_replay<M: ReplicaBinding>(pool: &Pool<M>) -> Option<ReplayPosition> {
    let mut conn = pool.get().await.ok()?;
    conn.begin_operation();
    let position = M::replay_position(&mut conn).await;
    conn.finish(&position);
    position.ok()
}

/// What a `#[pooled(read)]` function taking the set checks out from:
/// [`replica()`](Replicas::replica), asked anew for each attempt. The attribute on a
/// function taking a binding's connection (`&mut PgConnection` on pool-sqlx, `&mut
/// pool_postgres::Client` on pool-postgres) then takes that binding's `&Replicas`.
impl<M: ReplicaBinding> pool_core::ReadSource for Replicas<M> {
    type Manager = M;

    fn read_pool(&self) -> &Pool<M> {
        self.replica()
    }
}
