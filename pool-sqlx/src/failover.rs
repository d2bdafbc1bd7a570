//! The connect walk over a multi-host PostgreSQL URL: try each host, keep the first whose
//! role fits `target_session_attrs`, and say why every other one was skipped.
//!
//! - Hosts are tried in the URL's order, or shuffled anew for each connect with
//!   `load_balance_hosts=random`.
//! - A host that refuses, fails the login or does not answer within its share of the
//!   pool's connect timeout (the timeout divided by the number of hosts, so the whole walk
//!   fits in one connect timeout; libpq instead gives each host the whole
//!   `connect_timeout`) is skipped.
//! - When `target_session_attrs` is not `any`, the role is asked right after login, before
//!   the session set-up and the user's hook: `SELECT pg_is_in_recovery(),
//!   current_setting('transaction_read_only') = 'on'`, one parameterless simple-protocol
//!   round trip (works behind PgBouncer). A host with the wrong role is skipped, its
//!   connection closed.
//! - `prefer-standby` keeps the first primary it meets open while it looks on for a
//!   standby, and takes it if none is found (libpq walks the list a second time instead).
//! - With one host and `target_session_attrs=any` there is no walk at all: sqlx's connect
//!   as before, no role query.
//! - When no host fits: one [`NoHostAvailable`] naming every host and why.

use std::{
    error::Error as StdError,
    fmt,
    hash::{BuildHasher, Hasher},
    time::Duration,
};

use pool_core::ErrorClass;
use sqlx::{ConnectOptions, Connection};

use crate::{
    Backend,
    backend::Options,
    config::{Host, LoadBalanceHosts, TargetSessionAttrs},
    host_tally::HostTally,
};

/// Connects to the first host of `walk` that fits (see the module's rules). `options` are
/// the session's; `description` (password removed) names the host of a one-host URL.
/// Also returns the index in `walk.hosts` of the host it connected to (`None` for a
/// one-host URL).
pub(crate) async fn walk<DB: Backend>(
    walk: &HostWalk,
    options: Options<DB>,
    description: &str,
) -> Result<(DB::Connection, Option<usize>), sqlx::Error> {
    let targets: Vec<Option<(usize, &Host)>> = if walk.hosts.is_empty() {
        vec![None]
    } else {
        walk.order()
            .into_iter()
            .map(|i| walk.hosts.get(i).map(|host| (i, host)))
            .collect()
    };
    let mut skipped = Vec::with_capacity(targets.len());
    let mut fallback: Option<(DB::Connection, Option<usize>)> = None;
    for target in targets {
        let host = target.map(|(_, host)| host);
        let index = target.map(|(index, _)| index);
        let label = host.map_or_else(|| description.to_owned(), Host::to_string);
        let options = match host {
            Some(host) => DB::with_host(options.clone(), host),
            None => options.clone(),
        };
        let attempt = attempt::<DB>(options, walk.target);
        let outcome = match walk.host_timeout {
            Some(limit) => match tokio::time::timeout(limit, attempt).await {
                Ok(outcome) => outcome,
                Err(_elapsed) => {
                    skipped.push(SkippedHost {
                        host: label,
                        reason: format!("did not answer within {limit:?}"),
                        permanent: false,
                    });
                    continue;
                }
            },
            None => attempt.await,
        };
        match outcome {
            Err(error) => skipped.push(self::skipped(label, &error)),
            Ok((conn, Fit::Yes, _)) => {
                if let Some((spare, _)) = fallback.take() {
                    close_later::<DB>(spare);
                }
                return Ok((conn, index));
            }
            Ok((conn, Fit::AsFallback, role)) => {
                if fallback.is_none() {
                    fallback = Some((conn, index));
                } else {
                    close_later::<DB>(conn);
                }
                skipped.push(wrong_role(label, role, walk.target));
            }
            Ok((conn, Fit::No, role)) => {
                close_later::<DB>(conn);
                skipped.push(wrong_role(label, role, walk.target));
            }
        }
    }
    if let Some(found) = fallback {
        return Ok(found);
    }
    Err(NoHostAvailable {
        target: walk.target,
        skipped,
    }
    .into_sqlx())
}

/// Whether the server `conn` talks to still has a role `walk` accepts: asked by the
/// pool's check (validation) when `target_session_attrs` is not `any`, so a connection
/// to a primary that was demoted or fenced read-only is closed on checkout instead of
/// taking a 25006 on its next write. A `prefer-standby` connection to a primary still
/// fits (it was taken as the fallback).
pub(crate) async fn still_fits<DB: Backend>(
    walk: &HostWalk,
    conn: &mut DB::Connection,
) -> Result<(), sqlx::Error> {
    if !walk.target.needs_role() {
        return Ok(());
    }
    match DB::server_role(conn).await? {
        Some(role) if walk.target.fit(role) == Fit::No => Err(sqlx::Error::Protocol(format!(
            "the server is {} now, not {}",
            role.describe(),
            walk.target.name()
        ))),
        _ => Ok(()),
    }
}

