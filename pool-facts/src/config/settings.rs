//! `Settings`: the values a pool built from a `Config` gets, printable and safe to log.

use std::{fmt, time::Duration};

use pool_core::{MetricNames, Validation};

use super::{
    backend_kind::BackendKind,
    hosts::{LoadBalanceHosts, TargetSessionAttrs},
    preset::Preset,
};

/// The settings a [`Config`](super::Config) gives a pool: its preset with the URL's parameters applied.
/// `Display` lists them one per line, the URL without its password; safe to log.
///
/// ```
/// let config = pool_facts::Config::from_url("postgres://app:pw@db/app?connection_limit=20")?
///     .with_preset(pool_facts::Preset::Serverless);
/// let settings = config.settings();
/// assert_eq!(settings.max_size, 20);
/// let shown = settings.to_string();
/// assert!(shown.contains("preset: serverless"));
/// assert!(shown.contains("postgres://app:***@db/app"));
/// # Ok::<(), pool_facts::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settings {
    /// The preset the URL's parameters override.
    pub preset: Preset,
    /// The backend.
    pub backend: BackendKind,
    /// The URL handed to the driver, password replaced by `***`.
    pub url: String,
    /// Most connections.
    pub max_size: usize,
    /// Connections kept open when idle.
    pub min_idle: usize,
    /// How long a checkout may wait (a URL's `0` shows as a year: no limit).
    pub acquire_timeout: Duration,
    /// How long one connect may take.
    pub connect_timeout: Duration,
    /// When idle connections are checked before being handed out.
    pub validation: Validation,
    /// Idle connections are closed after this long; `None`: never.
    pub idle_timeout: Option<Duration>,
    /// Connections are replaced after this long; `None`: never.
    pub max_lifetime: Option<Duration>,
    /// Idle connections are checked in the background after this long; `None`: off.
    pub keepalive: Option<Duration>,
    /// The adaptive limit's floor; `None`: `max_size` connections at once, fixed.
    pub adaptive_limit: Option<usize>,
    /// Which names the pool's metrics go by (shown when not the pool's own).
    pub metric_names: MetricNames,
    /// Server-side statement time limit; `None`: none.
    pub statement_timeout: Option<Duration>,
    /// Behind PgBouncer in transaction mode.
    pub pgbouncer: bool,
    /// Prepared statements kept per connection (`0`: none; always `0` behind PgBouncer).
    pub statement_cache_size: usize,
    /// PostgreSQL `application_name`; `None`: the pool's name.
    pub application_name: Option<String>,
    /// Statements slower than this are logged (the binding's slow-query log);
    /// `None`: off.
    pub slow_query: Option<Duration>,
    /// Which server a connect accepts (PostgreSQL; shown when not `any`).
    pub target_session_attrs: TargetSessionAttrs,
    /// The order hosts are tried in (PostgreSQL; shown when `random`).
    pub load_balance_hosts: LoadBalanceHosts,
}

impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn limit(d: Duration) -> String {
            if d >= FOREVER {
                "none".to_owned()
            } else {
                format!("{d:?}")
            }
        }
        fn never(d: Option<Duration>, none: &str) -> String {
            d.map_or_else(|| none.to_owned(), |d| format!("{d:?}"))
        }
        let validation = match self.validation {
            Validation::Never => "never".to_owned(),
            Validation::Always => "every checkout".to_owned(),
            Validation::IdleLongerThan(d) => format!("if idle longer than {d:?}"),
        };
        writeln!(f, "preset: {}", self.preset)?;
        writeln!(f, "backend: {}", self.backend.name())?;
        writeln!(f, "url: {}", self.url)?;
        writeln!(f, "max_size: {}", self.max_size)?;
        writeln!(f, "min_idle: {}", self.min_idle)?;
        writeln!(f, "acquire_timeout: {}", limit(self.acquire_timeout))?;
        writeln!(f, "connect_timeout: {}", limit(self.connect_timeout))?;
        writeln!(f, "validation: {validation}")?;
        writeln!(f, "idle_timeout: {}", never(self.idle_timeout, "never"))?;
        writeln!(f, "max_lifetime: {}", never(self.max_lifetime, "never"))?;
        writeln!(f, "keepalive: {}", never(self.keepalive, "off"))?;
        match self.adaptive_limit {
            Some(floor) => writeln!(f, "adaptive_limit: from {floor} to max_size")?,
            None => writeln!(f, "adaptive_limit: off")?,
        }
        writeln!(
            f,
            "statement_timeout: {}",
            never(self.statement_timeout, "none")
        )?;
        writeln!(f, "pgbouncer: {}", self.pgbouncer)?;
        match self.statement_cache_size {
            0 => writeln!(f, "statement_cache_size: 0 (no cache)")?,
            size => writeln!(f, "statement_cache_size: {size}")?,
        }
        writeln!(
            f,
            "application_name: {}",
            self.application_name
                .as_deref()
                .unwrap_or("(the pool's name)")
        )?;
        if self.target_session_attrs != TargetSessionAttrs::Any {
            writeln!(
                f,
                "target_session_attrs: {}",
                self.target_session_attrs.name()
            )?;
        }
        if self.load_balance_hosts != LoadBalanceHosts::Disable {
            writeln!(f, "load_balance_hosts: {}", self.load_balance_hosts.name())?;
        }
        if self.metric_names != MetricNames::Pool {
            writeln!(f, "metric_names: {}", self.metric_names.name())?;
        }
        write!(f, "slow_query: {}", never(self.slow_query, "off"))
    }
}

/// "No limit" for a pool wait the URL set to 0 (pool-core wants a finite duration).
pub(super) const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);
