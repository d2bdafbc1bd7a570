//! Test support shared by the integration tests.

pub mod db;
pub mod memory;
pub mod pgbouncer;
pub mod proxy;
