//! The connect walk over a multi-host PostgreSQL URL on sqlx: the rules are
//! `pool_facts::hosts`'s (try each host in order or shuffled, each within its share of
//! the connect timeout, keep the first whose role fits `target_session_attrs`, name every
//! host skipped); this module is how sqlx logs in to one host, asks its role and closes a
//! connection the walk does not keep.
//!
//! - With one host and `target_session_attrs=any` there is no walk at all: sqlx's connect
//!   as before, no role query.
//! - When no host fits: one [`NoHostAvailable`] naming every host and why, inside a
//!   `sqlx::Error` ([`no_host_available`] gets it back out).

use std::{error::Error as StdError, time::Duration};

use pool_core::ErrorClass;
pub use pool_facts::health::HostHealth;
use pool_facts::hosts::{self, HostConnector};
pub use pool_facts::hosts::{HostWalk, NoHostAvailable, ServerRole, SkippedHost};
use sqlx::{ConnectOptions, Connection};

use crate::{Backend, backend::Options, config::Host, host_tally::HostTally};

/// sqlx's side of the walk: the session's options, with each host set in turn.
struct SqlxHosts<DB: Backend> {
    options: Options<DB>,
}

impl<DB: Backend> HostConnector for SqlxHosts<DB> {
    type Connection = DB::Connection;
    type Error = sqlx::Error;

    async fn connect(&self, host: Option<&Host>) -> Result<DB::Connection, sqlx::Error> {
        let options = match host {
            Some(host) => DB::with_host(self.options.clone(), host),
            None => self.options.clone(),
        };
        options.connect().await
    }

    async fn role(&self, conn: &mut DB::Connection) -> Result<ServerRole, sqlx::Error> {
        // A backend without roles (none walks today) is taken as a read-write primary.
        Ok(DB::server_role(conn).await?.unwrap_or(ServerRole {
            in_recovery: false,
            read_only: false,
        }))
    }

    fn close_later(&self, conn: DB::Connection) {
        close_later::<DB>(conn);
    }

    fn describe(&self, error: &sqlx::Error) -> (String, bool) {
        (
            crate::server_error::DisplaySqlx(error).to_string(),
            crate::classify::classify(error) == ErrorClass::Permanent,
        )
    }
}

/// Connects to the first host of `walk` that fits; `options` are the session's;
/// `description` (password removed) names the host of a one-host URL. Also returns the
/// index in `walk.hosts` of the host it connected to (`None` for a one-host URL).
pub(crate) async fn walk<DB: Backend>(
    walk: &HostWalk,
    options: Options<DB>,
    description: &str,
) -> Result<(DB::Connection, Option<usize>), sqlx::Error> {
    hosts::walk(walk, &SqlxHosts::<DB> { options }, description)
        .await
        .map_err(into_sqlx)
}

/// Whether the server `conn` talks to still has a role `walk` accepts (see
/// [`HostWalk::still_fits`]).
pub(crate) async fn still_fits<DB: Backend>(
    walk: &HostWalk,
    conn: &mut DB::Connection,
) -> Result<(), sqlx::Error> {
    if !walk.target.needs_role() {
        return Ok(());
    }
    match DB::server_role(conn).await? {
        Some(role) => walk.still_fits(role).map_err(sqlx::Error::Protocol),
        None => Ok(()),
    }
}

/// Logs in to every host of `walk` at once (a connection of its own each, outside the
/// pool, closed at once), asks its role, all within `timeout`; `tally` has the pool's
/// connections per host. The table is `pool_facts::health::probe_hosts`'s, shared with
/// pool-postgres; this is how sqlx asks one host.
pub(crate) async fn probe<DB: Backend>(
    walk: &HostWalk,
    tally: Option<&HostTally>,
    options: &Options<DB>,
    timeout: Duration,
) -> Vec<HostHealth> {
    pool_facts::health::probe_hosts(&walk.hosts, tally, timeout, |host| {
        let options = DB::with_host(options.clone(), host);
        async move {
            let described =
                |error: sqlx::Error| crate::server_error::DisplaySqlx(&error).to_string();
            let mut conn = options.connect().await.map_err(described)?;
            let role = DB::server_role(&mut conn).await;
            let lag = match &role {
                Ok(Some(role)) if role.in_recovery => DB::replay_position(&mut conn)
                    .await
                    .map(|position| position.map(|position| position.health_lag())),
                _ => Ok(None),
            };
            close_later::<DB>(conn);
            Ok((role.map_err(described)?, lag.map_err(described)?))
        }
    })
    .await
}

/// A polite goodbye to a connection the walk does not keep, off the connect's path and
/// bounded: the server may be gone.
fn close_later<DB: Backend>(conn: DB::Connection) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(1), conn.close()).await;
    });
}

/// The [`NoHostAvailable`] inside `error`, if that is what it is.
pub fn no_host_available(error: &sqlx::Error) -> Option<&NoHostAvailable> {
    let inner: &(dyn StdError + Send + Sync + 'static) = match error {
        sqlx::Error::Io(io) => io.get_ref()?,
        sqlx::Error::Configuration(inner) => inner.as_ref(),
        _ => return None,
    };
    inner.downcast_ref()
}

/// As a `sqlx::Error`, classified so the pool retries unless every host failed
/// permanently: inside `Io` (class `Connection`: a promotion may be under way), or
/// `Configuration` (class `Permanent`) when every host refused the password.
pub(crate) fn into_sqlx(error: NoHostAvailable) -> sqlx::Error {
    if error.all_permanent() {
        sqlx::Error::Configuration(Box::new(error))
    } else {
        sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::NotConnected, error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_is_retried_unless_all_hosts_are_permanent() {
        let error = NoHostAvailable::new(
            crate::TargetSessionAttrs::ReadWrite,
            vec![
                SkippedHost::new("db1:5432", "failed: connection refused", false),
                SkippedHost::new("db2:5433", "is a standby", false),
            ],
        );
        let sqlx_error = into_sqlx(error.clone());
        assert_eq!(
            crate::classify::classify(&sqlx_error),
            ErrorClass::Connection
        );
        assert!(no_host_available(&sqlx_error).is_some());
        let mut all_permanent = error;
        for skipped in &mut all_permanent.skipped {
            skipped.permanent = true;
        }
        assert_eq!(
            crate::classify::classify(&into_sqlx(all_permanent)),
            ErrorClass::Permanent
        );
    }
}
