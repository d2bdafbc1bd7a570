//! Support for the attributes' tests on pool-core's own route: an in-memory manager
//! ([`memory`]) whose every step can be scripted.

pub mod memory;
