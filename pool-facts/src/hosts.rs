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
//!   the session set-up and the user's hook, with `ROLE_QUERY`: one parameterless
//!   simple-protocol round trip (works behind PgBouncer). A host with the wrong role is
//!   skipped, its connection closed.
//! - `prefer-standby` keeps the first primary it meets open while it looks on for a
//!   standby, and takes it if none is found (libpq walks the list a second time instead).
//! - With one host and `target_session_attrs=any` there is no walk at all: the driver's
//!   connect as before, no role query.
//! - When no host fits: one [`NoHostAvailable`] naming every host and why.
//!
//! A binding drives the walk with a [`HostConnector`]: how it logs in to one host, asks
//! the role, closes a connection it does not keep and describes a connect error. The
//! rules above are this module's alone.

use std::{
    error::Error as StdError,
    fmt,
    future::Future,
    hash::{BuildHasher, Hasher},
    time::Duration,
};

use crate::config::{Config, Host, LoadBalanceHosts, TargetSessionAttrs};

/// The role query: `pg_is_in_recovery()` (a standby) and the new session's
/// `transaction_read_only` (`default_transaction_read_only`, always on for a standby).
/// No parameters and no prepared statement, so it works behind PgBouncer in transaction
/// mode; the answer is two booleans.
pub const ROLE_QUERY: &str =
    "SELECT pg_is_in_recovery(), current_setting('transaction_read_only') = 'on'";

/// How a binding takes part in the walk.
pub trait HostConnector: Send + Sync {
    /// The binding's connection.
    type Connection: Send + 'static;
    /// The binding's error.
    type Error: Send;

    /// Logs in to `host` (`None`: the one host of the binding's connect options).
    fn connect(
        &self,
        host: Option<&Host>,
    ) -> impl Future<Output = Result<Self::Connection, Self::Error>> + Send;

    /// Asks the server its role with `ROLE_QUERY`.
    fn role(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<ServerRole, Self::Error>> + Send;

    /// Closes a connection the walk does not keep, off the connect's path and bounded:
    /// the server may be gone.
    fn close_later(&self, conn: Self::Connection);

    /// What a connect error says, for [`SkippedHost::reason`] (never a password), and
    /// whether it is permanent (a wrong password, no such database), not the host's state.
    fn describe(&self, error: &Self::Error) -> (String, bool);
}

/// What a connect walks: the hosts (empty: the one host of the connect options) and which
/// server it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostWalk {
    /// The hosts, in the URL's order; empty for a URL with one host.
    pub hosts: Vec<Host>,
    /// Which server a connect accepts.
    pub target: TargetSessionAttrs,
    /// In which order the hosts are tried.
    pub order: LoadBalanceHosts,
    /// Each host's share of the pool's connect timeout, so a black-holed host cannot take
    /// the whole of it (libpq gives `connect_timeout` to each host instead; then the
    /// pool's own bound would end the walk at the first silent host).
    pub host_timeout: Option<Duration>,
}

impl HostWalk {
    /// What a connect with `config` walks: `None` (the driver's one connect, no role
    /// query) for one host with `target_session_attrs=any`.
    pub fn for_config(config: &Config) -> Option<HostWalk> {
        if config.hosts.is_empty() && !config.target_session_attrs.needs_role() {
            return None;
        }
        let shares = u32::try_from(config.hosts.len()).unwrap_or(u32::MAX);
        let connect_timeout = config.effective_connect_timeout();
        Some(HostWalk {
            hosts: config.hosts.clone(),
            target: config.target_session_attrs,
            order: config.load_balance_hosts,
            host_timeout: (shares > 1).then(|| connect_timeout / shares),
        })
    }

