//! `PoolBuilder`: every setting of a pool, its defaults, and the checks `build()` runs.

use std::{sync::Arc, time::Duration};

use super::hooks::{HookFuture, Hooks};
use crate::{ConfigError, Manager, MetricNames, Pool, PoolError};

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

/// The figures a [`PoolBuilder`] starts from, one constant each (the table on
/// [`PoolBuilder`] says why each is what it is). Anything that describes a pool before it
/// is built (pool-sqlx's presets and its settings display) reads them here: a preset
/// states only what it changes.
pub mod defaults {
    use std::time::Duration;

    use super::{MetricNames, Validation};

    /// `name`: the pool's label in metrics and logs.
    pub const NAME: &str = "default";
    /// `max_size`.
    pub const MAX_SIZE: usize = 10;
    /// `min_idle`: a lazy pool.
    pub const MIN_IDLE: usize = 0;
    /// `acquire_timeout`.
    pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
    /// `connect_timeout`.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    /// `check_timeout`.
    pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
    /// `validation`: only connections idle longer than 500 ms.
    pub const VALIDATION: Validation = Validation::IdleLongerThan(Duration::from_millis(500));
    /// `idle_timeout`.
    pub const IDLE_TIMEOUT: Option<Duration> = Some(Duration::from_secs(600));
    /// `max_lifetime`.
    pub const MAX_LIFETIME: Option<Duration> = Some(Duration::from_secs(1800));
    /// `leak_threshold`: off.
    pub const LEAK_THRESHOLD: Option<Duration> = None;
    /// `slow_acquire_threshold`.
    pub const SLOW_ACQUIRE_THRESHOLD: Option<Duration> = Some(Duration::from_secs(1));
    /// `close_timeout`.
    pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);
    /// `connect_backoff`'s base delay.
    pub const CONNECT_BACKOFF_BASE: Duration = Duration::from_millis(50);
    /// `connect_backoff`'s largest delay.
    pub const CONNECT_BACKOFF_MAX: Duration = Duration::from_secs(5);
    /// `adaptive_limit`: off (a fixed `max_size`).
    pub const ADAPTIVE_LIMIT: Option<usize> = None;
    /// `keepalive`: off (idle connections are checked only at checkout, by `validation`).
    pub const KEEPALIVE: Option<Duration> = None;
    /// `metric_names`: this crate's own names.
    pub const METRIC_NAMES: MetricNames = MetricNames::Pool;
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
    pub(crate) keepalive: Option<Duration>,
    /// The adaptive limit's floor, when the pool has one.
    pub(crate) adaptive_floor: Option<usize>,
    pub(crate) metric_names: MetricNames,
}

/// The largest `max_size` a pool accepts: far above what any database server takes, low
/// enough that a mistyped figure is an error rather than an allocation that aborts.
pub const MAX_POOL_SIZE: usize = 10_000;

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
/// | `adaptive_limit` | off | a fixed `max_size` is what every other pool does |
/// | `keepalive` | off | each check is a round trip per idle connection: for deployments with a firewall to outrun or a failover to follow |
/// | `metric_names` | `Pool` | the names dashboards built on this crate already use |
#[derive(Debug)]
#[must_use]
pub struct PoolBuilder<M: Manager> {
    pub(crate) manager: M,
    pub(crate) max_size: usize,
    pub(crate) config: Config,
    pub(crate) hooks: Hooks<M>,
}

impl<M: Manager> PoolBuilder<M> {
    pub(crate) fn new(manager: M) -> Self {
        PoolBuilder {
            manager,
            max_size: defaults::MAX_SIZE,
            config: Config {
                name: Arc::from(defaults::NAME),
                min_idle: defaults::MIN_IDLE,
                acquire_timeout: defaults::ACQUIRE_TIMEOUT,
                connect_timeout: defaults::CONNECT_TIMEOUT,
                check_timeout: defaults::CHECK_TIMEOUT,
                validation: defaults::VALIDATION,
                idle_timeout: defaults::IDLE_TIMEOUT,
                max_lifetime: defaults::MAX_LIFETIME,
                leak_threshold: defaults::LEAK_THRESHOLD,
                slow_acquire_threshold: defaults::SLOW_ACQUIRE_THRESHOLD,
                close_timeout: defaults::CLOSE_TIMEOUT,
                connect_backoff_base: defaults::CONNECT_BACKOFF_BASE,
                connect_backoff_max: defaults::CONNECT_BACKOFF_MAX,
                reaper_interval: None,
                keepalive: defaults::KEEPALIVE,
                adaptive_floor: defaults::ADAPTIVE_LIMIT,
                metric_names: defaults::METRIC_NAMES,
            },
            hooks: Hooks::default(),
        }
    }

    /// The pool's name, used in metrics labels and logs (default [`defaults::NAME`]).
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

