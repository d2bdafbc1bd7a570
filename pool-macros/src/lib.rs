//! `#[resilient(...)]` and `#[pooled(...)]`: attribute macros for repository functions.
//!
//! ```ignore
//! use pool_sqlx::{pooled, resilient};
//!
//! #[resilient(retries = 3, backoff = "exponential", timeout = "2s", breaker = "db")]
//! #[pooled]
//! async fn find_user(conn: &mut PgConnection, id: i64) -> Result<User, DbError> {
//!     sqlx::query_as("SELECT ...").bind(id).fetch_one(&mut *conn).await.map_err(Into::into)
//! }
//! // called as: find_user(&pool, 42).await
//! ```
//!
//! This crate parses and expands only; all behaviour lives in `pool-core`
//! (`Resilience`, `Pool`). Depend on one binding, `pool-sqlx` or `pool-postgres` (each
//! re-exports these macros), or on `pool-core` and this crate: the expansion names the
//! runtime crate present. With both bindings, name one per attribute (`crate = pool_sqlx`)
//! or for the whole package in its `Cargo.toml`:
//!
//! ```toml
//! [package.metadata.pool-macros]
//! crate = "pool_sqlx"
//! ```
//!
//! Without either, each attribute is one error saying so. `crate = path` on an attribute
//! wins over the package's default.
//!
//! # `#[resilient(...)]`
//!
//! On an `async fn` returning `Result<T, E>` with `E: Classify + From<Rejected>`, spelled
//! out or through an alias (`DbResult<T>`: the compiler checks the type through
//! `ReturnsResult`, not its name). The body becomes one *attempt*; the function runs attempts under the call site's policy, built
//! once on first call and cached in a `static` (a named breaker is resolved once, not
//! looked up per call). `?` and `return` in the body end the attempt, not the call.
//!
//! | key | value | meaning | default |
//! |---|---|---|---|
//! | `retries` | integer `0..=100` | retries after the first attempt (attempts = retries + 1) | `0` |
//! | `backoff` | `"fixed"`, `"exponential"`, `"decorrelated"` | how the delay between attempts grows | `"exponential"` |
//! | `base` | duration | the first delay | `"100ms"` |
//! | `max_delay` | duration | the cap on one delay | `"5s"` |
//! | `jitter` | `"none"`, `"full"`, `"equal"` | randomness applied to each delay | `"full"` |
//! | `timeout` | duration | time limit of one attempt (`Rejected::Timeout`) | none |
//! | `deadline` | duration | time limit of the whole call, delays included (`Rejected::DeadlineExceeded`) | none |
//! | `slow_call` | duration | a call slower than this logs a `pool_core::slow` warning naming the function and the time taken, and counts in `pool_slow_calls_total` | the global default, 1 s (`set_default_slow_call_threshold`) |
//! | `breaker` | `"name"` or a path | the circuit breaker: declared by name (`breakers().define`, `breaker!`), or a `static NAME: DeclaredBreaker` (checked by the compiler) | none |
//! | `bulkhead` | integer `1..=1000000` | most calls of this function in flight at once (`Rejected::BulkheadFull`) | none |
//! | `idempotent` | flag, or `true`/`false` | the work may be retried even when a failure leaves unknown whether it was applied (a lost connection, a timeout) | `false` |
//! | `retry_if` | path to `fn(&E) -> bool` | must also agree before a failure is retried | none |
//! | `metrics` | string | the label of metrics, logs and the bulkhead | `module_path!()::fn_name` |
//! | `crate` | path | the runtime crate | `::pool_sqlx`, else `::pool_core` |
//!
//! Durations are strings of `<integer><unit>` parts, units `ns`, `us`, `ms`, `s`, `m`,
//! `h`, `d`: `"250ms"`, `"2s"`, `"1m30s"`. They are parsed at compile time.
//!
//! Arguments are handed to each attempt again: `&T` is copied, `&mut T` re-borrowed, and a
//! value taken by value is cloned (so it must be `Clone`; the compiler says which one is
//! not). Each attempt gets a fresh clone, not what the previous attempt left. Without
//! retries (`retries = 0`, the default) nothing is cloned. A receiver taken by value
//! (`self`, `self: Arc<Self>`) is cloned for each attempt the same way. A retried function
//! cannot return a `&mut` borrowed from a `&mut` argument (the next attempt borrows it
//! again): that is an error on the returned `&mut`.
//!
//! Inner attributes of the body stay inside the generated function. Generated locals are
//! `Span::mixed_site()`: an argument called `__pool_conn` neither sees nor shadows
//! the expansion's own.
//!
//! Mistakes are compile errors on the offending token: unknown keys (with "did you mean"),
//! repeated keys, wrong value types, negative or absurd numbers, bad durations, an empty
//! breaker name, backoff keys with `retries = 0`, `base > max_delay`, `timeout > deadline`,
//! a non-`async`, `const`, `unsafe`, `extern` or variadic function, a return type that
//! is not a `Result`, or a second `#[resilient]` on the same function. A body with a
//! syntax error is expanded around its tokens as written, so rustc reports that error
//! alone and callers still find the function.
//!
//! Breaker names used as strings are registered (with `inventory`), so
//! `breakers().verify()` at start-up lists every name used but never declared.
//!
//! ## With `#[async_trait]`
//!
//! On a method of an impl marked `#[async_trait]`, the impl-level attribute expands first:
//! `#[resilient]` then sees a plain `fn` returning `Pin<Box<dyn Future + Send>>` whose body
//! is `Box::pin(async move { .. })`, recognises it (as `tracing-attributes` does) and runs
//! the attempts inside that boxed future. `&self` and `&mut self` work; the future stays
//! `Send` when the arguments are.
//!
//! ```ignore
//! #[async_trait]
//! impl Store for Repo {
//!     #[resilient(retries = 3, timeout = "1s")]
//!     async fn get(&self, key: u64) -> Result<Row, DbError> { .. }
//! }
//! ```
//!
//! # `#[pooled]`, `#[pooled(pool = PATH)]`, `#[pooled(transaction)]`, `#[pooled(read)]`
//!
//! The body's first argument (after `self`) is the connection, `conn: &mut C`. The
//! generated function takes the pool of `C`'s manager in its place — `&PgPool` for
//! `&mut PgConnection` on pool-sqlx, `&PostgresPool` for `&mut pool_postgres::Client` on
//! pool-postgres, `&Pool<M>` for a connection type of your own that implements
//! `pool_core::PooledConnection` — checks a connection out, runs the body and returns it.
//! A pool of another backend is then one type mismatch at the call. The checkout's
//! failure converts into `E` through the binding's error (`E: From<pool_sqlx::Error>`;
//! on pool-core, `E: From<PoolError<M::Error>>`), checked at the definition. A connection
//! whose operation is cut short (the future dropped by a timeout or cancellation, or a
//! panic) or that fails with a `Connection`-class error is discarded, never reused.
//!
//! | key | value | meaning | default |
//! |---|---|---|---|
//! | `pool` | path to a `static GlobalPool<M>` | use that process-wide pool; the function loses the pool argument (`PoolError::NotInitialized` before `init`) | a `&Pool<M>` argument, `M` the connection type's manager |
//! | `transaction` | flag, or `true`/`false` | run the body in a transaction: begin, commit on `Ok`, roll back on `Err` (`M: TransactionManager`, `E: From<M::TransactionError>`), by the runtime's transaction engine (`pool_core::transaction`), which also decides what each failure means for a retry | `false` |
//! | `read` | flag, or `true`/`false` | the function reads: it takes `source: &R` for any `R: ReadSource` in place of the connection and checks out from the pool `source.read_pool()` picks, asked anew for each attempt — a `&Replicas` reads from its next qualifying replica (or the primary), a `&Pool` from itself. Not with `transaction` (a transaction belongs on the primary) or `pool = PATH` (compile errors on `read`) | `false` |
//! | `crate` | path | the runtime crate: `pool_sqlx`, `pool_postgres`, `pool_core` | the one the package depends on, or its `[package.metadata.pool-macros]` default |
//!
//! Under `#[resilient]` (written above it), every attempt checks out its own connection,
//! and a checkout failure is a failure before the work was sent: safe to retry.
//! `#[pooled]` is not supported on `#[async_trait]` methods yet: put it on a free function
//! and call that.

use proc_macro::TokenStream;

mod body;
mod duration;
mod krate;
mod meta;
mod pooled;
mod resilient;
mod target;

/// Runs an `async fn` under a retry / circuit-breaker / timeout / bulkhead policy built
/// once per call site. See the [crate documentation](crate) for every key.
#[proc_macro_attribute]
pub fn resilient(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    resilient::expand(args.into(), item.clone())
        .unwrap_or_else(|error| target::on_error(error, item))
        .into()
}

/// Checks a connection out of a pool for the body of an `async fn` whose first argument
/// is the connection; optionally in a transaction. See the [crate documentation](crate).
#[proc_macro_attribute]
pub fn pooled(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    pooled::expand(args.into(), item.clone())
        .unwrap_or_else(|error| target::on_error(error, item))
        .into()
}