    /// The hosts in the order this connect tries them: the URL's, or shuffled anew.
    pub fn order(&self) -> Vec<usize> {
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

    /// Whether a connection to a server of `role` may stay in the pool: asked by the
    /// pool's check (validation) when `target_session_attrs` is not `any`, so a
    /// connection to a primary that was demoted or fenced read-only is closed on checkout
    /// instead of taking a 25006 on its next write. A `prefer-standby` connection to a
    /// primary still fits (it was taken as the fallback). `Err` says why not.
    pub fn still_fits(&self, role: ServerRole) -> Result<(), String> {
        if self.target.fit(role) == Fit::No {
            Err(format!(
                "the server is {} now, not {}",
                role.describe(),
                self.target.name()
            ))
        } else {
            Ok(())
        }
    }
}

/// Connects to the first host of `walk` that fits (see the module's rules);
/// `description` (password removed) names the host of a one-host URL. Also returns the
/// index in `walk.hosts` of the host it connected to (`None` for a one-host URL).
pub async fn walk<C: HostConnector>(
    walk: &HostWalk,
    connector: &C,
    description: &str,
) -> Result<(C::Connection, Option<usize>), NoHostAvailable> {
    let targets: Vec<Option<(usize, &Host)>> = if walk.hosts.is_empty() {
        vec![None]
    } else {
        walk.order()
            .into_iter()
            .map(|i| walk.hosts.get(i).map(|host| (i, host)))
            .collect()
    };
    let mut skipped = Vec::with_capacity(targets.len());
    let mut fallback: Option<(C::Connection, Option<usize>)> = None;
    for target in targets {
        let host = target.map(|(_, host)| host);
        let index = target.map(|(index, _)| index);
        let label = host.map_or_else(|| description.to_owned(), Host::to_string);
        let attempt = attempt(connector, host, walk.target);
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
            Err(error) => {
                let (reason, permanent) = connector.describe(&error);
                skipped.push(SkippedHost {
                    host: label,
                    reason: format!("failed: {reason}"),
                    permanent,
                });
            }
            Ok((conn, Fit::Yes, _)) => {
                if let Some((spare, _)) = fallback.take() {
                    connector.close_later(spare);
                }
                return Ok((conn, index));
            }
            Ok((conn, Fit::AsFallback, role)) => {
                if fallback.is_none() {
                    fallback = Some((conn, index));
                } else {
                    connector.close_later(conn);
                }
                skipped.push(wrong_role(label, role, walk.target));
            }
            Ok((conn, Fit::No, role)) => {
                connector.close_later(conn);
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
    })
}

type Attempt<C> = (C, Fit, Option<ServerRole>);

async fn attempt<C: HostConnector>(
    connector: &C,
    host: Option<&Host>,
    target: TargetSessionAttrs,
) -> Result<Attempt<C::Connection>, C::Error> {
    let mut conn = connector.connect(host).await?;
    if !target.needs_role() {
        return Ok((conn, Fit::Yes, None));
    }
    match connector.role(&mut conn).await {
        Ok(role) => Ok((conn, target.fit(role), Some(role))),
        Err(error) => {
            connector.close_later(conn);
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

/// A server's role, read after login with `ROLE_QUERY`.
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

    /// `standby`, `read-only primary` or `primary`: the role as the health report
    /// names it.
    pub fn name(self) -> &'static str {
        match (self.in_recovery, self.read_only) {
            (true, _) => "standby",
            (false, true) => "read-only primary",
            (false, false) => "primary",
        }
    }
}

/// How a connected server fits what the URL asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Take it.
    Yes,
    /// Take it only if no host fits better (`prefer-standby` on a primary).
    AsFallback,
    /// Skip it.
    No,
}

impl TargetSessionAttrs {
    /// Whether a connect must ask the server its role at all.
    pub fn needs_role(self) -> bool {
        self != TargetSessionAttrs::Any
    }

    /// libpq's meanings: `read-write`/`read-only` by the session's default read-only
    /// setting, `primary`/`standby`/`prefer-standby` by recovery.
    pub fn fit(self, role: ServerRole) -> Fit {
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

impl SkippedHost {
    /// A host skipped for `reason`.
    pub fn new(host: impl Into<String>, reason: impl Into<String>, permanent: bool) -> Self {
        SkippedHost {
            host: host.into(),
            reason: reason.into(),
            permanent,
        }
    }
}

/// No host of a multi-host URL (or the one host of a URL with `target_session_attrs`)
/// gave a connection that fits: every host, and why it was skipped.
///
/// A binding hands it on inside its own error, classified `Connection` (the pool keeps
/// connecting, a promotion may be under way) unless [`all_permanent`](Self::all_permanent)
/// (every host refused the password): then `Permanent`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NoHostAvailable {
    /// What the URL asked for.
    pub target: TargetSessionAttrs,
    /// Every host tried, in the order tried.
    pub skipped: Vec<SkippedHost>,
}

impl NoHostAvailable {
    /// No host of those in `skipped` fits `target`.
    pub fn new(target: TargetSessionAttrs, skipped: Vec<SkippedHost>) -> Self {
        NoHostAvailable { target, skipped }
    }

    /// Every host failed permanently: retrying cannot help.
    pub fn all_permanent(&self) -> bool {
        !self.skipped.is_empty() && self.skipped.iter().all(|skipped| skipped.permanent)
    }
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
    fn the_error_names_every_host_and_is_permanent_only_when_all_are() {
        let mut error = NoHostAvailable {
            target: TargetSessionAttrs::ReadWrite,
            skipped: vec![
                SkippedHost::new("db1:5432", "failed: connection refused", false),
                SkippedHost::new("db2:5433", "is a standby", false),
            ],
        };
        assert_eq!(
            error.to_string(),
            "no host fits target_session_attrs=read-write: db1:5432 failed: connection \
             refused; db2:5433 is a standby"
        );
        assert!(!error.all_permanent());
        for skipped in &mut error.skipped {
            skipped.permanent = true;
        }
        assert!(error.all_permanent());
    }
}
