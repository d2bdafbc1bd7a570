//! The stacks the bench compares, each answering the same four questions.
//!
//! - `attributes`: repository functions under `#[resilient]` and `#[pooled]` on pool-sqlx,
//!   as a service using this library writes them;
//! - `plain`: the same pool-sqlx pool, checked out by hand, no attributes: the
//!   attributes' cost is the difference between these two;
//! - `pgpool`: sqlx's own `PgPool` with its default options, what users pick instead;
//! - `deadpool`: deadpool-postgres (tokio-postgres, statements prepared and cached per
//!   connection), the other pool services pick, at the same 10 connections;
//! - `postgres`: pool-postgres (this library on tokio-postgres) under the same
//!   `#[resilient]` and `#[pooled]` as `attributes`, running deadpool's code and
//!   statements (`postgres_sql`): against `deadpool` it compares the pools on one driver,
//!   against `attributes` the drivers under one pool;
//! - `postgres-plain`: the same pool-postgres pool, checked out by hand, the same
//!   statements through its `prepare_cached`, no attributes: beside `postgres` it gives
//!   the attributes' cost on tokio-postgres, beside `deadpool` the pool's and client's;
//! - the tokio-postgres stacks also answer `/queries-pipelined` (the test
//!   `queries-pipelined`): the same rows with every query in flight at once on the one
//!   connection, which tokio-postgres pipelines and sqlx cannot;
//! - on request (`--stacks`), the attributes' cost taken apart: `untimed` (the same
//!   `#[resilient]` without its per-attempt `timeout`) and `pooled` (`#[pooled]` alone).

use pool_sqlx::{
    Config, Error, PgPool, pooled, resilient,
    sqlx::{self, PgConnection, postgres::PgPoolOptions},
};

use crate::{
    postgres_sql,
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
    /// pool-postgres under `#[resilient]` + `#[pooled]`.
    Postgres,
    /// pool-postgres, checked out by hand.
    PostgresPlain,
}

impl Kind {
    /// Every stack, in the order the report lists them.
    pub(crate) const ALL: [Kind; 8] = [
        Kind::Attributes,
        Kind::Plain,
        Kind::PgPool,
        Kind::Deadpool,
        Kind::Postgres,
        Kind::Untimed,
        Kind::Pooled,
        Kind::PostgresPlain,
    ];

    /// The stacks a bench runs unless `--stacks` says otherwise.
    pub(crate) const DEFAULT: [Kind; 5] = [
        Kind::Attributes,
        Kind::Plain,
        Kind::PgPool,
        Kind::Deadpool,
        Kind::Postgres,
    ];

    /// The name used on the command line and in the report.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Attributes => "attributes",
            Kind::Plain => "plain",
            Kind::PgPool => "pgpool",
            Kind::Untimed => "untimed",
            Kind::Pooled => "pooled",
            Kind::Deadpool => "deadpool",
            Kind::Postgres => "postgres",
            Kind::PostgresPlain => "postgres-plain",
        }
    }

    /// Every stack's name, in [`Kind::ALL`]'s order, joined by `separator`: the one list
    /// the usage and the errors print.
    pub(crate) fn names(separator: &str) -> String {
        Kind::ALL.map(Kind::name).join(separator)
    }

    /// Whether the stack's driver pipelines, so that it answers `/queries-pipelined`
    /// (tokio-postgres does; sqlx's queries take the connection by `&mut`).
    pub(crate) fn pipelines(self) -> bool {
        matches!(self, Kind::Deadpool | Kind::Postgres | Kind::PostgresPlain)
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
    /// pool-postgres, used through the attributes.
    Postgres(pool_postgres::PostgresPool),
    /// pool-postgres, used by hand.
    PostgresPlain(pool_postgres::PostgresPool),
}

/// What a stack's request can fail with: each pool's own error.
pub(crate) type StackError = Box<dyn std::error::Error + Send + Sync>;

/// deadpool-postgres's size: the 10 connections of sqlx's default and of the production
/// preset (deadpool's own default is 4 per core).
const CONNECTIONS: usize = 10;