/// One host of a multi-host URL as [`health`](crate::health) saw it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct HostHealth {
    /// `host:port`.
    pub host: String,
    /// It accepted a login within the health check's timeout.
    pub reachable: bool,
    /// `primary`, `read-only primary` or `standby`; `None` when unreachable.
    pub role: Option<&'static str>,
    /// Why it is unreachable (never a password).
    pub error: Option<String>,
    /// A standby's replay lag in milliseconds: the age of the last replayed commit, or 0
    /// when it has replayed everything it received. `None` for a primary, or a standby
    /// that has replayed no commit since it started.
    pub replay_lag_ms: Option<f64>,
    /// A standby's WAL received but not yet replayed, in bytes. `None` for a primary.
    pub replay_lag_bytes: Option<i64>,
    /// The pool's connections open to this host now, idle or in use (the gauge
    /// `pool_host_connections`): after a failover, the old primary's count falls to 0 as
    /// its connections die or are refused and the new primary's rises.
    pub connections: usize,
}

impl ServerRole {
    fn name(self) -> &'static str {
        match (self.in_recovery, self.read_only) {
            (true, _) => "standby",
            (false, true) => "read-only primary",
            (false, false) => "primary",
        }
    }
}

/// Logs in to every host of `walk` at once (a connection of its own each, outside the
/// pool, closed at once), asks its role, all within `timeout`; `tally` has the pool's
/// connections per host.
pub(crate) async fn probe<DB: Backend>(
    walk: &HostWalk,
    tally: Option<&HostTally>,
    options: &Options<DB>,
    timeout: Duration,
) -> Vec<HostHealth> {
    let mut probes = tokio::task::JoinSet::new();
    for (index, host) in walk.hosts.iter().enumerate() {
        let options = DB::with_host(options.clone(), host);
        probes.spawn(async move {
            let outcome = tokio::time::timeout(timeout, async move {
                let mut conn = options.connect().await?;
                let role = DB::server_role(&mut conn).await;
                let lag = match &role {
                    Ok(Some(role)) if role.in_recovery => DB::replay_position(&mut conn)
                        .await
                        .map(|position| position.map(|position| position.health_lag())),
                    _ => Ok(None),
                };
                close_later::<DB>(conn);
                Ok::<_, sqlx::Error>((role?, lag?))
            })
            .await;
            (index, outcome)
        });
    }
    let mut seen: Vec<HostHealth> = walk
        .hosts
        .iter()
        .enumerate()
        .map(|(index, host)| HostHealth {
            host: host.to_string(),
            reachable: false,
            role: None,
            error: Some(format!("no answer within {timeout:?}")),
            replay_lag_ms: None,
            replay_lag_bytes: None,
            connections: tally.map_or(0, |tally| tally.report(index)),
        })
        .collect();
    while let Some(joined) = probes.join_next().await {
        let Ok((index, outcome)) = joined else {
            continue;
        };
        let Some(entry) = seen.get_mut(index) else {
            continue;
        };
        match outcome {
            Ok(Ok((role, lag))) => {
                entry.reachable = true;
                entry.role = role.map(ServerRole::name);
                entry.error = None;
                entry.replay_lag_ms = lag.and_then(|(ms, _)| ms);
                entry.replay_lag_bytes = lag.map(|(_, bytes)| bytes);
            }
            Ok(Err(error)) => {
                entry.error = Some(crate::server_error::DisplaySqlx(&error).to_string());
            }
            Err(_elapsed) => {}
        }
    }
    seen
}

type Attempt<C> = (C, Fit, Option<ServerRole>);

async fn attempt<DB: Backend>(
    options: Options<DB>,
    target: TargetSessionAttrs,
) -> Result<Attempt<DB::Connection>, sqlx::Error> {
    let mut conn = options.connect().await?;
    if !target.needs_role() {
        return Ok((conn, Fit::Yes, None));
    }
    match DB::server_role(&mut conn).await {
        Ok(Some(role)) => Ok((conn, target.fit(role), Some(role))),
        Ok(None) => Ok((conn, Fit::Yes, None)),
        Err(error) => {
            close_later::<DB>(conn);
            Err(error)
        }
    }
}

