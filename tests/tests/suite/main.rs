//! Every other integration test of the workspace's bindings, one module a file, built as
//! one binary: the suite links sqlx and the test support once, not thirty times (most of
//! a cold `cargo test`'s time was linking and re-instantiating the same generic code per
//! binary). Filter by module: `cargo test -p tests --test suite sqlx_health::`.

mod cancelled_calls;
mod duration_grammar;
mod hostile_config;
mod hostile_sql_scan;
mod multi_host_url;
mod pgbouncer;
mod postgres_attributes;
mod postgres_binding;
mod postgres_health;
mod proxy;
mod reliability_blackout;
mod reliability_cancel;
mod reliability_exhaustion;
mod reliability_killed;
mod reliability_restart;
mod reliability_stall;
mod sqlx_classify;
mod sqlx_config;
mod sqlx_health;
mod sqlx_keepalive;
mod sqlx_macros;
mod sqlx_manager;
mod sqlx_pool_timeouts;
mod sqlx_presets;
mod sqlx_transaction;
mod start_refused;
mod transaction_matrix;
