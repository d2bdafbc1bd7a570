//! Process-wide pools: one per name, initialised once, usable from `#[pooled(pool = PATH)]`.

use std::{fmt, sync::OnceLock};

use crate::{Manager, Pool, PoolError};

/// A process-wide pool in a `static`, initialised once at start-up.
///
/// ```ignore
/// static DB: GlobalPool<MyManager> = GlobalPool::new("db");
/// DB.init(Pool::builder(manager).build()?)?;
/// let conn = DB.get()?.get().await?;
/// ```
pub struct GlobalPool<M: Manager> {
    name: &'static str,
    pool: OnceLock<Pool<M>>,
}

/// A second `init` of the same [`GlobalPool`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the process-wide pool `{name}` is already initialised")]
pub struct AlreadyInitialized {
    /// The pool's name.
    pub name: &'static str,
}

impl<M: Manager> GlobalPool<M> {
    /// An uninitialised pool called `name`.
    pub const fn new(name: &'static str) -> Self {
        GlobalPool {
            name,
            pool: OnceLock::new(),
        }
    }

    /// The name it was declared with.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Installs the pool. A second call is an error and leaves the first pool in place.
    pub fn init(&self, pool: Pool<M>) -> Result<&Pool<M>, AlreadyInitialized> {
        let mut installed = false;
        let current = self.pool.get_or_init(|| {
            installed = true;
            pool
        });
        if installed {
            Ok(current)
        } else {
            Err(AlreadyInitialized { name: self.name })
        }
    }

    /// The pool, or [`PoolError::NotInitialized`] before `init`.
    pub fn get(&self) -> Result<&Pool<M>, PoolError<M::Error>> {
        self.pool
            .get()
            .ok_or(PoolError::NotInitialized { name: self.name })
    }

    /// Whether `init` has run.
    pub fn is_initialized(&self) -> bool {
        self.pool.get().is_some()
    }
}

impl<M: Manager> fmt::Debug for GlobalPool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GlobalPool")
            .field("name", &self.name)
            .field("initialized", &self.is_initialized())
            .finish()
    }
}
