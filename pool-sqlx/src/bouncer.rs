//! Behind PgBouncer in transaction mode: what the pool does, what your queries must do,
//! and [`query`], [`query_as`], [`query_scalar`] (sqlx's, with `.persistent(false)`).
//!
//! In transaction mode PgBouncer gives a client a server connection for one transaction
//! and takes it back as soon as the server says it is idle, which, outside an explicit
//! transaction, is after **every** `Sync` of the extended protocol. Anything kept on a
//! server connection beyond that belongs to whichever client gets it next. With sqlx 0.9.0
//! and PgBouncer 1.18 (no `max_prepared_statements`, which came in 1.21), that means:
//!
//! | what | through a transaction-mode bouncer |
//! |---|---|
//! | `sqlx::query(…)` with the default `persistent(true)` | **breaks**: with the statement cache off (`statement_cache_capacity(0)`) sqlx 0.9.0 still prepares it as a *named* statement (`sqlx_s_1`, `sqlx_s_2`, … per client connection) and never closes it, so the next client that lands on that server connection gets `prepared statement "sqlx_s_1" already exists` (42P05), or finds its own gone (26000) |
//! | `.persistent(false)` outside a transaction | **unsafe**: sqlx parses the unnamed statement in one round trip and binds it in the next; between the two the bouncer may hand the server connection to another client (`unnamed prepared statement does not exist`, 26000, or the other client's statement run with these parameters) |
//! | `.persistent(false)` inside a transaction | safe: the bouncer keeps one server connection from `BEGIN` to `COMMIT`, and the unnamed statement lives no longer than the next one |
//! | no parameters: `conn.execute("…")`, [`sqlx::raw_sql`](https://docs.rs/sqlx/0.9/sqlx/fn.raw_sql.html) | safe anywhere: one simple-protocol message, no statement kept |
//! | session state: `SET`, `LISTEN`, advisory locks, temp tables, `PREPARE` | **unsafe**: stays on a server connection other clients share; use `SET LOCAL` inside a transaction, or `ALTER ROLE … SET` |
//!
//! So, with `pgbouncer=true` in the URL (or [`SqlxManager::pgbouncer`](crate::SqlxManager::pgbouncer)):
//!
//! - **Your queries with bound parameters** run inside a transaction —
//!   [`transaction`](crate::transaction()), `#[pooled(transaction)]` or `conn.begin()` — and
//!   are built with the functions of this module (or sqlx's with `.persistent(false)`).
//!   Queries without parameters can run anywhere through `conn.execute("…")` or
//!   [`sqlx::raw_sql`](https://docs.rs/sqlx/0.9/sqlx/fn.raw_sql.html).
//! - **The pool** turns sqlx's statement cache off, leaves out the startup parameters
//!   PgBouncer 1.18 rejects (`options`, `extra_float_digits`: "unsupported startup
//!   parameter"), sets nothing per session, and applies a `statement_timeout` with
//!   `BEGIN; SET LOCAL statement_timeout = …` (one message) in every transaction it begins
//!   ([`transaction`](crate::transaction()), `#[pooled(transaction)]`); statements outside
//!   those transactions are not limited by it (a warning says so once): to limit every
//!   statement, set it on the role (`ALTER ROLE app SET statement_timeout = '5s'`).
//! - **Its own queries** (the validation check, the health report's server view,
//!   [`check_capacity`](crate::check_capacity)) are parameterless simple-protocol
//!   statements, safe through the bouncer.
//! - **Validation** is one simple-protocol round trip, and runs only for a connection
//!   idle longer than `validate_after` (500 ms by default; the `Development` preset
//!   validates every checkout): a busy pool pays no extra round trip per checkout.
//!
//! ```no_run
//! # async fn f(pool: &pool_sqlx::PgPool, policy: &pool_sqlx::Resilience) -> Result<(), pool_sqlx::Error> {
//! use pool_sqlx::{bouncer, transaction};
//! let name: String = transaction(pool, policy, |conn| {
//!     Box::pin(async move {
//!         let name = bouncer::query_scalar("SELECT name FROM users WHERE id = $1")
//!             .bind(42_i64)
//!             .fetch_one(&mut *conn)
//!             .await?;
//!         Ok::<_, pool_sqlx::Error>(name)
//!     })
//! })
//! .await?;
//! # let _ = name; Ok(()) }
//! ```
//!
//! Outside PgBouncer these work too, but cost a parse on every execution: use sqlx's own
//! `query` there.

use sqlx::{
    FromRow, Postgres, SqlSafeStr,
    postgres::{PgArguments, PgRow},
    query::{Query, QueryAs, QueryScalar},
};

/// [`sqlx::query()`](https://docs.rs/sqlx/0.9/sqlx/fn.query.html) for PostgreSQL with `.persistent(false)`: the unnamed statement, never
/// a named one left on the server. Run it inside a transaction behind PgBouncer (see the
/// [module docs](self)).
pub fn query<'q>(sql: impl SqlSafeStr) -> Query<'q, Postgres, PgArguments> {
    sqlx::query(sql).persistent(false)
}

/// [`sqlx::query_as`](https://docs.rs/sqlx/0.9/sqlx/fn.query_as.html) for PostgreSQL with `.persistent(false)` (see [`query`]).
pub fn query_as<'q, O>(sql: impl SqlSafeStr) -> QueryAs<'q, Postgres, O, PgArguments>
where
    O: for<'r> FromRow<'r, PgRow>,
{
    sqlx::query_as(sql).persistent(false)
}

/// [`sqlx::query_scalar`](https://docs.rs/sqlx/0.9/sqlx/fn.query_scalar.html) for PostgreSQL with `.persistent(false)` (see [`query`]).
pub fn query_scalar<'q, O>(sql: impl SqlSafeStr) -> QueryScalar<'q, Postgres, O, PgArguments>
where
    (O,): for<'r> FromRow<'r, PgRow>,
{
    sqlx::query_scalar(sql).persistent(false)
}
