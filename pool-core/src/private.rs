//! Support for the code `pool-macros` generates. Not public API: no stability promised.

use std::sync::OnceLock;

use crate::Resilience;

pub use inventory;

/// The policy of one `#[resilient]` call site, built on first use and cached in a static.
#[derive(Debug)]
pub struct CallSite {
    init: fn() -> Resilience,
    policy: OnceLock<Resilience>,
}

impl CallSite {
    /// A call site whose policy `init` builds.
    pub const fn new(init: fn() -> Resilience) -> Self {
        CallSite {
            init,
            policy: OnceLock::new(),
        }
    }

    /// The call site's policy.
    pub fn get(&self) -> &Resilience {
        self.policy.get_or_init(self.init)
    }
}

/// A breaker name referenced by a `#[resilient(breaker = "...")]` attribute, collected
/// so `breakers().verify()` can list the names nobody declared.
#[derive(Debug)]
pub struct BreakerUse {
    /// The breaker name.
    pub name: &'static str,
    /// The function that uses it (module path and name).
    pub site: &'static str,
    /// Where the attribute is.
    pub file: &'static str,
    /// The line of the attribute.
    pub line: u32,
}

inventory::collect!(BreakerUse);

/// Passes an owned argument to the next attempt of a retried call.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is passed by value to a `#[resilient]` function that retries, so it must be `Clone`",
    label = "each attempt needs its own copy of this argument",
    note = "take it by reference, make it `Clone`, or set `retries = 0`"
)]
pub trait RetryArgument {
    /// A copy for one attempt.
    fn for_attempt(&self) -> Self;
}

impl<T: Clone> RetryArgument for T {
    fn for_attempt(&self) -> Self {
        self.clone()
    }
}

/// A breaker declared with `pool_core::breaker!`, collected so that `breakers().get(name)`
/// and `breakers().verify()` know it by name.
#[derive(Debug)]
pub struct BreakerDeclaration {
    /// The breaker name.
    pub name: &'static str,
    /// Its configuration.
    pub config: fn() -> crate::BreakerConfig,
    /// Where it is declared.
    pub file: &'static str,
    /// The line of the declaration.
    pub line: u32,
}

inventory::collect!(BreakerDeclaration);