impl Stack {
    /// Builds `kind`'s pool for `url` (the production preset for pool-sqlx and
    /// pool-postgres; sqlx's defaults for `PgPool`; 10 connections for deadpool-postgres:
    /// all allow 10).
    pub(crate) async fn connect(kind: Kind, url: &str) -> Result<Stack, StackError> {
        Ok(match kind {
            Kind::PgPool => Stack::PgPool(PgPoolOptions::new().connect(url).await?),
            Kind::Postgres | Kind::PostgresPlain => {
                let pool = pool_postgres::Config::from_url(url)?.build_pool("tfb")?;
                if kind == Kind::Postgres {
                    Stack::Postgres(pool)
                } else {
                    Stack::PostgresPlain(pool)
                }
            }
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
            Stack::Deadpool(pool) => Ok(postgres_sql::world(&pool.get().await?, id).await?),
            Stack::Postgres(pool) => Ok(postgres_repo::world(pool, id).await?),
            Stack::PostgresPlain(pool) => Ok(postgres_sql::world(&*pool.get().await?, id).await?),
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
            Stack::Deadpool(pool) => Ok(postgres_sql::worlds(&pool.get().await?, ids).await?),
            Stack::Postgres(pool) => Ok(postgres_repo::worlds(pool, ids).await?),
            Stack::PostgresPlain(pool) => Ok(postgres_sql::worlds(&*pool.get().await?, ids).await?),
            Stack::Plain(pool) => {
                let mut conn = pool.get().await?;
                Ok(sql::worlds(&mut conn, ids).await?)
            }
            Stack::PgPool(pool) => Ok(sql::worlds(&mut *pool.acquire().await?, ids).await?),
        }
    }

    /// The same rows, every query in flight at once on one connection (`/queries-pipelined`;
    /// only the stacks whose kind [`pipelines`](Kind::pipelines) serve it).
    pub(crate) async fn worlds_pipelined(&self, ids: &[i32]) -> Result<Vec<World>, StackError> {
        match self {
            Stack::Deadpool(pool) => {
                Ok(postgres_sql::worlds_pipelined(&pool.get().await?, ids).await?)
            }
            Stack::Postgres(pool) => Ok(postgres_repo::worlds_pipelined(pool, ids).await?),
            Stack::PostgresPlain(pool) => {
                Ok(postgres_sql::worlds_pipelined(&*pool.get().await?, ids).await?)
            }
            _ => Err(format!(
                "the {} stack's driver does not pipeline",
                self.kind().name()
            )
            .into()),
        }
    }

    /// Which stack this is.
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Stack::Attributes(_) => Kind::Attributes,
            Stack::Plain(_) => Kind::Plain,
            Stack::PgPool(_) => Kind::PgPool,
            Stack::Untimed(_) => Kind::Untimed,
            Stack::Pooled(_) => Kind::Pooled,
            Stack::Deadpool(_) => Kind::Deadpool,
            Stack::Postgres(_) => Kind::Postgres,
            Stack::PostgresPlain(_) => Kind::PostgresPlain,
        }
    }

    /// `ids.len()` read-modify-writes on one connection.
    pub(crate) async fn update_worlds(&self, ids: &[i32]) -> Result<Vec<World>, StackError> {
        match self {
            Stack::Attributes(pool) => Ok(repo::update_worlds(pool, ids).await?),
            Stack::Untimed(pool) => Ok(untimed::update_worlds(pool, ids).await?),
            Stack::Pooled(pool) => Ok(pooled_only::update_worlds(pool, ids).await?),
            Stack::Deadpool(pool) => {
                Ok(postgres_sql::update_worlds(&pool.get().await?, ids).await?)
            }
            Stack::Postgres(pool) => Ok(postgres_repo::update_worlds(pool, ids).await?),
            Stack::PostgresPlain(pool) => {
                Ok(postgres_sql::update_worlds(&*pool.get().await?, ids).await?)
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
            Stack::Deadpool(pool) => Ok(postgres_sql::fortunes(&pool.get().await?).await?),
            Stack::Postgres(pool) => Ok(postgres_repo::fortunes(pool).await?),
            Stack::PostgresPlain(pool) => Ok(postgres_sql::fortunes(&*pool.get().await?).await?),
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
            #[pooled(crate = pool_sqlx)]
            pub(super) async fn world(conn: &mut PgConnection, id: i32) -> Result<World, Error> {
                Ok(sql::world(conn, id).await?)
            }

            $(#[$policy])?
            #[pooled(crate = pool_sqlx)]
            pub(super) async fn worlds(
                conn: &mut PgConnection,
                ids: &[i32],
            ) -> Result<Vec<World>, Error> {
                Ok(sql::worlds(conn, ids).await?)
            }

            /// Setting rows to random numbers may be repeated without harm.
            $(#[$policy])?
            #[pooled(crate = pool_sqlx)]
            pub(super) async fn update_worlds(
                conn: &mut PgConnection,
                ids: &[i32],
            ) -> Result<Vec<World>, Error> {
                Ok(sql::update_worlds(conn, ids).await?)
            }

            $(#[$policy])?
            #[pooled(crate = pool_sqlx)]
            pub(super) async fn fortunes(conn: &mut PgConnection) -> Result<Vec<Fortune>, Error> {
                Ok(sql::fortunes(conn).await?)
            }
        }
    };
}

// The repository as a service on this library writes it: reads retried (they are
// idempotent), every call under a per-attempt timeout.
repository!(repo, #[resilient(crate = pool_sqlx, retries = 2, timeout = "5s", idempotent)]);
// The same without the timeout (no timer per attempt).
repository!(untimed, #[resilient(crate = pool_sqlx, retries = 2, idempotent)]);
// `#[pooled]` alone: the checkout and the slow-call report, no policy.
repository!(pooled_only);

/// The `attributes` repository on pool-postgres: the same policy (reads retried, every
/// call under a per-attempt timeout) over the tokio-postgres code both tokio-postgres
/// stacks share. The attributes name their binding (`crate = pool_postgres`): this
/// package depends on pool-sqlx too.
mod postgres_repo {
    use pool_postgres::{Client, Error, pooled, resilient};

    use crate::{
        postgres_sql,
        sql::{Fortune, World},
    };

    #[resilient(crate = pool_postgres, retries = 2, timeout = "5s", idempotent)]
    #[pooled(crate = pool_postgres)]
    pub(super) async fn world(conn: &mut Client, id: i32) -> Result<World, Error> {
        Ok(postgres_sql::world(&*conn, id).await?)
    }

    #[resilient(crate = pool_postgres, retries = 2, timeout = "5s", idempotent)]
    #[pooled(crate = pool_postgres)]
    pub(super) async fn worlds(conn: &mut Client, ids: &[i32]) -> Result<Vec<World>, Error> {
        Ok(postgres_sql::worlds(&*conn, ids).await?)
    }

    /// Under the attributes the body gets `&mut`; the pipelined queries need it shared
    /// (`&*conn`), all of them on the one checkout.
    #[resilient(crate = pool_postgres, retries = 2, timeout = "5s", idempotent)]
    #[pooled(crate = pool_postgres)]
    pub(super) async fn worlds_pipelined(
        conn: &mut Client,
        ids: &[i32],
    ) -> Result<Vec<World>, Error> {
        Ok(postgres_sql::worlds_pipelined(&*conn, ids).await?)
    }

    /// Setting rows to random numbers may be repeated without harm.
    #[resilient(crate = pool_postgres, retries = 2, timeout = "5s", idempotent)]
    #[pooled(crate = pool_postgres)]
    pub(super) async fn update_worlds(conn: &mut Client, ids: &[i32]) -> Result<Vec<World>, Error> {
        Ok(postgres_sql::update_worlds(&*conn, ids).await?)
    }

    #[resilient(crate = pool_postgres, retries = 2, timeout = "5s", idempotent)]
    #[pooled(crate = pool_postgres)]
    pub(super) async fn fortunes(conn: &mut Client) -> Result<Vec<Fortune>, Error> {
        Ok(postgres_sql::fortunes(&*conn).await?)
    }
}
