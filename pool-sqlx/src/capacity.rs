//! `check_capacity`: does this pool, run by N instances, fit in the server's
//! `max_connections`? Read from the server at start-up.

use pool_core::{ConfigError, Pool, size_for_instances};

use crate::{Backend, Error, SqlxManager};

/// What [`check_capacity`] found. Serialises with serde.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct CapacityReport {
    /// The server's `max_connections`. Through PgBouncer it is the PostgreSQL server's
    /// behind it (`SHOW max_connections` is forwarded), not the bouncer's own limits.
    pub max_connections: u64,
    /// The instances running this pool (as given).
    pub instances: usize,
    /// Connections kept back for administration and migrations (as given).
    pub reserved: usize,
    /// This pool's `max_size`.
    pub max_size: usize,
    /// This pool's `min_idle`.
    pub min_idle: usize,
    /// `max_size × instances + reserved`: what the instances may open at worst.
    pub planned: u64,
    /// Whether `planned ≤ max_connections`.
    pub fits: bool,
    /// Whether the pool connects through PgBouncer (`pgbouncer=true`). The pools' client
    /// connections then go to the bouncer, and only its server pool reaches the server:
    /// `fits == false` is expected and not warned about; what must fit is the bouncer's
    /// `default_pool_size` (+ `reserve_pool_size`, per database and user) within
    /// `max_connections − reserved`, and its `max_client_conn` above `planned`.
    pub pgbouncer: bool,
    /// The per-instance `max_size` that fits ([`size_for_instances`]); `None` behind
    /// PgBouncer, or when not even one connection per instance fits.
    pub advised_max_size: Option<usize>,
    /// What will misbehave, in words; each was also logged with `tracing::warn!`.
    pub warnings: Vec<String>,
}

impl CapacityReport {
    /// Works the report out from the server's `max_connections` and the pool's sizes
    /// (no I/O; [`check_capacity`] reads the server first). Logs each warning.
    pub fn evaluate(
        max_connections: u64,
        instances: usize,
        reserved: usize,
        max_size: usize,
        min_idle: usize,
        pgbouncer: bool,
    ) -> Result<CapacityReport, ConfigError> {
        if instances == 0 {
            return Err(ConfigError::new("instances", "must be at least 1"));
        }
        let widen = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        let planned = widen(max_size)
            .saturating_mul(widen(instances))
            .saturating_add(widen(reserved));
        let fits = planned <= max_connections;
        let mut warnings = Vec::new();
        let mut advised_max_size = None;
        if !pgbouncer {
            let max = usize::try_from(max_connections).unwrap_or(usize::MAX);
            // Logs its own warnings (min_idle × instances above what the server can give).
            match size_for_instances(max, reserved, instances, min_idle) {
                Ok(sizing) => {
                    advised_max_size = Some(sizing.per_instance);
                    warnings.extend(sizing.warnings);
                }
                Err(error) => {
                    let warning = format!("{}: {}", error.setting, error.problem);
                    tracing::warn!(max_connections, reserved, instances, "{warning}");
                    warnings.push(warning);
                }
            }
            if !fits {
                let advice = advised_max_size
                    .map(|n| format!("; at most {n} per instance fits"))
                    .unwrap_or_default();
                let warning = format!(
                    "max_size {max_size} × {instances} instances + {reserved} reserved = \
                     {planned} connections, more than the server's max_connections \
                     {max_connections}: instances will fail with \"too many clients\" \
                     (53300) under load{advice}"
                );
                tracing::warn!(max_connections, reserved, instances, max_size, "{warning}");
                warnings.push(warning);
            }
        } else if !fits {
            tracing::info!(
                max_connections,
                reserved,
                instances,
                max_size,
                planned,
                "through PgBouncer: the server sees only the bouncer's server pool; keep its \
                 default_pool_size (+ reserve_pool_size) within max_connections - reserved \
                 and its max_client_conn above the planned client connections"
            );
        }
        Ok(CapacityReport {
            max_connections,
            instances,
            reserved,
            max_size,
            min_idle,
            planned,
            fits,
            pgbouncer,
            advised_max_size,
            warnings,
        })
    }
}

