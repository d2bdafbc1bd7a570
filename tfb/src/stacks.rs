//! The stacks the bench compares, each answering the same four questions.
//!
//! - `attributes`: repository functions under `#[resilient]` and `#[pooled]` on pool-sqlx,
//!   as a service using this library writes them;
//! - `plain`: the same pool-sqlx pool, checked out by hand, no attributes: the
//!   attributes' cost is the difference between these two;
//! - `pgpool`: sqlx's own `PgPool` with its default options, what users pick instead;
//! - `deadpool`: deadpool-postgres (tokio-postgres, statements prepared and cached per
//!   connection), the other pool services pick, at the same 10 connections;
//! - on request (`--stacks`), the attributes' cost taken apart: `untimed` (the same
//!   `#[resilient]` without its per-attempt `timeout`) and `pooled` (`#[pooled]` alone).

use pool_sqlx::{
    Config, Error, PgPool, pooled, resilient,
    sqlx::{self, PgConnection, postgres::PgPoolOptions},
};

use crate::{
    deadpool_sql,
    sql::{self, Fortune, World},
};

/// Which stack a service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// pool-sqlx under `#[resilient]` + `#[pooled]`.
    Attributes,
    /// pool-sqlx, checked out by hand.
    Plain,
    /// sqlx's `PgPool`, default options.
    PgPool,
    /// pool-sqlx under `#[resilient]` without a timeout, + `#[pooled]`.
    Untimed,
    /// pool-sqlx under `#[pooled]` alone.
    Pooled,
    /// deadpool-postgres.
    Deadpool,
}

impl Kind {
    /// Every stack, in the order the report lists them.
    pub(crate) const ALL: [Kind; 6] = [
        Kind::Attributes,
        Kind::Plain,
        Kind::PgPool,
        Kind::Deadpool,
        Kind::Untimed,
        Kind::Pooled,
    ];

    /// The stacks a bench runs unless `--stacks` says otherwise.
    pub(crate) const DEFAULT: [Kind; 4] =
        [Kind::Attributes, Kind::Plain, Kind::PgPool, Kind::Deadpool];

    /// The name used on the command line and in the report.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Attributes => "attributes",
            Kind::Plain => "plain",
            Kind::PgPool => "pgpool",
            Kind::Untimed => "untimed",
            Kind::Pooled => "pooled",
            Kind::Deadpool => "deadpool",
        }
    }

    /// The stack named `name`.
    pub(crate) fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// A running stack's connections.
#[derive(Debug, Clone)]
pub(crate) enum Stack {
    /// pool-sqlx, used through the attributes.
    Attributes(PgPool),
    /// pool-sqlx, used by hand.
    Plain(PgPool),
    /// sqlx's pool.
    PgPool(sqlx::PgPool),
    /// pool-sqlx, through `#[resilient]` without a timeout and `#[pooled]`.
    Untimed(PgPool),
    /// pool-sqlx, through `#[pooled]` alone.
    Pooled(PgPool),
    /// deadpool-postgres.
    Deadpool(deadpool_postgres::Pool),
}

/// What a stack's request can fail with: each pool's own error.
pub(crate) type StackError = Box<dyn std::error::Error + Send + Sync>;

/// deadpool-postgres's size: the 10 connections of sqlx's default and of the production
/// preset (deadpool's own default is 4 per core).
const CONNECTIONS: usize = 10;

impl Stack {
    /// Builds `kind`'s pool for `url` (the production preset for pool-sqlx; sqlx's
    /// defaults for `PgPool`; 10 connections for deadpool-postgres: all three allow 10).
    pub(crate) async fn connect(kind: Kind, url: &str) -> Result<Stack, StackError> {
        Ok(match kind {
            Kind::PgPool => Stack::PgPool(PgPoolOptions::new().connect(url).await?),
            Kind::Deadpool => {
                let config = deadpool_postgres::Config {
                    url: Some(url.to_owned()),
                    pool: Some(deadpool_postgres::PoolConfig::new(CONNECTIONS)),
                    ..deadpool_postgres::Config::default()
                };
                Stack::Deadpool(config.create_pool(
                    Some(deadpool_postgres::Runtime::Tokio1),
                    deadpool_postgres::tokio_postgres::NoTls,
                )?)
            }
            Kind::Attributes | Kind::Plain | Kind::Untimed | Kind::Pooled => {
                let pool: PgPool = Config::from_url(url)?.build_pool::<sqlx::Postgres>("tfb")?;
                match kind {
                    Kind::Attributes => Stack::Attributes(pool),
                    Kind::Untimed => Stack::Untimed(pool),
                    Kind::Pooled => Stack::Pooled(pool),
                    _ => Stack::Plain(pool),
                }
            }
        })
    }