fn wrong_role(host: String, role: Option<ServerRole>, target: TargetSessionAttrs) -> SkippedHost {
    let role = role.map_or("of another role", ServerRole::describe);
    SkippedHost {
        host,
        reason: format!("is {role}, not {}", target.name()),
        permanent: false,
    }
}

/// A polite goodbye to a connection the walk does not keep, off the connect's path and
/// bounded: the server may be gone.
fn close_later<DB: Backend>(conn: DB::Connection) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(1), conn.close()).await;
    });
}

/// What a connect walks: the hosts (empty: the one host of the connect options) and which
/// server it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostWalk {
    pub(crate) hosts: Vec<Host>,
    pub(crate) target: TargetSessionAttrs,
    pub(crate) order: LoadBalanceHosts,
    /// Each host's share of the pool's connect timeout, so a black-holed host cannot take
    /// the whole of it (libpq gives `connect_timeout` to each host instead; then the
    /// pool's own bound would end the walk at the first silent host).
    pub(crate) host_timeout: Option<Duration>,
}

impl HostWalk {
    /// The hosts in the order this connect tries them: the URL's, or shuffled anew.
    pub(crate) fn order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.hosts.len()).collect();
        if self.order == LoadBalanceHosts::Random {
            // RandomState is seeded per instance: no rand dependency for one shuffle.
            let state = std::collections::hash_map::RandomState::new();
            for i in (1..order.len()).rev() {
                let mut hasher = state.build_hasher();
                hasher.write_usize(i);
                let j = (hasher.finish() % (i as u64 + 1)) as usize;
                order.swap(i, j);
            }
        }
        order
    }
}

/// A server's role, read after login with one parameterless simple-protocol query (safe
/// behind PgBouncer in transaction mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerRole {
    /// `pg_is_in_recovery()`: a standby.
    pub in_recovery: bool,
    /// `transaction_read_only` of the new session: a standby, or a primary whose
    /// `default_transaction_read_only` is on.
    pub read_only: bool,
}

impl ServerRole {
    /// "a standby", "a read-only primary" or "a read-write primary".
    pub fn describe(self) -> &'static str {
        match (self.in_recovery, self.read_only) {
            (true, _) => "a standby",
            (false, true) => "a read-only primary",
            (false, false) => "a read-write primary",
        }
    }
}

/// How a connected server fits what the URL asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    /// Take it.
    Yes,
    /// Take it only if no host fits better (`prefer-standby` on a primary).
    AsFallback,
    /// Skip it.
    No,
}

impl TargetSessionAttrs {
    /// Whether a connect must ask the server its role at all.
    pub(crate) fn needs_role(self) -> bool {
        self != TargetSessionAttrs::Any
    }

    /// libpq's meanings: `read-write`/`read-only` by the session's default read-only
    /// setting, `primary`/`standby`/`prefer-standby` by recovery.
    pub(crate) fn fit(self, role: ServerRole) -> Fit {
        let yes = |fits: bool| if fits { Fit::Yes } else { Fit::No };
        match self {
            TargetSessionAttrs::Any => Fit::Yes,
            TargetSessionAttrs::ReadWrite => yes(!role.read_only),
            TargetSessionAttrs::ReadOnly => yes(role.read_only),
            TargetSessionAttrs::Primary => yes(!role.in_recovery),
            TargetSessionAttrs::Standby => yes(role.in_recovery),
            TargetSessionAttrs::PreferStandby if role.in_recovery => Fit::Yes,
            TargetSessionAttrs::PreferStandby => Fit::AsFallback,
        }
    }
}

/// One host a connect skipped, and why.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SkippedHost {
    /// `host:port` (never a password).
    pub host: String,
    /// Why: the connect error, the timeout, or the role it has.
    pub reason: String,
    /// The error was permanent (wrong password, no such database), not the host's state.
    pub permanent: bool,
}

/// No host of a multi-host URL (or the one host of a URL with `target_session_attrs`)
/// gave a connection that fits: every host, and why it was skipped.
///
/// It reaches callers inside a `sqlx::Error::Io` (class `Connection`: the pool keeps
/// connecting, a promotion may be under way), or inside `sqlx::Error::Configuration`
/// (class `Permanent`) when every host failed permanently (every one refused the
/// password). [`NoHostAvailable::find`] gets it back out.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NoHostAvailable {
    /// What the URL asked for.
    pub target: TargetSessionAttrs,
    /// Every host tried, in the order tried.
    pub skipped: Vec<SkippedHost>,
}