/// Reads the server's `max_connections` through one of `pool`'s connections and checks
/// that `instances` copies of this pool, plus `reserved` connections for administration
/// and migrations, fit in it: `max_size × instances + reserved ≤ max_connections`. Each
/// problem is logged with `tracing::warn!` and listed in
/// [`CapacityReport::warnings`]; call it at start-up.
///
/// ```no_run
/// # async fn f(pool: &pool_sqlx::PgPool) -> Result<(), pool_sqlx::Error> {
/// let report = pool_sqlx::check_capacity(pool, 8, 10).await?;
/// if !report.fits && !report.pgbouncer {
///     eprintln!("{:?}", report.warnings);
/// }
/// # Ok(()) }
/// ```
///
/// Through PgBouncer (`pgbouncer=true`) the value read is the PostgreSQL server's behind
/// it; see [`CapacityReport::pgbouncer`] for what to compare then.
///
/// # Errors
/// [`Error::Config`] naming `instances` when it is 0, or `backend` for SQLite (no
/// server, no limit); the checkout's or the query's error otherwise.
pub async fn check_capacity<DB: Backend>(
    pool: &Pool<SqlxManager<DB>>,
    instances: usize,
    reserved: usize,
) -> Result<CapacityReport, Error> {
    if instances == 0 {
        return Err(ConfigError::new("instances", "must be at least 1").into());
    }
    let mut conn = pool.get().await?;
    conn.begin_operation();
    let read = DB::max_connections(conn.raw_mut())
        .await
        .map_err(crate::SqlxError);
    conn.finish(&read);
    let Some(max_connections) = read? else {
        return Err(ConfigError::new(
            "backend",
            format!(
                "{} has no server connection limit to check",
                DB::KIND.name()
            ),
        )
        .into());
    };
    let session = pool.manager().session_settings();
    Ok(CapacityReport::evaluate(
        max_connections,
        instances,
        reserved,
        pool.status().max_size,
        pool.min_idle(),
        session.pgbouncer,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_that_fits_has_no_warnings() {
        let report = CapacityReport::evaluate(100, 8, 10, 10, 0, false).unwrap();
        assert!(report.fits);
        assert_eq!(report.planned, 90);
        assert_eq!(report.advised_max_size, Some(11));
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    }

    #[test]
    fn too_many_connections_warns_and_advises() {
        let report = CapacityReport::evaluate(100, 8, 10, 20, 0, false).unwrap();
        assert!(!report.fits);
        assert_eq!(report.planned, 170);
        assert_eq!(report.advised_max_size, Some(11));
        assert_eq!(report.warnings.len(), 1);
        assert!(report.warnings[0].contains("170 connections"));
        assert!(report.warnings[0].contains("at most 11 per instance"));
    }

    #[test]
    fn idle_connections_above_the_server_warn() {
        let report = CapacityReport::evaluate(100, 20, 0, 5, 6, false).unwrap();
        assert!(report.fits);
        assert!(
            report.warnings.iter().any(|w| w.contains("120 idle")),
            "{:?}",
            report.warnings
        );
    }

    #[test]
    fn behind_pgbouncer_exceeding_is_expected() {
        let report = CapacityReport::evaluate(100, 8, 10, 20, 0, true).unwrap();
        assert!(!report.fits);
        assert!(report.warnings.is_empty());
        assert_eq!(report.advised_max_size, None);
    }

    #[test]
    fn impossible_inputs_are_named() {
        assert_eq!(
            CapacityReport::evaluate(100, 0, 0, 1, 0, false)
                .unwrap_err()
                .setting,
            "instances"
        );
        let report = CapacityReport::evaluate(10, 20, 0, 1, 0, false).unwrap();
        assert_eq!(report.advised_max_size, None);
        assert!(report.warnings.iter().any(|w| w.starts_with("instances")));
    }
}
