//! `PoolBuilder`: every setting of a pool, its defaults, and the checks `build()` runs.

use std::{sync::Arc, time::Duration};

use crate::{ConfigError, Manager, Pool, PoolError};

/// When an idle connection is validated with [`Manager::check`] before it is handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    /// Never: a dead connection shows up as a `Connection`-class error on first use.
    Never,
    /// Only when it has been idle longer than this (HikariCP's rule; 500 ms by default).
    IdleLongerThan(Duration),
    /// On every checkout of an idle connection (one round trip each time).
    Always,
}

/// The settings of one pool, fixed at build time (only `max_size` changes afterwards,
/// through [`Pool::resize`]).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) name: Arc<str>,
    pub(crate) min_idle: usize,
    pub(crate) acquire_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) check_timeout: Duration,
    pub(crate) validation: Validation,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) leak_threshold: Option<Duration>,
    pub(crate) slow_acquire_threshold: Option<Duration>,
    pub(crate) close_timeout: Duration,
    pub(crate) connect_backoff_base: Duration,
    pub(crate) connect_backoff_max: Duration,
    pub(crate) reaper_interval: Option<Duration>,
}

/// The largest `max_size` a pool accepts: far above what any database server takes, low
/// enough that a mistyped figure is an error rather than an allocation that aborts.
pub const MAX_POOL_SIZE: usize = 10_000;

/// How many connections the pool opens before `build_and_connect` gives up.
pub(crate) const START_ATTEMPTS: u32 = 3;

/// Builds a [`Pool`]. Every wait has a finite default.
///
/// | setting | default | why |
/// |---|---|---|
/// | `max_size` | 10 | sqlx's and Prisma's usual figure |
/// | `min_idle` | 0 | a lazy pool opens nothing until asked |
/// | `acquire_timeout` | 30 s | HikariCP's `connectionTimeout`, sqlx's `acquire_timeout` |
/// | `connect_timeout` | 10 s | one connect attempt |
/// | `check_timeout` | 5 s | HikariCP's `validationTimeout` |
/// | `validate_after` | 500 ms | HikariCP's idle-before-validation rule |
/// | `idle_timeout` | 10 min | HikariCP's `idleTimeout` |
/// | `max_lifetime` | 30 min | HikariCP's `maxLifetime` (minus up to 2.5 % jitter) |
/// | `leak_threshold` | off | HikariCP's `leakDetectionThreshold` is off by default |
/// | `slow_acquire_threshold` | 1 s | a `tracing` warning for a slow checkout |
/// | `close_timeout` | 30 s | how long `close()` waits for checked-out connections |
#[derive(Debug)]
#[must_use]
pub struct PoolBuilder<M: Manager> {
    pub(crate) manager: M,
    pub(crate) max_size: usize,
    pub(crate) config: Config,
}

impl<M: Manager> PoolBuilder<M> {
    pub(crate) fn new(manager: M) -> Self {
        PoolBuilder {
            manager,
            max_size: 10,
            config: Config {
                name: Arc::from("default"),
                min_idle: 0,
                acquire_timeout: Duration::from_secs(30),
                connect_timeout: Duration::from_secs(10),
                check_timeout: Duration::from_secs(5),
                validation: Validation::IdleLongerThan(Duration::from_millis(500)),
                idle_timeout: Some(Duration::from_secs(600)),
                max_lifetime: Some(Duration::from_secs(1800)),
                leak_threshold: None,
                slow_acquire_threshold: Some(Duration::from_secs(1)),
                close_timeout: Duration::from_secs(30),
                connect_backoff_base: Duration::from_millis(50),
                connect_backoff_max: Duration::from_secs(5),
                reaper_interval: None,
            },
        }
    }

