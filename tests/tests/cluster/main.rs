//! The tests that start a private PostgreSQL cluster of their own (a primary and a
//! streaming standby, `tests::cluster`): failover, multi-host connects, read replicas, and
//! TLS (a primary alone with `ssl = on`).
//! One binary, apart from the rest (`suite`), so their clusters never start while the
//! other tests run: `cargo test` runs the binaries one after the other.

mod cluster_harness;
mod failover;
mod failover_connect;
mod postgres_tls;
mod replicas;
