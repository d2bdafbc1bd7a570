//! [`ReplicasBuilder`]: the set's members and settings, checked when it is built.

use crate::BackendKind;

use super::*;

/// Why a [`Replicas`] set could not be built; `E` is the binding's error
/// ([`ReplicaBinding::BindingError`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplicasError<E> {
    /// A member's pool could not be built from its `Config`.
    #[error("the {member}'s pool: {source}")]
    Pool {
        /// `primary` or `replica N` (from 0, in the order added).
        member: String,
        /// What is wrong with its configuration.
        source: E,
    },
    /// A member's URL names a backend other than PostgreSQL.
    #[error("the {member} is {kind}: read replicas are PostgreSQL streaming standbys")]
    NotPostgres {
        /// `primary` or `replica N`.
        member: String,
        /// The backend its URL names.
        kind: &'static str,
    },
    /// A duration that must be positive is zero.
    #[error("{setting} must be more than zero")]
    ZeroDuration {
        /// The builder method.
        setting: &'static str,
    },
    /// `build()` was called outside a tokio runtime: the lag probe is a tokio task.
    #[error("Replicas::build() needs a tokio runtime for its lag probe")]
    NoRuntime,
}

/// Builds a [`Replicas`] set; from [`Replicas::builder`].
#[derive(Debug)]
#[must_use = "a builder does nothing until build()"]
pub struct ReplicasBuilder<M: ReplicaBinding> {
    name: String,
    primary: M::Config,
    replicas: Vec<M::Config>,
    max_replica_lag: Duration,
    probe_every: Duration,
    read_your_writes_wait: Duration,
    read_your_writes_poll: Duration,
}

/// Default [`max_replica_lag`](ReplicasBuilder::max_replica_lag): 1 s.
pub const DEFAULT_MAX_REPLICA_LAG: Duration = Duration::from_secs(1);
/// Default [`probe_every`](ReplicasBuilder::probe_every): 250 ms.
pub const DEFAULT_PROBE_EVERY: Duration = Duration::from_millis(250);
/// Default [`read_your_writes_wait`](ReplicasBuilder::read_your_writes_wait): 200 ms.
pub const DEFAULT_READ_YOUR_WRITES_WAIT: Duration = Duration::from_millis(200);
/// Default [`read_your_writes_poll`](ReplicasBuilder::read_your_writes_poll): 5 ms.
pub const DEFAULT_READ_YOUR_WRITES_POLL: Duration = Duration::from_millis(5);

impl<M: ReplicaBinding> ReplicasBuilder<M> {
    pub(super) fn new(primary: M::Config) -> Self {
        ReplicasBuilder {
            name: "replicas".to_owned(),
            primary,
            replicas: Vec::new(),
            max_replica_lag: DEFAULT_MAX_REPLICA_LAG,
            probe_every: DEFAULT_PROBE_EVERY,
            read_your_writes_wait: DEFAULT_READ_YOUR_WRITES_WAIT,
            read_your_writes_poll: DEFAULT_READ_YOUR_WRITES_POLL,
        }
    }

    /// The pools' name prefix: the primary's pool is `NAME/primary`, the replicas'
    /// `NAME/replica-0`, `NAME/replica-1`, ... (default `replicas`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Adds a replica (a streaming standby of the primary), with its own pool settings.
    pub fn replica(mut self, config: M::Config) -> Self {
        self.replicas.push(config);
        self
    }

    /// The most lag a replica may have and still take reads (default
    /// [`DEFAULT_MAX_REPLICA_LAG`]). A replica lagging more is taken out until it catches
    /// up; checked every [`probe_every`](Self::probe_every), so a replica may lag up to
    /// about this plus one period before it leaves.
    pub fn max_replica_lag(mut self, lag: Duration) -> Self {
        self.max_replica_lag = lag;
        self
    }

    /// How often the lag probe asks each server (default [`DEFAULT_PROBE_EVERY`]).
    pub fn probe_every(mut self, period: Duration) -> Self {
        self.probe_every = period;
        self
    }

    /// How long [`Replicas::replica_after`] waits for a replica to replay a write before
    /// it sends the read to the primary (default [`DEFAULT_READ_YOUR_WRITES_WAIT`]); zero:
    /// no wait, only the positions the probe last saw.
    pub fn read_your_writes_wait(mut self, wait: Duration) -> Self {
        self.read_your_writes_wait = wait;
        self
    }

    /// How often [`Replicas::replica_after`] asks a replica its replay position while it
    /// waits (default [`DEFAULT_READ_YOUR_WRITES_POLL`]).
    pub fn read_your_writes_poll(mut self, poll: Duration) -> Self {
        self.read_your_writes_poll = poll;
        self
    }

    /// Builds every pool (lazily: no connection yet) and starts the lag probe. Call it
    /// inside a tokio runtime.
    pub fn build(self) -> Result<Replicas<M>, ReplicasError<M::BindingError>> {
        for (setting, value) in [
            ("max_replica_lag", self.max_replica_lag),
            ("probe_every", self.probe_every),
            ("read_your_writes_poll", self.read_your_writes_poll),
        ] {
            if value.is_zero() {
                return Err(ReplicasError::ZeroDuration { setting });
            }
        }
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| ReplicasError::NoRuntime)?;
        let pool = |member: String, pool_name: String, config: &M::Config| {
            let kind = M::kind(config);
            if kind != BackendKind::Postgres {
                return Err(ReplicasError::NotPostgres {
                    member,
                    kind: kind.name(),
                });
            }
            M::build_pool(config, &pool_name)
                .map_err(|source| ReplicasError::Pool { member, source })
        };
        let primary = pool(
            "primary".to_owned(),
            format!("{}/primary", self.name),
            &self.primary,
        )?;
        let mut replicas = Vec::with_capacity(self.replicas.len());
        for (index, config) in self.replicas.iter().enumerate() {
            replicas.push(Replica::new(pool(
                format!("replica {index}"),
                format!("{}/replica-{index}", self.name),
                config,
            )?));
        }
        let inner = Arc::new(Inner {
            primary,
            replicas,
            next: AtomicUsize::new(0),
            max_replica_lag: self.max_replica_lag,
            read_your_writes_wait: self.read_your_writes_wait,
            read_your_writes_poll: self.read_your_writes_poll,
            prober: Mutex::new(None),
        });
        let prober = runtime.spawn(probe_loop(Arc::downgrade(&inner), self.probe_every));
        *lock(&inner.prober) = Some(prober);
        Ok(Replicas { inner })
    }
}
