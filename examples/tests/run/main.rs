//! The examples run the way a person runs them: the very binaries `cargo run --example`
//! starts, without flags, their output read as a person reads it.
//!
//! The binaries are the ones `cargo test` builds beside this test (in `target/…/examples/`,
//! see `tests::example_run::example`): building them a second time, as bins of another
//! package, cost a cold `cargo test` some 27 s of compiling.

mod quickstart;
mod serverless;
mod service;
mod spans;
