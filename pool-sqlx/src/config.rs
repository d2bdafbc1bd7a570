//! `Config`: a pool configured from the `DATABASE_URL` people already have.

use std::{fmt, time::Duration};

use pool_core::{ConfigError, Pool, PoolBuilder, Validation};
use sqlx::ConnectOptions;
use url::Url;

use crate::{Backend, Error, SqlxManager, backend::Options, backend::Session};

/// Which backend a URL names, by its scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `mysql://` or `mariadb://`.
    MySql,
    /// `sqlite:`.
    Sqlite,
}

impl BackendKind {
    /// A short lower-case name: `postgres`, `mysql`, `sqlite`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Postgres => "postgres",
            BackendKind::MySql => "mysql",
            BackendKind::Sqlite => "sqlite",
        }
    }
}

/// Starting points for a pool's settings; URL parameters override them.
///
/// Chosen in code ([`Config::with_preset`]) or from the `POOL_PRESET` environment
/// variable ([`Preset::from_env`], [`Config::from_env`]); [`Config::settings`] shows the
/// values in force.
///
/// | preset | `max_size` | `acquire_timeout` | `connect_timeout` | validation | `idle_timeout` | `max_lifetime` |
/// |---|---|---|---|---|---|---|
/// | `production` | 10 | 30 s | 10 s | if idle > 500 ms | 10 min | 30 min |
/// | `development` | 5 | 5 s | 10 s | every checkout | 10 min | 30 min |
/// | `test` | 4 | 5 s | 5 s | if idle > 500 ms | 1 min | 30 min |
/// | `serverless` | 1 | 5 s | 10 s | if idle > 500 ms | 30 s | 5 min |
///
/// Every preset is lazy (`min_idle` 0): nothing is opened until the first checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// The pool-core defaults: 10 connections, 30 s acquire timeout, HikariCP timings.
    Production,
    /// Small and quick to fail: 5 connections, 5 s acquire timeout, validate every checkout.
    Development,
    /// For test suites: 4 connections, 5 s acquire timeout, 5 s connect timeout,
    /// 1 min idle timeout.
    Test,
    /// One lazily opened connection, a 5 s acquire timeout, closed after 30 s idle
    /// (functions that freeze), replaced after 5 min.
    Serverless,
}

/// A `POOL_PRESET` (or [`Preset::from_str`](std::str::FromStr)) value that names no
/// preset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{variable} is `{value}`; expected one of: production, development, test, serverless (any case)"
)]
#[non_exhaustive]
pub struct UnknownPreset {
    /// Where the value came from: `POOL_PRESET`, or `preset` when parsed directly.
    pub variable: &'static str,
    /// The value given.
    pub value: String,
}

impl From<UnknownPreset> for ConfigError {
    fn from(error: UnknownPreset) -> Self {
        ConfigError::new(error.variable, error.to_string())
    }
}

impl From<UnknownPreset> for Error {
    fn from(error: UnknownPreset) -> Self {
        Error::Config(error.into())
    }
}

impl Preset {
    /// The environment variable [`Preset::from_env`] reads.
    pub const VARIABLE: &'static str = "POOL_PRESET";

    /// Every preset, in the order the error message lists them.
    pub const ALL: [Preset; 4] = [
        Preset::Production,
        Preset::Development,
        Preset::Test,
        Preset::Serverless,
    ];

