//! `Config`: a pool configured from the `DATABASE_URL` people already have.
//!
//! One idea per file: `backend_kind` (which backend a URL names), `preset` (the
//! starting points), `parameters` (reading a URL's pool parameters), `duration` (their
//! duration grammar), `hosts` (several hosts and which server a connect accepts),
//! `credentials` (a user name and password must be UTF-8), `unread_keys` (a query key
//! neither the pool nor the binding's driver reads is refused by name), `driver_refusal` (a
//! driver's refusal of the URL, naming the part at fault), `apply` (the pool settings a `Config` gives, onto a pool builder), `settings` (the
//! values in force, printable), `redact` (showing a `Config` without its secrets) and
//! `tls` (PostgreSQL's `sslmode` and certificate parameters).
//!
//! A binding wraps [`Config`] in its own type, which adds how it makes a manager from it
//! (`pool_sqlx::Config::build_pool::<Postgres>`, `pool_postgres::Config::build_pool`) and
//! derefs to this one for everything else.

mod apply;
mod backend_kind;
mod credentials;
mod driver_refusal;
mod duration;
mod hosts;
mod identity;
mod parameters;
mod preset;
mod redact;
mod settings;
mod tls;
mod unread_keys;

use std::time::Duration;

use url::Url;

/// The slow-query threshold when the URL sets none: 1 s (sqlx's own default threshold,
/// and the pool's `slow_acquire_threshold`).
pub const DEFAULT_SLOW_QUERY: Duration = Duration::from_secs(1);

/// The per-connection statement cache's capacity when the URL sets no
/// `statement_cache_size`: 100, Prisma's default and sqlx's.
pub const DEFAULT_STATEMENT_CACHE_SIZE: usize = 100;

pub use self::{
    backend_kind::BackendKind,
    driver_refusal::driver_refusal,
    duration::parse_duration,
    hosts::{DEFAULT_PORT, Host, LoadBalanceHosts, MAX_HOSTS, TargetSessionAttrs},
    preset::{Preset, UnknownPreset},
    settings::Settings,
    tls::{DEFAULT_SSL_MODE, POSTGRES_TLS_PARAMETERS, PostgresTls, SslMode},
    unread_keys::DriverKeys,
};

/// A pool configuration parsed from a database URL.
///
/// Pool parameters in the query string are taken out; everything else (`sslmode`,
/// `sslrootcert`, `socket`, ...) goes to the driver untouched, if the binding's driver
/// reads it ([`DriverKeys`], given by the binding's constructor): any other key is an
/// error naming it, never its value.
///
/// | parameter | meaning | `0` means |
/// |---|---|---|
/// | `connection_limit` | `max_size`, at most 10 000 | rejected |
/// | `pool_timeout` | `acquire_timeout` | no limit |
/// | `connect_timeout` | time limit of one connect | no limit |
/// | `statement_timeout` | server-side statement limit (the binding sets it on each session) | none |
/// | `idle_timeout` | close connections idle this long | never |
/// | `max_lifetime` | close connections this old | never |
/// | `keepalive` | check connections idle this long in the background, closing the dead (`PoolBuilder::keepalive`; default off) | off |
/// | `pgbouncer` | `true`/`false`: behind PgBouncer in transaction mode (no statement cache) | |
/// | `statement_cache_size` | prepared statements kept per connection, least recently used evicted (Prisma's name; default [`DEFAULT_STATEMENT_CACHE_SIZE`], 100; at most 100 000; with `pgbouncer=true` only `0`) | no cache |
/// | `application_name` | PostgreSQL `application_name` (default: the pool's name) | |
/// | `schema` | Prisma's search path: only `public` (PostgreSQL's default search path already has it), so Prisma's URLs keep working; another schema is refused, with `options=-c search_path=…` named | |
/// | `slow_query` | log statements slower than this, text and duration, never bound values (the binding's slow-query log; default [`DEFAULT_SLOW_QUERY`], 1 s) | off |
/// | `adaptive_limit` | `true`/`false`: the pool finds how many connections to hand out at once, from 1 up to `connection_limit` (`PoolBuilder::adaptive_limit`) | |
/// | `target_session_attrs` | PostgreSQL: which server a connect accepts ([`TargetSessionAttrs`]; default `any`) | |
/// | `load_balance_hosts` | PostgreSQL: `disable` (hosts in order) or `random` ([`LoadBalanceHosts`]) | |
/// | `metric_names` | `pool` (the default) or `opentelemetry`: which names the pool's metrics go by (`pool_core::MetricNames`, `PoolBuilder::metric_names`) | |
///
/// PostgreSQL URLs may list several hosts, as libpq reads them:
/// `postgres://app@db1:5432,db2:5433,[::1]/app?target_session_attrs=read-write`, or in
/// the query, `postgres:///app?host=db1,db2,::1&port=5432,5433,&user=app` (one port for
/// every host or one per host; the list overrides a single host before the path). A host
/// without a port gets 5432; at most [`MAX_HOSTS`] hosts, none twice. Each connect walks
/// them (see [`hosts`](crate::hosts)). MySQL and SQLite URLs take one host
/// and neither setting.
///
/// Durations are whole seconds when written as a plain number (`pool_timeout=10`, as in
/// Prisma), or humantime's grammar: `500ms`, `10s`, `5m`/`5min`, `1h`, `1d`, `1m 30s`,
/// `1.5s` (see [`parse_duration`]; the macros' attribute keys read the same grammar but
/// refuse a bare number).
/// A bad value is a `ConfigError` naming the parameter.
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
    /// `keepalive` (`Some(ZERO)`: off).
    pub keepalive: Option<Duration>,
    /// `pgbouncer`.
    pub pgbouncer: bool,
    /// `application_name`.
    pub application_name: Option<String>,
    /// `slow_query` (`Some(ZERO)`: off; `None`: the default,
    /// [`DEFAULT_SLOW_QUERY`]).
    pub slow_query: Option<Duration>,
    /// `adaptive_limit` (`None`: the preset's choice).
    pub adaptive_limit: Option<bool>,
    /// `statement_cache_size` (`Some(0)`: no cache; `None`: the default,
    /// [`DEFAULT_STATEMENT_CACHE_SIZE`]). Read through
    /// [`effective_statement_cache_size`](Self::effective_statement_cache_size), which
    /// both bindings use.
    pub statement_cache_size: Option<usize>,
    /// `metric_names` (`None`: the builder's default, the pool's own names).
    pub metric_names: Option<pool_core::MetricNames>,
    /// The starting point the URL parameters override.
    pub preset: Preset,
    /// The hosts of a multi-host URL, in the URL's order; empty for a URL with one host.
    pub hosts: Vec<Host>,
    /// `target_session_attrs`.
    pub target_session_attrs: TargetSessionAttrs,
    /// `load_balance_hosts`.
    pub load_balance_hosts: LoadBalanceHosts,
}

