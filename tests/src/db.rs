//! Real-database support: server URLs from the environment, per-test databases.
