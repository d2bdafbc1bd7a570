//! What [`Replicas::status`] and [`Replicas::health`] report.

use pool_core::Status;

use super::*;

/// `Replicas::status`: the set as the lag probe last saw it. Serialises with serde.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct ReplicasStatus {
    /// The primary's pool.
    pub primary: Status,
    /// The configured bound.
    pub max_replica_lag_ms: f64,
    /// Each replica, in the order added.
    pub replicas: Vec<ReplicaStatus>,
}

/// One replica in [`ReplicasStatus`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct ReplicaStatus {
    /// Its pool's name.
    pub pool: String,
    /// Its URL, password replaced by `***`.
    pub database: String,
    /// It takes reads: its last probe answered, it is a standby, and its lag is within
    /// the bound.
    pub qualifies: bool,
    /// Its lag in milliseconds (see [the module](super)); `None` when unknown.
    pub lag_ms: Option<f64>,
    /// Its replay position at the last probe.
    pub replayed: Option<Lsn>,
    /// Its receive position at the last probe.
    pub received: Option<Lsn>,
    /// Milliseconds since the last probe finished; `None` before the first.
    pub probed_ms_ago: Option<f64>,
    /// Why the last probe failed (never a password).
    pub error: Option<String>,
    /// Why it does not take reads, when it does not.
    pub reason: Option<String>,
    /// Its pool.
    pub connections: Status,
}

/// `Replicas::health`: every pool's health and the routing state.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct ReplicasHealth {
    /// The primary's verdict, `degraded` when a replica does not take reads.
    pub status: HealthStatus,
    /// The primary's pool (`None` only if its check panicked).
    pub primary: Option<Health>,
    /// Each replica's routing state and pool health.
    pub replicas: Vec<ReplicaHealth>,
}

/// One replica in [`ReplicasHealth`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct ReplicaHealth {
    /// Its routing state.
    pub replica: ReplicaStatus,
    /// Its pool's health (`None` only if its check panicked).
    pub health: Option<Health>,
}