    /// `production`, `development`, `test` or `serverless`.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Production => "production",
            Preset::Development => "development",
            Preset::Test => "test",
            Preset::Serverless => "serverless",
        }
    }

    /// Reads `POOL_PRESET`: `Ok(None)` when it is unset or empty, the preset it names
    /// (case-insensitive, surrounding spaces ignored), or an [`UnknownPreset`] naming the
    /// variable and listing the choices.
    pub fn from_env() -> Result<Option<Preset>, UnknownPreset> {
        match std::env::var(Self::VARIABLE) {
            Ok(value) => Self::from_env_value(Some(&value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(value)) => Err(UnknownPreset {
                variable: Self::VARIABLE,
                value: value.to_string_lossy().into_owned(),
            }),
        }
    }

    /// What [`from_env`](Self::from_env) makes of `value` (the variable's content, or
    /// `None` when unset), without touching the environment.
    pub fn from_env_value(value: Option<&str>) -> Result<Option<Preset>, UnknownPreset> {
        match value.map(str::trim) {
            None | Some("") => Ok(None),
            Some(value) => Self::parse_named(value, Self::VARIABLE).map(Some),
        }
    }

    fn parse_named(value: &str, variable: &'static str) -> Result<Preset, UnknownPreset> {
        Self::ALL
            .into_iter()
            .find(|preset| preset.name().eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| UnknownPreset {
                variable,
                value: value.to_owned(),
            })
    }

    /// The settings this preset starts from (before URL parameters).
    fn settings(self) -> PoolSettings {
        let production = PoolSettings {
            max_size: 10,
            min_idle: 0,
            acquire_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            validation: Validation::IdleLongerThan(Duration::from_millis(500)),
            idle_timeout: Some(Duration::from_secs(600)),
            max_lifetime: Some(Duration::from_secs(1800)),
        };
        match self {
            Preset::Production => production,
            Preset::Development => PoolSettings {
                max_size: 5,
                acquire_timeout: Duration::from_secs(5),
                validation: Validation::Always,
                ..production
            },
            Preset::Test => PoolSettings {
                max_size: 4,
                acquire_timeout: Duration::from_secs(5),
                connect_timeout: Duration::from_secs(5),
                idle_timeout: Some(Duration::from_secs(60)),
                ..production
            },
            Preset::Serverless => PoolSettings {
                max_size: 1,
                min_idle: 0,
                acquire_timeout: Duration::from_secs(5),
                idle_timeout: Some(Duration::from_secs(30)),
                max_lifetime: Some(Duration::from_secs(300)),
                ..production
            },
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = UnknownPreset;

    /// Case-insensitive: `Serverless`, `SERVERLESS` and `serverless` are the same.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse_named(value, "preset")
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PoolSettings {
    max_size: usize,
    min_idle: usize,
    acquire_timeout: Duration,
    connect_timeout: Duration,
    validation: Validation,
    idle_timeout: Option<Duration>,
    max_lifetime: Option<Duration>,
}

/// The settings a [`Config`] gives a pool: its preset with the URL's parameters applied.
/// `Display` lists them one per line, the URL without its password; safe to log.
///
/// ```
/// let config = pool_sqlx::Config::from_url("postgres://app:pw@db/app?connection_limit=20")?
///     .with_preset(pool_sqlx::Preset::Serverless);
/// let settings = config.settings();
/// assert_eq!(settings.max_size, 20);
/// let shown = settings.to_string();
/// assert!(shown.contains("preset: serverless"));
/// assert!(shown.contains("postgres://app:***@db/app"));
/// # Ok::<(), pool_sqlx::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settings {
    /// The preset the URL's parameters override.
    pub preset: Preset,
    /// The backend.
    pub backend: BackendKind,
    /// The URL handed to sqlx, password replaced by `***`.
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
    /// Server-side statement time limit; `None`: none.
    pub statement_timeout: Option<Duration>,
    /// Behind PgBouncer in transaction mode.
    pub pgbouncer: bool,
    /// PostgreSQL `application_name`; `None`: the pool's name.
    pub application_name: Option<String>,
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
        writeln!(
            f,
            "statement_timeout: {}",
            never(self.statement_timeout, "none")
        )?;
        writeln!(f, "pgbouncer: {}", self.pgbouncer)?;
        write!(
            f,
            "application_name: {}",
            self.application_name
                .as_deref()
                .unwrap_or("(the pool's name)")
        )
    }
}

/// "No limit" for a pool wait the URL set to 0 (pool-core wants a finite duration).
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// A pool configuration parsed from a database URL.
///
/// Pool parameters in the query string are taken out; everything else (`sslmode`,
/// `sslrootcert`, `socket`, ...) goes to sqlx untouched.
///
/// | parameter | meaning | `0` means |
/// |---|---|---|
/// | `connection_limit` | `max_size`, at most 10 000 | rejected |
/// | `pool_timeout` | `acquire_timeout` | no limit |
/// | `connect_timeout` | time limit of one connect | no limit |
/// | `statement_timeout` | server-side statement limit ([`Session::statement_timeout`]) | none |
/// | `idle_timeout` | close connections idle this long | never |
/// | `max_lifetime` | close connections this old | never |
/// | `pgbouncer` | `true`/`false`: behind PgBouncer in transaction mode | |
/// | `application_name` | PostgreSQL `application_name` (default: the pool's name) | |
///
/// Durations are whole seconds when written as a plain number (`pool_timeout=10`, as in
/// Prisma), or a number with a unit: `500ms`, `10s`, `5m`/`5min`, `1h`.
/// A bad value is a [`ConfigError`] naming the parameter.
///
/// Neither `Debug` nor `Display` shows the password.
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    url: Url,
    /// The backend the URL's scheme names.
    pub kind: BackendKind,
    /// `connection_limit`.
    pub connection_limit: Option<usize>,
    /// `pool_timeout` (`Some(ZERO)`: no limit).
    pub pool_timeout: Option<Duration>,
    /// `connect_timeout` (`Some(ZERO)`: no limit).
    pub connect_timeout: Option<Duration>,
    /// `statement_timeout` (`Some(ZERO)`: none).
    pub statement_timeout: Option<Duration>,
    /// `idle_timeout` (`Some(ZERO)`: never).
    pub idle_timeout: Option<Duration>,
    /// `max_lifetime` (`Some(ZERO)`: never).
    pub max_lifetime: Option<Duration>,
    /// `pgbouncer`.
    pub pgbouncer: bool,
    /// `application_name`.
    pub application_name: Option<String>,
    /// The starting point the URL parameters override.
    pub preset: Preset,
}