impl Config {
    /// The settings a preset starts from (URL parameters still override it).
    pub fn with_preset(mut self, preset: Preset) -> Self {
        self.preset = preset;
        self
    }

    /// The slow-query threshold (`None`: off), in place of the URL's `slow_query`.
    pub fn with_slow_query(mut self, threshold: Option<Duration>) -> Self {
        self.slow_query = Some(threshold.unwrap_or(Duration::ZERO));
        self
    }

    /// The slow-query threshold in force: the URL's or [`with_slow_query`](Self::with_slow_query)'s
    /// (`0` read as off), else the default.
    pub fn effective_slow_query(&self) -> Option<Duration> {
        match self.slow_query {
            None => Some(DEFAULT_SLOW_QUERY),
            Some(threshold) => (!threshold.is_zero()).then_some(threshold),
        }
    }

    /// The URL handed to the driver: pool parameters removed, password replaced by `***`.
    /// A multi-host URL shows every host.
    pub fn redacted_url(&self) -> String {
        if self.hosts.is_empty() {
            redact::redact(&self.url)
        } else {
            hosts::with_hosts(&redact::redacted(&self.url), &self.hosts)
        }
    }

    /// The URL handed to the driver, pool parameters removed, password included (of a
    /// multi-host URL, with its first host only: the manager sets each host in turn).
    /// Never log it.
    pub fn driver_url(&self) -> &Url {
        &self.url
    }

    /// [`driver_url`](Self::driver_url) without the TLS parameters
    /// ([`POSTGRES_TLS_PARAMETERS`]), pointed at `host` of a multi-host URL when given:
    /// for a binding that does TLS itself (tokio-postgres knows three `sslmode`s and no
    /// certificate file) and whose driver takes one host per connect (tokio-postgres,
    /// given several, would walk them by its own rules). Never log it.
    pub fn driver_url_without_tls(
        &self,
        host: Option<&Host>,
    ) -> Result<String, pool_core::ConfigError> {
        let mut url = self.url.clone();
        if let Some(host) = host {
            hosts::point_at(&mut url, host)?;
        }
        let kept: Vec<(String, String)> = self
            .url
            .query_pairs()
            .filter(|(key, _)| !POSTGRES_TLS_PARAMETERS.contains(&&**key))
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        url.set_query(None);
        if !kept.is_empty() {
            url.query_pairs_mut().extend_pairs(kept);
        }
        Ok(url.into())
    }

    /// How many prepared statements a connection keeps (`0`: none), the one answer both
    /// bindings read: the URL's `statement_cache_size`, else
    /// [`DEFAULT_STATEMENT_CACHE_SIZE`]; always `0` with `pgbouncer`, whose transaction
    /// mode may hand each transaction another server connection, where a statement
    /// prepared before does not exist (or another client's of the same name does).
    pub fn effective_statement_cache_size(&self) -> usize {
        if self.pgbouncer {
            0
        } else {
            self.statement_cache_size
                .unwrap_or(DEFAULT_STATEMENT_CACHE_SIZE)
        }
    }

    /// The statement timeout, with `0` read as none.
    pub fn effective_statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout.filter(|timeout| !timeout.is_zero())
    }
}
