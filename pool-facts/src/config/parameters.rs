//! Reading a URL: its scheme, and the pool parameters taken out of its query string.

use pool_core::{ConfigError, MetricNames};
use url::Url;

use super::{
    Config,
    backend_kind::BackendKind,
    duration::parse_duration,
    hosts::{LoadBalanceHosts, TargetSessionAttrs},
    preset::Preset,
    tls::POSTGRES_TLS_PARAMETERS,
    unread_keys::DriverKeys,
};

/// The largest `statement_cache_size` accepted: a cache that size already keeps more
/// prepared statements per session than any application has distinct queries; a larger
/// one is a typo (and each entry holds server memory for the session's whole life).
const MAX_STATEMENT_CACHE_SIZE: usize = 100_000;

/// The largest `connection_limit` accepted. No server takes that many connections from
/// one pool, and pool-core sizes its bookkeeping by `max_size` when the pool is built: a
/// limit in the billions made building the pool abort the process (memory allocation
/// failure) instead of returning an error.
const MAX_CONNECTION_LIMIT: usize = pool_core::MAX_POOL_SIZE;

const POOL_PARAMETERS: [&str; 16] = [
    "connection_limit",
    "pool_timeout",
    "connect_timeout",
    "statement_timeout",
    "idle_timeout",
    "max_lifetime",
    "keepalive",
    "pgbouncer",
    "application_name",
    "slow_query",
    "target_session_attrs",
    "load_balance_hosts",
    "adaptive_limit",
    "statement_cache_size",
    "metric_names",
    "schema",
];

impl Config {
    /// Parses `url`, taking the pool parameters out of its query string, with no driver
    /// known: a key that is not the pool's is passed on unchecked, unless it is a near
    /// miss of one (a binding's constructor uses [`from_url_read_by`](Self::from_url_read_by)
    /// with its driver's keys instead).
    pub fn from_url(url: &str) -> Result<Self, ConfigError> {
        Self::from_url_read_by(url, &DriverKeys::UNCHECKED)
    }