/// The largest `connection_limit` accepted. No server takes that many connections from
/// one pool, and pool-core sizes its bookkeeping by `max_size` when the pool is built: a
/// limit in the billions made building the pool abort the process (memory allocation
/// failure) instead of returning an error.
const MAX_CONNECTION_LIMIT: usize = pool_core::MAX_POOL_SIZE;

const POOL_PARAMETERS: [&str; 8] = [
    "connection_limit",
    "pool_timeout",
    "connect_timeout",
    "statement_timeout",
    "idle_timeout",
    "max_lifetime",
    "pgbouncer",
    "application_name",
];

impl Config {
    /// Parses `url`, taking the pool parameters out of its query string.
    pub fn from_url(url: &str) -> Result<Self, ConfigError> {
        // url's parse errors never echo the input, so no password can leak through them.
        let mut url = Url::parse(url)
            .map_err(|error| ConfigError::new("url", format!("is not a valid URL: {error}")))?;
        let kind = match url.scheme() {
            "postgres" | "postgresql" => BackendKind::Postgres,
            "mysql" | "mariadb" => BackendKind::MySql,
            "sqlite" => BackendKind::Sqlite,
            other => {
                return Err(ConfigError::new(
                    "url",
                    format!(
                        "has scheme `{other}`; expected postgres, postgresql, mysql, mariadb or sqlite"
                    ),
                ));
            }
        };
        if url.scheme() == "mariadb" && url.set_scheme("mysql").is_err() {
            return Err(ConfigError::new("url", "cannot be read as a mysql URL"));
        }
        let mut config = Config {
            url: url.clone(),
            kind,
            connection_limit: None,
            pool_timeout: None,
            connect_timeout: None,
            statement_timeout: None,
            idle_timeout: None,
            max_lifetime: None,
            pgbouncer: false,
            application_name: None,
            preset: Preset::Production,
        };
        let mut rest: Vec<(String, String)> = Vec::new();
        for (key, value) in url.query_pairs() {
            match POOL_PARAMETERS.iter().find(|name| **name == key) {
                Some(name) => config.set(name, &value)?,
                None if is_unread_secret(kind, &key) => {
                    return Err(ConfigError::new(
                        "url",
                        format!(
                            "has a `{key}` parameter, which sqlx does not read: the secret \
                             would be ignored (and PostgreSQL's driver logs parameters it does \
                             not know with their values); remove it"
                        ),
                    ));
                }
                None => rest.push((key.into_owned(), value.into_owned())),
            }
        }
        if config.pgbouncer && kind != BackendKind::Postgres {
            return Err(ConfigError::new(
                "pgbouncer",
                format!(
                    "is for PostgreSQL behind PgBouncer; this is a {} URL",
                    kind.name()
                ),
            ));
        }
        if rest.is_empty() {
            config.url.set_query(None);
        } else {
            config.url.query_pairs_mut().clear().extend_pairs(rest);
        }
        Ok(config)
    }

