//! How many of a multi-host pool's connections are open to each host: pool-facts's tally
//! (`pool_facts::host_tally`, the one pool-postgres keeps too), seated by this binding's
//! connections.

pub(crate) use pool_facts::host_tally::{HostSeat, HostTally};