    /// One random row.
    pub(crate) async fn world(&self, id: i32) -> Result<World, StackError> {
        match self {
            Stack::Attributes(pool) => Ok(repo::world(pool, id).await?),
            Stack::Untimed(pool) => Ok(untimed::world(pool, id).await?),
            Stack::Pooled(pool) => Ok(pooled_only::world(pool, id).await?),
            Stack::Deadpool(pool) => Ok(deadpool_sql::world(&pool.get().await?, id).await?),
            Stack::Plain(pool) => {
                let mut conn = pool.get().await?;
                Ok(sql::world(&mut conn, id).await?)
            }
            Stack::PgPool(pool) => Ok(sql::world(&mut *pool.acquire().await?, id).await?),
        }
    }

    /// `ids.len()` rows on one connection.
    pub(crate) async fn worlds(&self, ids: &[i32]) -> Result<Vec<World>, StackError> {
        match self {
            Stack::Attributes(pool) => Ok(repo::worlds(pool, ids).await?),
            Stack::Untimed(pool) => Ok(untimed::worlds(pool, ids).await?),
            Stack::Pooled(pool) => Ok(pooled_only::worlds(pool, ids).await?),
            Stack::Deadpool(pool) => Ok(deadpool_sql::worlds(&pool.get().await?, ids).await?),
            Stack::Plain(pool) => {
                let mut conn = pool.get().await?;
                Ok(sql::worlds(&mut conn, ids).await?)
            }
            Stack::PgPool(pool) => Ok(sql::worlds(&mut *pool.acquire().await?, ids).await?),
        }
    }

    /// `ids.len()` read-modify-writes on one connection.
    pub(crate) async fn update_worlds(&self, ids: &[i32]) -> Result<Vec<World>, StackError> {
        match self {
            Stack::Attributes(pool) => Ok(repo::update_worlds(pool, ids).await?),
            Stack::Untimed(pool) => Ok(untimed::update_worlds(pool, ids).await?),
            Stack::Pooled(pool) => Ok(pooled_only::update_worlds(pool, ids).await?),
            Stack::Deadpool(pool) => {
                Ok(deadpool_sql::update_worlds(&pool.get().await?, ids).await?)
            }
            Stack::Plain(pool) => {
                let mut conn = pool.get().await?;
                Ok(sql::update_worlds(&mut conn, ids).await?)
            }
            Stack::PgPool(pool) => Ok(sql::update_worlds(&mut *pool.acquire().await?, ids).await?),
        }
    }

    /// Every fortune.
    pub(crate) async fn fortunes(&self) -> Result<Vec<Fortune>, StackError> {
        match self {
            Stack::Attributes(pool) => Ok(repo::fortunes(pool).await?),
            Stack::Untimed(pool) => Ok(untimed::fortunes(pool).await?),
            Stack::Pooled(pool) => Ok(pooled_only::fortunes(pool).await?),
            Stack::Deadpool(pool) => Ok(deadpool_sql::fortunes(&pool.get().await?).await?),
            Stack::Plain(pool) => {
                let mut conn = pool.get().await?;
                Ok(sql::fortunes(&mut conn).await?)
            }
            Stack::PgPool(pool) => Ok(sql::fortunes(&mut *pool.acquire().await?).await?),
        }
    }
}

/// The repository functions under the attributes given (each then under `#[pooled]`).
macro_rules! repository {
    ($module:ident $(, #[$policy:meta])?) => {
        mod $module {
            use super::*;

            $(#[$policy])?
            #[pooled]
            pub(super) async fn world(conn: &mut PgConnection, id: i32) -> Result<World, Error> {
                Ok(sql::world(conn, id).await?)
            }

            $(#[$policy])?
            #[pooled]
            pub(super) async fn worlds(
                conn: &mut PgConnection,
                ids: &[i32],
            ) -> Result<Vec<World>, Error> {
                Ok(sql::worlds(conn, ids).await?)
            }

            /// Setting rows to random numbers may be repeated without harm.
            $(#[$policy])?
            #[pooled]
            pub(super) async fn update_worlds(
                conn: &mut PgConnection,
                ids: &[i32],
            ) -> Result<Vec<World>, Error> {
                Ok(sql::update_worlds(conn, ids).await?)
            }

            $(#[$policy])?
            #[pooled]
            pub(super) async fn fortunes(conn: &mut PgConnection) -> Result<Vec<Fortune>, Error> {
                Ok(sql::fortunes(conn).await?)
            }
        }
    };
}

// The repository as a service on this library writes it: reads retried (they are
// idempotent), every call under a per-attempt timeout.
repository!(repo, #[resilient(retries = 2, timeout = "5s", idempotent)]);
// The same without the timeout (no timer per attempt).
repository!(untimed, #[resilient(retries = 2, idempotent)]);
// `#[pooled]` alone: the checkout and the slow-call report, no policy.
repository!(pooled_only);
