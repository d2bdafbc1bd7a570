//! Test support shared by the integration tests.

pub mod db;
pub mod figures;
pub mod memory;
pub mod pgbouncer;
pub mod proxy;
pub mod reliability;
