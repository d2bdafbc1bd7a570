//! `pool-core` bound to sqlx for PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! Depend on this crate alone: it re-exports the pool, the policies and the macros.

pub use pool_core::*;
pub use pool_macros::{pooled, resilient};
pub use sqlx;
