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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// The pool-core defaults: 10 connections, 30 s acquire timeout, HikariCP timings.
    Production,
    /// Small and quick to fail: 5 connections, 5 s acquire timeout, validate every checkout.
    Development,
    /// For test suites: 4 connections, 5 s acquire timeout, 5 s connect timeout,
    /// 1 min idle timeout.
    Test,
    /// One lazily opened connection, closed after 30 s idle (functions that freeze).
    Serverless,
}

impl Preset {
    fn apply<DB: Backend>(
        self,
        builder: PoolBuilder<SqlxManager<DB>>,
    ) -> PoolBuilder<SqlxManager<DB>> {
        match self {
            Preset::Production => builder,
            Preset::Development => builder
                .max_size(5)
                .acquire_timeout(Duration::from_secs(5))
                .validation(Validation::Always),
            Preset::Test => builder
                .max_size(4)
                .acquire_timeout(Duration::from_secs(5))
                .connect_timeout(Duration::from_secs(5))
                .idle_timeout(Some(Duration::from_secs(60))),
            Preset::Serverless => builder
                .max_size(1)
                .min_idle(0)
                .idle_timeout(Some(Duration::from_secs(30)))
                .max_lifetime(Some(Duration::from_secs(300))),
        }
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
/// | `connection_limit` | `max_size` | rejected |
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
                None => rest.push((key.into_owned(), value.into_owned())),
            }
        }
        if rest.is_empty() {
            config.url.set_query(None);
        } else {
            config.url.query_pairs_mut().clear().extend_pairs(rest);
        }
        Ok(config)
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
        let options = Options::<DB>::from_url(&self.url)?;
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
        let mut builder = self.preset.apply(Pool::builder(manager).name(name));
        if let Some(limit) = self.connection_limit {
            builder = builder.max_size(limit);
        }
        if let Some(timeout) = self.pool_timeout {
            builder = builder.acquire_timeout(if timeout.is_zero() { FOREVER } else { timeout });
        }
        if let Some(timeout) = self.connect_timeout {
            builder = builder.connect_timeout(if timeout.is_zero() { FOREVER } else { timeout });
        }
        if let Some(timeout) = self.idle_timeout {
            builder = builder.idle_timeout((!timeout.is_zero()).then_some(timeout));
        }
        if let Some(lifetime) = self.max_lifetime {
            builder = builder.max_lifetime((!lifetime.is_zero()).then_some(lifetime));
        }
        Ok(builder)
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