    /// Parses `url` for a binding whose driver reads `driver`'s keys: a query key that
    /// neither this crate nor the driver reads is a `ConfigError` on `url` naming the key
    /// (never its value), with the accepted key it is a near miss of, if any. Refused here,
    /// before any connect, because sqlx's PostgreSQL driver would log such a key with its
    /// value (a secret put in the wrong key reaches the logs) and its MySQL driver would
    /// drop it silently (a typo goes unseen).
    pub fn from_url_read_by(url: &str, driver: &DriverKeys) -> Result<Self, ConfigError> {
        let split = super::hosts::split(url)?;
        let url = split.as_ref().map_or(url, |split| split.single.as_str());
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
        super::credentials::check(&url)?;
        if url.scheme() == "mariadb" && url.set_scheme("mysql").is_err() {
            return Err(ConfigError::new("url", "cannot be read as a mysql URL"));
        }
        let mut hosts = split.map(|split| split.hosts).unwrap_or_default();
        // libpq's other spelling of a list, `?host=db1,db2&port=…`: the same list, its first
        // host put in the authority for sqlx, `host` and `port` taken out of the query.
        let query_list = super::hosts::from_query(&url)?;
        let query_form = query_list.is_some();
        if let Some(listed) = query_list {
            if !hosts.is_empty() {
                return Err(ConfigError::new(
                    "host",
                    "lists hosts, and so does the URL before its path; name them in one place",
                ));
            }
            if let Some(first) = listed.first() {
                super::hosts::point_at(&mut url, first)?;
            }
            hosts = listed;
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
            keepalive: None,
            pgbouncer: false,
            application_name: None,
            slow_query: None,
            adaptive_limit: None,
            statement_cache_size: None,
            metric_names: None,
            preset: Preset::Production,
            hosts,
            target_session_attrs: TargetSessionAttrs::default(),
            load_balance_hosts: LoadBalanceHosts::default(),
        };
        let mut rest: Vec<(String, String)> = Vec::new();
        for (key, value) in url.query_pairs() {
            match POOL_PARAMETERS.iter().find(|name| **name == key) {
                Some(name) => config.set(name, &value)?,
                None if query_form && (key == "host" || key == "port") => {}
                None => {
                    super::unread_keys::check(kind, &key, &own_keys(kind), driver)?;
                    rest.push((key.into_owned(), value.into_owned()))
                }
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
        if config.statement_cache_size.is_some()
            && url
                .query_pairs()
                .any(|(key, _)| key == "statement-cache-capacity")
        {
            return Err(ConfigError::new(
                "statement_cache_size",
                "is set, and so is sqlx's `statement-cache-capacity`; keep one \
                 (`statement_cache_size` is read by both bindings)",
            ));
        }
        if config.pgbouncer
            && let Some(size) = config.statement_cache_size.filter(|size| *size > 0)
        {
            return Err(ConfigError::new(
                "statement_cache_size",
                format!(
                    "is {size}, but `pgbouncer=true` keeps no prepared statement past its \
                     transaction (PgBouncer may hand the next one another server connection); \
                     remove it, or set it to 0"
                ),
            ));
        }
        if kind != BackendKind::Postgres {
            let what = if !config.hosts.is_empty() {
                Some(("url", "lists several hosts"))
            } else if url
                .query_pairs()
                .any(|(key, _)| key == "target_session_attrs")
            {
                Some(("target_session_attrs", "is set"))
            } else if url
                .query_pairs()
                .any(|(key, _)| key == "load_balance_hosts")
            {
                Some(("load_balance_hosts", "is set"))
            } else {
                None
            };
            if let Some((name, what)) = what {
                return Err(ConfigError::new(
                    name,
                    format!(
                        "{what}, but multi-host connects are for PostgreSQL only; this is a {} URL",
                        kind.name()
                    ),
                ));
            }
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
        Self::from_env_read_by(&DriverKeys::UNCHECKED)
    }

    /// [`from_env`](Self::from_env), the URL read as by
    /// [`from_url_read_by`](Self::from_url_read_by) for `driver`.
    pub fn from_env_read_by(driver: &DriverKeys) -> Result<Self, ConfigError> {
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
        Ok(Config::from_url_read_by(&url, driver)?.with_preset(preset))
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
            "keepalive" => self.keepalive = Some(parse_duration(name, value)?),
            "slow_query" => self.slow_query = Some(parse_duration(name, value)?),
            "target_session_attrs" => {
                self.target_session_attrs = TargetSessionAttrs::parse(value)?;
            }
            "load_balance_hosts" => self.load_balance_hosts = LoadBalanceHosts::parse(value)?,
            "statement_cache_size" => {
                let size = value.parse::<usize>().map_err(|_| {
                    ConfigError::new(
                        name,
                        format!("must be a whole number (0: no cache), not `{value}`"),
                    )
                })?;
                if size > MAX_STATEMENT_CACHE_SIZE {
                    return Err(ConfigError::new(
                        name,
                        format!("must be at most {MAX_STATEMENT_CACHE_SIZE}, not {size}"),
                    ));
                }
                self.statement_cache_size = Some(size);
            }
            "pgbouncer" => self.pgbouncer = parse_bool(name, value)?,
            "adaptive_limit" => self.adaptive_limit = Some(parse_bool(name, value)?),
            "metric_names" => self.metric_names = Some(parse_metric_names(name, value)?),
            // Prisma's search path, in the URLs of its guides as `schema=public`: that is
            // already on PostgreSQL's default search path, so those URLs keep working.
            // Another schema is refused rather than ignored (ignored, queries would reach
            // the default schema's tables), with the way to set it.
            "schema" if self.kind != BackendKind::Postgres || value != "public" => {
                return Err(ConfigError::new(
                    name,
                    format!(
                        "is `{value}`: Prisma's search path is not read by this pool (only \
                             `schema=public` on PostgreSQL, on the default search path \
                             already); for another, write `options=-c search_path={value}`"
                    ),
                ));
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
}

/// The query keys this crate reads from a URL of `kind`: the pool parameters, and on
/// PostgreSQL the TLS parameters (`Config::postgres_tls`, read for a binding that does TLS
/// itself).
fn own_keys(kind: BackendKind) -> Vec<&'static str> {
    let mut keys = POOL_PARAMETERS.to_vec();
    if kind == BackendKind::Postgres {
        keys.extend(POSTGRES_TLS_PARAMETERS);
    }
    keys
}

/// A URL's `metric_names`: a `MetricNames::name`, or an error listing them, with the one
/// meant when `value` is a near miss of it (`opentelemetri`, `OpenTelemetry`).
fn parse_metric_names(name: &'static str, value: &str) -> Result<MetricNames, ConfigError> {
    MetricNames::from_name(value).ok_or_else(|| {
        let names = MetricNames::ALL.map(MetricNames::name);
        let choices = names.join(" or ");
        let message = match pool_suggest::closest(value, &names, pool_suggest::config_distance) {
            Some(near) => format!("is `{value}`; did you mean `{near}`? (expected {choices})"),
            None => format!("must be {choices}, not `{value}`"),
        };
        ConfigError::new(name, message)
    })
}

/// A URL's switch: `true`/`1` or `false`/`0`.
fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ConfigError::new(
            name,
            format!("must be `true` or `false`, not `{value}`"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use pool_core::MetricNames;

    use super::Config;
    use crate::DEFAULT_STATEMENT_CACHE_SIZE;

    #[test]
    fn metric_names_read_show_and_name_their_mistakes() {
        let names = |url: &str| {
            Config::from_url(url)
                .map(|config| (config.metric_names, config.settings().metric_names))
                .map_err(|error| (error.setting, error.to_string()))
        };
        assert_eq!(names("postgres://h/db"), Ok((None, MetricNames::Pool)));
        assert_eq!(
            names("mysql://h/db?metric_names=opentelemetry"),
            Ok((Some(MetricNames::OpenTelemetry), MetricNames::OpenTelemetry))
        );
        assert_eq!(
            names("sqlite::memory:?metric_names=pool"),
            Ok((Some(MetricNames::Pool), MetricNames::Pool))
        );
        for (url, says) in [
            (
                "postgres://h/db?metric_names=opentelemetri",
                "did you mean `opentelemetry`?",
            ),
            (
                "postgres://h/db?metric_names=OpenTelemetry",
                "did you mean `opentelemetry`?",
            ),
            (
                "postgres://h/db?metric_names=prometheus",
                "must be pool or opentelemetry, not `prometheus`",
            ),
        ] {
            let (setting, message) = names(url).expect_err(url);
            assert_eq!(setting, "metric_names", "{url}");
            assert!(message.contains(says), "{url}: {message}");
        }
        let (setting, message) = names("postgres://h/db?metric_name=pool").expect_err("a slip");
        assert_eq!(setting, "url");
        assert!(
            message.contains("did you mean `metric_names`?"),
            "{message}"
        );
        let config =
            Config::from_url("postgres://h/db?metric_names=opentelemetry").expect("parses");
        assert!(!config.driver_url().as_str().contains("metric_names"));
        assert!(
            config
                .settings()
                .to_string()
                .contains("metric_names: opentelemetry")
        );
        let default = Config::from_url("postgres://h/db").expect("parses");
        assert!(!default.settings().to_string().contains("metric_names"));
    }

    fn size(url: &str) -> Result<usize, String> {
        Config::from_url(url)
            .map(|config| config.effective_statement_cache_size())
            .map_err(|error| error.to_string())
    }

    #[test]
    fn statement_cache_size_defaults_reads_and_bounds() {
        assert_eq!(size("postgres://h/db"), Ok(DEFAULT_STATEMENT_CACHE_SIZE));
        assert_eq!(size("postgres://h/db?statement_cache_size=7"), Ok(7));
        assert_eq!(size("mysql://h/db?statement_cache_size=0"), Ok(0));
        assert_eq!(size("postgres://h/db?pgbouncer=true"), Ok(0));
        assert_eq!(
            size("postgres://h/db?pgbouncer=true&statement_cache_size=0"),
            Ok(0)
        );
        for (url, says) in [
            ("postgres://h/db?statement_cache_size=-1", "whole number"),
            ("postgres://h/db?statement_cache_size=1e3", "whole number"),
            (
                "postgres://h/db?statement_cache_size=100001",
                "at most 100000",
            ),
            (
                "postgres://h/db?pgbouncer=true&statement_cache_size=10",
                "pgbouncer=true",
            ),
            (
                "postgres://h/db?statement_cache_sise=10",
                "statement_cache_size",
            ),
            (
                "mysql://h/db?statement_cache_size=10&statement-cache-capacity=5",
                "keep one",
            ),
        ] {
            let error = size(url).expect_err(url);
            assert!(error.contains(says), "{url}: {error}");
        }
        let config = Config::from_url("postgres://h/db?statement_cache_size=5").expect("parses");
        assert!(!config.driver_url().as_str().contains("statement_cache"));
        assert!(format!("{config:?}").contains("statement_cache_size: Some(5)"));
        assert!(
            config
                .settings()
                .to_string()
                .contains("statement_cache_size: 5")
        );
    }
}
