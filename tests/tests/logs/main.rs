//! The tests that read everything the process logs (`tests::capture`, one global
//! subscriber at TRACE): the slow-query log of both bindings, and the redaction of
//! passwords from logs.
//! A binary of their own, so the rest of the suite is not logged at TRACE.

mod hostile_redaction;
mod postgres_slow_query;
mod sqlx_slow_query;