    /// The configuration of a process: the URL in `DATABASE_URL` (required) and the preset
    /// in `POOL_PRESET` ([`Preset::from_env`]; production when unset).
    pub fn from_env() -> Result<Self, ConfigError> {
        let url = match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            Ok(_) | Err(std::env::VarError::NotPresent) => {
                return Err(ConfigError::new("DATABASE_URL", "is not set"));
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(ConfigError::new("DATABASE_URL", "is not valid UTF-8"));
            }
        };
        let preset = Preset::from_env()?.unwrap_or(Preset::Production);
        Ok(Config::from_url(&url)?.with_preset(preset))
    }

    fn set(&mut self, name: &'static str, value: &str) -> Result<(), ConfigError> {
        match name {
            "connection_limit" => {
                let limit = value.parse::<usize>().map_err(|_| {
                    ConfigError::new(
                        name,
                        format!("must be a positive whole number, not `{value}`"),
                    )
                })?;
                if limit == 0 {
                    return Err(ConfigError::new(name, "must be at least 1"));
                }
                if limit > MAX_CONNECTION_LIMIT {
                    return Err(ConfigError::new(
                        name,
                        format!("must be at most {MAX_CONNECTION_LIMIT}, not {limit}"),
                    ));
                }
                self.connection_limit = Some(limit);
            }
            "pool_timeout" => self.pool_timeout = Some(parse_duration(name, value)?),
            "connect_timeout" => self.connect_timeout = Some(parse_duration(name, value)?),
            "statement_timeout" => self.statement_timeout = Some(parse_duration(name, value)?),
            "idle_timeout" => self.idle_timeout = Some(parse_duration(name, value)?),
            "max_lifetime" => self.max_lifetime = Some(parse_duration(name, value)?),
            "pgbouncer" => {
                self.pgbouncer = match value {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => {
                        return Err(ConfigError::new(
                            name,
                            format!("must be `true` or `false`, not `{value}`"),
                        ));
                    }
                }
            }
            "application_name" => {
                if value.is_empty() {
                    return Err(ConfigError::new(name, "must not be empty"));
                }
                self.application_name = Some(value.to_owned());
            }
            _ => {}
        }
        Ok(())
    }

    /// The settings a preset starts from (URL parameters still override it).
    pub fn with_preset(mut self, preset: Preset) -> Self {
        self.preset = preset;
        self
    }

    /// The URL handed to sqlx: pool parameters removed, password replaced by `***`.
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }

    /// The URL handed to sqlx, pool parameters removed, password included.
    /// Never log it.
    pub fn sqlx_url(&self) -> &Url {
        &self.url
    }

    /// The statement timeout, with `0` read as none.
    pub fn effective_statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout.filter(|timeout| !timeout.is_zero())
    }

    fn expect_backend<DB: Backend>(&self) -> Result<(), ConfigError> {
        if self.kind.name() == <DB as Backend>::KIND.name() {
            Ok(())
        } else {
            Err(ConfigError::new(
                "url",
                format!(
                    "is a {} URL, used for a {} pool",
                    self.kind.name(),
                    <DB as Backend>::KIND.name()
                ),
            ))
        }
    }

    /// The manager for this URL: sqlx options from the URL, the session settings
    /// (`statement_timeout`, `pgbouncer`, `application_name`) and the connect timeout.
    pub fn manager<DB: Backend>(&self) -> Result<SqlxManager<DB>, Error> {
        self.expect_backend::<DB>()?;
        let options =
            Options::<DB>::from_url(&self.url).map_err(|error| self.options_error::<DB>(error))?;
        let mut manager = SqlxManager::<DB>::new(options)
            .described(&self.redacted_url())
            .session(Session {
                application_name: self.application_name.clone(),
                statement_timeout: self.effective_statement_timeout(),
                busy_timeout: None,
                pgbouncer: self.pgbouncer,
            });
        if let Some(timeout) = self.connect_timeout {
            manager = manager.connect_timeout(if timeout.is_zero() { FOREVER } else { timeout });
        }
        Ok(manager)
    }

    /// sqlx's own URL errors do not always say which parameter is at fault (`port=abc`:
    /// "invalid digit found in string"): find the query parameter that fails on its own
    /// and name it. Only the parameter's name is added, never a value, so a password
    /// cannot be echoed.
    fn options_error<DB: Backend>(&self, error: sqlx::Error) -> Error {
        let parses = |url: &Url| Options::<DB>::from_url(url).is_ok();
        let mut base = self.url.clone();
        base.set_query(None);
        let culprit = if parses(&base) {
            self.url.query_pairs().find_map(|(key, value)| {
                let mut alone = base.clone();
                alone.query_pairs_mut().append_pair(&key, &value);
                (!parses(&alone)).then(|| format!("a bad `{key}` parameter"))
            })
        } else {
            let mut no_password = base.clone();
            let _ = no_password.set_password(None);
            let mut anonymous = no_password.clone();
            let _ = anonymous.set_username("");
            if parses(&no_password) {
                Some("a `password` sqlx cannot read".to_owned())
            } else if parses(&anonymous) {
                Some("a `user` name sqlx cannot read".to_owned())
            } else {
                None
            }
        };
        let problem = match culprit {
            Some(culprit) => format!("has {culprit}: {error}"),
            None => format!("cannot be used by sqlx: {error}"),
        };
        Error::Config(ConfigError::new("url", problem))
    }

    /// A pool builder named `name` with the preset and the URL's settings applied; adjust
    /// it further, then `build()`. PostgreSQL's `application_name` defaults to `name`.
    pub fn pool_builder<DB: Backend>(
        &self,
        name: &str,
    ) -> Result<PoolBuilder<SqlxManager<DB>>, Error> {
        let mut manager = self.manager::<DB>()?;
        if self.application_name.is_none() {
            manager = manager.application_name(name);
        }
        let settings = self.pool_settings();
        let builder = Pool::builder(manager)
            .name(name)
            .max_size(settings.max_size)
            .min_idle(settings.min_idle)
            .acquire_timeout(settings.acquire_timeout)
            .connect_timeout(settings.connect_timeout)
            .validation(settings.validation)
            .idle_timeout(settings.idle_timeout)
            .max_lifetime(settings.max_lifetime);
        Ok(builder)
    }

    /// The preset's settings with the URL's parameters applied.
    fn pool_settings(&self) -> PoolSettings {
        let mut settings = self.preset.settings();
        let unlimited = |timeout: Duration| if timeout.is_zero() { FOREVER } else { timeout };
        if let Some(limit) = self.connection_limit {
            settings.max_size = limit;
        }
        if let Some(timeout) = self.pool_timeout {
            settings.acquire_timeout = unlimited(timeout);
        }
        if let Some(timeout) = self.connect_timeout {
            settings.connect_timeout = unlimited(timeout);
        }
        if let Some(timeout) = self.idle_timeout {
            settings.idle_timeout = (!timeout.is_zero()).then_some(timeout);
        }
        if let Some(lifetime) = self.max_lifetime {
            settings.max_lifetime = (!lifetime.is_zero()).then_some(lifetime);
        }
        settings
    }

    /// The settings a pool built from this configuration gets (the preset with the URL's
    /// parameters applied), printable and safe to log: `println!("{}", config.settings())`.
    pub fn settings(&self) -> Settings {
        let pool = self.pool_settings();
        Settings {
            preset: self.preset,
            backend: self.kind,
            url: self.redacted_url(),
            max_size: pool.max_size,
            min_idle: pool.min_idle,
            acquire_timeout: pool.acquire_timeout,
            connect_timeout: pool.connect_timeout,
            validation: pool.validation,
            idle_timeout: pool.idle_timeout,
            max_lifetime: pool.max_lifetime,
            statement_timeout: self.effective_statement_timeout(),
            pgbouncer: self.pgbouncer,
            application_name: self.application_name.clone(),
        }
    }

    /// Builds a lazy pool named `name` (see [`pool_builder`](Self::pool_builder)).
    pub fn build_pool<DB: Backend>(&self, name: &str) -> Result<Pool<SqlxManager<DB>>, Error> {
        Ok(self.pool_builder::<DB>(name)?.build()?)
    }
}