    /// Checks ([`Manager::check`]) each connection that has been idle longer than
    /// `interval`, in the background, one at a time, and closes those that fail (counted
    /// as `closed_invalid`), as HikariCP's `keepaliveTime` does. A connection that a
    /// firewall, a NAT or the server dropped while it sat idle is then found before a
    /// caller takes it, the traffic keeps such middleboxes from dropping it at all, and
    /// a manager whose check asks more (pool-sqlx's `target_session_attrs`) closes
    /// connections whose server no longer fits, say a demoted primary. `check_timeout`
    /// bounds each check; a connection under check is out of the idle stack, so a caller
    /// takes another or waits for it. `None` (the default): idle connections are checked
    /// only at checkout, by [`validation`](Self::validation).
    pub fn keepalive(mut self, interval: Option<Duration>) -> Self {
        self.config.keepalive = interval;
        self
    }

    /// Lets the pool find how many connections to hand out at once: a limit that starts
    /// at `floor` and moves between it and `max_size` (never above: `max_size` stays the
    /// hard cap) by the time successful work holds a connection, rising while it stays
    /// near its no-load minimum and falling when queueing in the server shows; failed or
    /// timed-out connects and work that times out lower it too. The current limit is in
    /// [`Status::limit`](crate::Status::limit), `metrics().limit` and the `pool_limit`
    /// gauge; each change is a `debug` tracing event. Off by default.
    pub fn adaptive_limit(mut self, floor: usize) -> Self {
        self.config.adaptive_floor = Some(floor);
        self
    }

    /// Which names the pool's metrics go by (default [`defaults::METRIC_NAMES`], the
    /// pool's own):
    /// [`MetricNames::OpenTelemetry`] exports the figures OpenTelemetry's database-client
    /// semantic conventions name under those names, with the attribute
    /// `db.client.connection.pool.name` (the tables in [`names`](crate::names)). How
    /// long each checkout holds its connection (`db.client.connection.use_time`) is
    /// timed with the clock reads a checkout makes anyway; a checkout that validated its
    /// connection first reads the clock once more.
    pub fn metric_names(mut self, names: MetricNames) -> Self {
        self.config.metric_names = names;
        self
    }

    /// Runs `hook` on every new connection before the pool keeps it (sqlx's
    /// `after_connect`, deadpool's `post_create`): session set-up, prepared statements.
    /// An `Err` or a panic fails the connect like a connect error (retried, counted in
    /// `connect_errors`, given to waiters); `connect_timeout` bounds the connect and the
    /// hook together.
    pub fn after_connect<H>(mut self, hook: H) -> Self
    where
        H: for<'c> Fn(&'c mut M::Connection) -> HookFuture<'c, M::Error> + Send + Sync + 'static,
    {
        self.hooks.after_connect = Some(Arc::new(hook));
        self
    }

    /// Runs `hook` on an idle connection before it is handed out again (sqlx's
    /// `before_acquire`, deadpool's `pre_recycle`), after validation; not on a connection
    /// that was just opened. An `Err` or a panic closes the connection (counted as
    /// `closed_hook`) and the checkout goes on with another; the checkout's deadline
    /// bounds it.
    pub fn before_acquire<H>(mut self, hook: H) -> Self
    where
        H: for<'c> Fn(&'c mut M::Connection) -> HookFuture<'c, M::Error> + Send + Sync + 'static,
    {
        self.hooks.before_acquire = Some(Arc::new(hook));
        self
    }

    /// Runs `hook` on every connection that comes back, unless it is closed anyway
    /// (sqlx's `after_release`, deadpool's `post_recycle`): `false` or a panic closes
    /// it (counted as `closed_hook`). Synchronous, without I/O, because a return happens
    /// inside `Drop`: work that needs the server belongs in
    /// [`before_acquire`](Self::before_acquire).
    pub fn after_release<H>(mut self, hook: H) -> Self
    where
        H: Fn(&mut M::Connection) -> bool + Send + Sync + 'static,
    {
        self.hooks.after_release = Some(Arc::new(hook));
        self
    }

    /// Runs `hook` on every connection the pool closes, before it is closed (the seeds'
    /// `onDelete`); not on one whose `after_connect` failed, which never joined the pool.
    /// Synchronous, because most closes happen where the pool cannot await; a panic is
    /// caught and the connection is closed anyway.
    pub fn before_close<H>(mut self, hook: H) -> Self
    where
        H: Fn(&mut M::Connection) + Send + Sync + 'static,
    {
        self.hooks.before_close = Some(Arc::new(hook));
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

    /// Builds the pool and opens `max(min_idle, 1)` connections before returning, so a
    /// service that cannot reach its database fails at start-up with the real connect
    /// error (HikariCP's fail-fast): each connection is retried with backoff only until
    /// `connect_timeout` has passed since its first attempt, and not at all after a
    /// permanent error.
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
        if let Some(floor) = config.adaptive_floor
            && (floor == 0 || floor > self.max_size)
        {
            return Err(ConfigError::new(
                "adaptive_limit",
                format!(
                    "its floor is {floor}, outside 1..=max_size ({})",
                    self.max_size
                ),
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
            ("keepalive", config.keepalive),
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