impl fmt::Display for NoHostAvailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no host fits target_session_attrs={}:",
            self.target.name()
        )?;
        for (index, skipped) in self.skipped.iter().enumerate() {
            let separator = if index == 0 { " " } else { "; " };
            write!(f, "{separator}{} {}", skipped.host, skipped.reason)?;
        }
        Ok(())
    }
}

impl StdError for NoHostAvailable {}

impl NoHostAvailable {
    /// The `NoHostAvailable` inside `error`, if that is what it is.
    pub fn find(error: &sqlx::Error) -> Option<&NoHostAvailable> {
        let inner: &(dyn StdError + Send + Sync + 'static) = match error {
            sqlx::Error::Io(io) => io.get_ref()?,
            sqlx::Error::Configuration(inner) => inner.as_ref(),
            _ => return None,
        };
        inner.downcast_ref()
    }

    /// As a `sqlx::Error`, classified so the pool retries unless every host failed
    /// permanently.
    pub(crate) fn into_sqlx(self) -> sqlx::Error {
        if !self.skipped.is_empty() && self.skipped.iter().all(|skipped| skipped.permanent) {
            sqlx::Error::Configuration(Box::new(self))
        } else {
            sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::NotConnected, self))
        }
    }
}

/// The reason a host's connect error gives, and whether it is permanent.
pub(crate) fn skipped(host: String, error: &sqlx::Error) -> SkippedHost {
    SkippedHost {
        host,
        reason: format!("failed: {}", crate::server_error::DisplaySqlx(error)),
        permanent: crate::classify::classify(error) == ErrorClass::Permanent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANDBY: ServerRole = ServerRole {
        in_recovery: true,
        read_only: true,
    };
    const PRIMARY: ServerRole = ServerRole {
        in_recovery: false,
        read_only: false,
    };
    const READ_ONLY_PRIMARY: ServerRole = ServerRole {
        in_recovery: false,
        read_only: true,
    };

    #[test]
    fn libpq_meanings() {
        use Fit::*;
        use TargetSessionAttrs::*;
        for (target, [standby, primary, read_only_primary]) in [
            (Any, [Yes, Yes, Yes]),
            (ReadWrite, [No, Yes, No]),
            (ReadOnly, [Yes, No, Yes]),
            (Primary, [No, Yes, Yes]),
            (Standby, [Yes, No, No]),
            (PreferStandby, [Yes, AsFallback, AsFallback]),
        ] {
            assert_eq!(target.fit(STANDBY), standby, "{target:?} on a standby");
            assert_eq!(target.fit(PRIMARY), primary, "{target:?} on a primary");
            assert_eq!(
                target.fit(READ_ONLY_PRIMARY),
                read_only_primary,
                "{target:?} on a read-only primary"
            );
        }
    }

    #[test]
    fn random_order_is_a_permutation_and_disable_keeps_the_urls() {
        let hosts = (0..8)
            .map(|i| Host {
                host: format!("h{i}"),
                port: 5432,
            })
            .collect();
        let mut walk = HostWalk {
            hosts,
            target: TargetSessionAttrs::Any,
            order: LoadBalanceHosts::Disable,
            host_timeout: None,
        };
        assert_eq!(walk.order(), (0..8).collect::<Vec<_>>());
        walk.order = LoadBalanceHosts::Random;
        let mut firsts = std::collections::HashSet::new();
        for _ in 0..200 {
            let mut order = walk.order();
            firsts.insert(order[0]);
            order.sort_unstable();
            assert_eq!(order, (0..8).collect::<Vec<_>>());
        }
        assert!(
            firsts.len() > 4,
            "random spreads the first host: {firsts:?}"
        );
    }

    #[test]
    fn the_error_names_every_host_and_is_retried_unless_all_are_permanent() {
        let error = NoHostAvailable {
            target: TargetSessionAttrs::ReadWrite,
            skipped: vec![
                SkippedHost {
                    host: "db1:5432".into(),
                    reason: "failed: connection refused".into(),
                    permanent: false,
                },
                SkippedHost {
                    host: "db2:5433".into(),
                    reason: "is a standby".into(),
                    permanent: false,
                },
            ],
        };
        assert_eq!(
            error.to_string(),
            "no host fits target_session_attrs=read-write: db1:5432 failed: connection \
             refused; db2:5433 is a standby"
        );
        let sqlx_error = error.clone().into_sqlx();
        assert_eq!(
            crate::classify::classify(&sqlx_error),
            ErrorClass::Connection
        );
        let mut all_permanent = error;
        for skipped in &mut all_permanent.skipped {
            skipped.permanent = true;
        }
        assert_eq!(
            crate::classify::classify(&all_permanent.into_sqlx()),
            ErrorClass::Permanent
        );
    }
}