/// Parses a duration parameter: a plain number is whole seconds; otherwise a number
/// followed by `ms`, `s`, `m`/`min` or `h`.
pub fn parse_duration(parameter: &'static str, value: &str) -> Result<Duration, ConfigError> {
    let bad = || {
        ConfigError::new(
            parameter,
            format!(
                "must be whole seconds or a duration such as `500ms`, `10s`, `5m`; got `{value}`"
            ),
        )
    };
    let digits = value.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = value.split_at(digits);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let per_unit_ms: u64 = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1000,
        "ms" => 1,
        "m" | "min" | "mins" => 60_000,
        "h" => 3_600_000,
        _ => return Err(bad()),
    };
    number
        .checked_mul(per_unit_ms)
        .map(Duration::from_millis)
        .ok_or_else(bad)
}

/// A password-like query parameter the driver does not read: `password` is read by
/// sqlx's PostgreSQL driver only; anything else naming a password (`sslpassword`) would be
/// dropped, and on PostgreSQL logged with its value.
fn is_unread_secret(kind: BackendKind, key: &str) -> bool {
    key.to_ascii_lowercase().contains("password")
        && !(kind == BackendKind::Postgres && key == "password")
}

fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    let sensitive = |key: &str| key.contains("password") || key == "sslkey";
    if shown.query_pairs().any(|(key, _)| sensitive(&key)) {
        let pairs: Vec<(String, String)> = shown
            .query_pairs()
            .map(|(key, value)| {
                let value = if sensitive(&key) {
                    "***".to_owned()
                } else {
                    value.into_owned()
                };
                (key.into_owned(), value)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.to_string()
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("url", &self.redacted_url())
            .field("kind", &self.kind)
            .field("connection_limit", &self.connection_limit)
            .field("pool_timeout", &self.pool_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_lifetime", &self.max_lifetime)
            .field("pgbouncer", &self.pgbouncer)
            .field("application_name", &self.application_name)
            .field("preset", &self.preset)
            .finish()
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted_url())
    }
}