    /// The pool's name, used in metrics labels and logs (default `"default"`).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.config.name = name.into();
        self
    }

    /// The most connections open at once, counting those being opened.
    pub fn max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size;
        self
    }

    /// How many idle connections a background task keeps open.
    pub fn min_idle(mut self, min_idle: usize) -> Self {
        self.config.min_idle = min_idle;
        self
    }

    /// How long `get()` waits in all, for a free slot, a new connection and validation.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.config.acquire_timeout = timeout;
        self
    }

    /// How long one attempt to open a connection may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// How long one [`Manager::check`] may take before the connection is discarded.
    pub fn check_timeout(mut self, timeout: Duration) -> Self {
        self.config.check_timeout = timeout;
        self
    }

    /// Validate an idle connection only when it has been idle longer than `idle`.
    pub fn validate_after(mut self, idle: Duration) -> Self {
        self.config.validation = Validation::IdleLongerThan(idle);
        self
    }

    /// When idle connections are validated (see [`Validation`]).
    pub fn validation(mut self, validation: Validation) -> Self {
        self.config.validation = validation;
        self
    }

    /// Close connections idle longer than this, down to `min_idle` (`None`: never).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// Close connections older than this, on return or by the reaper (`None`: never).
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.config.max_lifetime = lifetime;
        self
    }

    /// Warn when a connection stays checked out longer than this.
    pub fn leak_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.config.leak_threshold = threshold;
        self
    }

    /// Warn when a checkout takes longer than this (`None`: never).
    pub fn slow_acquire_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.config.slow_acquire_threshold = threshold;
        self
    }

    /// How long `close()` waits for checked-out connections to come back.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.config.close_timeout = timeout;
        self
    }

    /// The first and the largest delay between failed background connect attempts.
    pub fn connect_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.config.connect_backoff_base = base;
        self.config.connect_backoff_max = max;
        self
    }

    /// How often the background task closes expired connections and tops up
    /// `min_idle` (default: derived from the idle timeout and lifetime, 100 ms to 30 s).
    pub fn reaper_interval(mut self, interval: Duration) -> Self {
        self.config.reaper_interval = Some(interval);
        self
    }

    /// Checks the settings and builds a lazy pool: nothing is opened until the first
    /// `get()` (or until the background task tops up `min_idle`).
    pub fn build(self) -> Result<Pool<M>, ConfigError> {
        self.validate()?;
        let pool = Pool::from_builder(self);
        pool.start_background();
        Ok(pool)
    }

    /// Builds the pool and opens `max(min_idle, 1)` connections before returning,
    /// retrying a few times with backoff, so a service that cannot reach its database
    /// fails at start-up with the real connect error (HikariCP's fail-fast).
    pub async fn build_and_connect(self) -> Result<Pool<M>, StartError<M::Error>> {
        self.validate().map_err(StartError::Config)?;
        // The background task starts after the warm-up: its own top-up to `min_idle` would
        // take the room the warm-up opens into, and its connects are not waited for.
        let pool = Pool::from_builder(self);
        pool.warm_up().await.map_err(StartError::Connect)?;
        pool.start_background();
        Ok(pool)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let config = &self.config;
        check_max_size(self.max_size)?;
        if config.min_idle > self.max_size {
            return Err(ConfigError::new(
                "min_idle",
                format!("is {}, above max_size {}", config.min_idle, self.max_size),
            ));
        }
        let positive = [
            ("acquire_timeout", Some(config.acquire_timeout)),
            ("connect_timeout", Some(config.connect_timeout)),
            ("check_timeout", Some(config.check_timeout)),
            ("idle_timeout", config.idle_timeout),
            ("max_lifetime", config.max_lifetime),
            ("leak_threshold", config.leak_threshold),
            ("slow_acquire_threshold", config.slow_acquire_threshold),
            ("connect_backoff", Some(config.connect_backoff_base)),
            ("reaper_interval", config.reaper_interval),
        ];
        for (setting, value) in positive {
            if value == Some(Duration::ZERO) {
                return Err(ConfigError::new(setting, "must be greater than zero"));
            }
        }
        if config.connect_backoff_max < config.connect_backoff_base {
            return Err(ConfigError::new(
                "connect_backoff",
                "its maximum is below its base delay",
            ));
        }
        Ok(())
    }
}

/// Why `build_and_connect` did not return a pool.
#[derive(Debug, thiserror::Error)]
pub enum StartError<E> {
    /// The settings are inconsistent.
    #[error(transparent)]
    Config(ConfigError),
    /// The first connections could not be opened.
    #[error("the pool could not open its first connections: {0}")]
    Connect(PoolError<E>),
}

/// The bounds of `max_size`, at build time and on `resize`.
pub(crate) fn check_max_size(max_size: usize) -> Result<(), ConfigError> {
    if max_size == 0 {
        return Err(ConfigError::new("max_size", "must be at least 1"));
    }
    if max_size > MAX_POOL_SIZE {
        return Err(ConfigError::new(
            "max_size",
            format!("must be at most {MAX_POOL_SIZE}, not {max_size}"),
        ));
    }
    Ok(())
}
