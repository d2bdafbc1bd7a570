//! `health`: a serialisable report on one pool and its database, without secrets.

use std::time::{Duration, Instant};

use pool_core::{Manager, Metrics, Pool, Status};

use crate::{Backend, SqlxManager};

/// What [`health`] found. Serialises with serde; never contains a password.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct Health {
    /// The pool's name.
    pub pool: String,
    /// `postgres`, `mysql` or `sqlite`.
    pub backend: &'static str,
    /// The database URL with its password replaced by `***`.
    pub database: String,
    /// Whether a connection could be checked out and pinged.
    pub ok: bool,
    /// The checkout-and-ping time, in milliseconds.
    pub latency_ms: u64,
    /// Why it is not ok (the error's message and class).
    pub error: Option<String>,
    /// The pool's connections.
    pub status: Status,
    /// The pool's counters.
    pub metrics: Metrics,
}

/// Checks a connection out of `pool` and runs the backend's health check on it, within
/// `timeout`.
pub async fn health<DB: Backend>(pool: &Pool<SqlxManager<DB>>, timeout: Duration) -> Health {
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, async {
        let mut conn = pool.get().await.map_err(crate::Error::from)?;
        conn.begin_operation();
        let checked = pool.manager().check(&mut conn).await;
        conn.finish(&checked);
        checked.map_err(crate::Error::from)
    })
    .await;
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(error)) => {
            let class = pool_core::Classify::class(&error);
            Some(format!("{} ({})", error, class.as_str()))
        }
        Err(_) => Some(format!("no answer within {timeout:?} (timeout)")),
    };
    Health {
        pool: pool.name().to_owned(),
        backend: DB::KIND.name(),
        database: pool.manager().description().to_owned(),
        ok: error.is_none(),
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        error,
        status: pool.status(),
        metrics: pool.metrics(),
    }
}
