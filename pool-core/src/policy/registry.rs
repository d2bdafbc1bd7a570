//! Named breakers: a process-wide registry, breakers declared as statics or with
//! [`breaker!`](crate::breaker), and the start-up check that every name an attribute
//! references was declared.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, OnceLock, PoisonError, RwLock},
};

use super::breaker::{BreakerConfig, CircuitBreaker};
use crate::{
    ConfigError, Rejected,
    private::{BreakerDeclaration, BreakerUse},
};

/// Breakers by name. The process-wide one is [`breakers()`]; separate registries
/// ([`BreakerRegistry::new`]) are for tests and embedding.
#[derive(Debug, Default)]
pub struct BreakerRegistry {
    breakers: RwLock<HashMap<Arc<str>, Arc<CircuitBreaker>>>,
}

/// The process-wide breaker registry.
pub fn breakers() -> &'static BreakerRegistry {
    static REGISTRY: OnceLock<BreakerRegistry> = OnceLock::new();
    REGISTRY.get_or_init(BreakerRegistry::new)
}

/// Why [`BreakerRegistry::define`] refused a breaker.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DefineError {
    /// A breaker of that name exists with a different configuration.
    #[error("circuit breaker `{name}` is already defined with a different configuration")]
    AlreadyDefined {
        /// The name.
        name: Arc<str>,
    },
    /// The configuration is invalid.
    #[error("circuit breaker `{name}`: {error}")]
    InvalidConfig {
        /// The name.
        name: Arc<str>,
        /// What is wrong.
        error: ConfigError,
    },
}

impl From<DefineError> for Rejected {
    fn from(error: DefineError) -> Self {
        match error {
            DefineError::AlreadyDefined { name } => Rejected::BreakerInvalid {
                error: ConfigError::new(
                    "breaker",
                    format!("`{name}` is declared twice with different configurations"),
                ),
                name,
            },
            DefineError::InvalidConfig { name, error } => Rejected::BreakerInvalid { name, error },
        }
    }
}

/// A breaker name used by a `#[resilient]` attribute but never declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndeclaredUse {
    /// The name.
    pub name: &'static str,
    /// The function using it.
    pub site: &'static str,
    /// The source file of the attribute.
    pub file: &'static str,
    /// Its line.
    pub line: u32,
}

/// A [`breaker!`](crate::breaker) declaration whose configuration is invalid or conflicts.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidDeclaration {
    /// The source file of the declaration.
    pub file: &'static str,
    /// Its line.
    pub line: u32,
    /// What is wrong.
    pub error: DefineError,
}

/// What [`BreakerRegistry::verify`] found wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyError {
    /// Every use of a name nobody declared.
    pub undeclared: Vec<UndeclaredUse>,
    /// Every declaration that could not be defined.
    pub invalid: Vec<InvalidDeclaration>,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("circuit breakers are misdeclared:")?;
        for u in &self.undeclared {
            write!(
                f,
                "\n  breaker `{}` is used by `{}` ({}:{}) but never declared",
                u.name, u.site, u.file, u.line
            )?;
        }
        for d in &self.invalid {
            write!(f, "\n  {} ({}:{})", d.error, d.file, d.line)?;
        }
        Ok(())
    }
}

impl std::error::Error for VerifyError {}

impl BreakerRegistry {
    /// An empty registry (declarations made with [`breaker!`](crate::breaker) are still
    /// found by name).
    pub fn new() -> Self {
        BreakerRegistry::default()
    }

    /// Defines the breaker `name`. Defining a name again with an equal configuration returns
    /// the existing breaker; with a different one it is an error.
    pub fn define(
        &self,
        name: impl Into<Arc<str>>,
        config: BreakerConfig,
    ) -> Result<Arc<CircuitBreaker>, DefineError> {
        let name = name.into();
        if let Some(existing) = self.lookup(&name) {
            return same_config(existing, &name, &config);
        }
        let breaker = CircuitBreaker::new(Arc::clone(&name), config.clone()).map_err(|error| {
            DefineError::InvalidConfig {
                name: Arc::clone(&name),
                error,
            }
        })?;
        let mut map = self
            .breakers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = map.get(&name) {
            return same_config(Arc::clone(existing), &name, &config);
        }
        let breaker = Arc::new(breaker);
        map.insert(name, Arc::clone(&breaker));
        Ok(breaker)
    }

    /// The breaker called `name`: defined in this registry, or declared with
    /// [`breaker!`](crate::breaker) (defined on first use). `None` if nobody declared it.
    pub fn get(&self, name: &str) -> Option<Arc<CircuitBreaker>> {
        if let Some(b) = self.lookup(name) {
            return Some(b);
        }
        let declaration = inventory::iter::<BreakerDeclaration>
            .into_iter()
            .find(|d| d.name == name)?;
        self.define(declaration.name, (declaration.config)()).ok()
    }

    /// Like [`get`](Self::get), telling why a name cannot be used.
    pub fn resolve(&self, name: &str) -> Result<Arc<CircuitBreaker>, Rejected> {
        if let Some(b) = self.lookup(name) {
            return Ok(b);
        }
        match inventory::iter::<BreakerDeclaration>
            .into_iter()
            .find(|d| d.name == name)
        {
            Some(d) => Ok(self.define(d.name, (d.config)())?),
            None => Err(Rejected::BreakerNotDeclared { name: name.into() }),
        }
    }

    /// The names defined so far.
    pub fn names(&self) -> Vec<Arc<str>> {
        let map = self.breakers.read().unwrap_or_else(PoisonError::into_inner);
        let mut names: Vec<_> = map.keys().cloned().collect();
        names.sort();
        names
    }

    /// The start-up check: defines every [`breaker!`](crate::breaker) declaration and lists
    /// every `#[resilient(breaker = "...")]` use of a name that is neither defined here nor
    /// declared, with where it is used. Call it after your own `define` calls.
    pub fn verify(&self) -> Result<(), VerifyError> {
        let mut invalid = Vec::new();
        for d in inventory::iter::<BreakerDeclaration> {
            if let Err(error) = self.define(d.name, (d.config)()) {
                invalid.push(InvalidDeclaration {
                    file: d.file,
                    line: d.line,
                    error,
                });
            }
        }
        let undeclared: Vec<_> = inventory::iter::<BreakerUse>
            .into_iter()
            .filter(|u| self.lookup(u.name).is_none())
            .map(|u| UndeclaredUse {
                name: u.name,
                site: u.site,
                file: u.file,
                line: u.line,
            })
            .collect();
        if undeclared.is_empty() && invalid.is_empty() {
            Ok(())
        } else {
            Err(VerifyError {
                undeclared,
                invalid,
            })
        }
    }

    fn lookup(&self, name: &str) -> Option<Arc<CircuitBreaker>> {
        let map = self.breakers.read().unwrap_or_else(PoisonError::into_inner);
        map.get(name).cloned()
    }
}

fn same_config(
    existing: Arc<CircuitBreaker>,
    name: &Arc<str>,
    config: &BreakerConfig,
) -> Result<Arc<CircuitBreaker>, DefineError> {
    if existing.config() == config {
        Ok(existing)
    } else {
        Err(DefineError::AlreadyDefined {
            name: Arc::clone(name),
        })
    }
}

/// A circuit breaker declared as a static, so that `#[resilient(breaker = PATH)]` is
/// checked by the compiler. It is defined in [`breakers()`] on first use, under its name.
///
/// ```
/// use pool_core::{BreakerConfig, DeclaredBreaker};
/// static DB: DeclaredBreaker = DeclaredBreaker::with_config("db-doc", || BreakerConfig {
///     failure_rate_threshold: 30.0,
///     ..BreakerConfig::default()
/// });
/// assert_eq!(DB.breaker().unwrap().config().failure_rate_threshold, 30.0);
/// ```
#[derive(Debug)]
pub struct DeclaredBreaker {
    name: &'static str,
    config: Option<fn() -> BreakerConfig>,
    resolved: OnceLock<Arc<CircuitBreaker>>,
}

impl DeclaredBreaker {
    /// Declares a breaker called `name`: the one defined under that name, or one with the
    /// default configuration if nobody defined it.
    pub const fn new(name: &'static str) -> Self {
        DeclaredBreaker {
            name,
            config: None,
            resolved: OnceLock::new(),
        }
    }

    /// Declares a breaker called `name` configured by `config`.
    pub const fn with_config(name: &'static str, config: fn() -> BreakerConfig) -> Self {
        DeclaredBreaker {
            name,
            config: Some(config),
            resolved: OnceLock::new(),
        }
    }

    /// The breaker's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The breaker, defining it in [`breakers()`] on first use. Fails if its configuration
    /// is invalid or conflicts with another definition of the same name.
    pub fn breaker(&self) -> Result<&Arc<CircuitBreaker>, DefineError> {
        if let Some(b) = self.resolved.get() {
            return Ok(b);
        }
        let breaker = match self.config {
            Some(config) => breakers().define(self.name, config())?,
            None => match breakers().get(self.name) {
                Some(b) => b,
                None => breakers().define(self.name, BreakerConfig::default())?,
            },
        };
        Ok(self.resolved.get_or_init(|| breaker))
    }
}

/// Declares a named circuit breaker: a `static` usable as `#[resilient(breaker = PATH)]`
/// and known by name to [`breakers()`] (so `breaker = "name"` and
/// [`verify`](BreakerRegistry::verify) find it too).
///
/// ```
/// pool_core::breaker!(pub DB = "db-macro-doc", pool_core::BreakerConfig {
///     minimum_calls: 20,
///     ..Default::default()
/// });
/// assert_eq!(pool_core::breakers().get("db-macro-doc").unwrap().config().minimum_calls, 20);
/// assert_eq!(DB.name(), "db-macro-doc");
/// ```
///
/// The name-only form `breaker!("name", config)` declares without a static.
#[macro_export]
macro_rules! breaker {
    ($vis:vis $ident:ident = $name:literal, $config:expr $(,)?) => {
        $vis static $ident: $crate::DeclaredBreaker =
            $crate::DeclaredBreaker::with_config($name, || $config);
        $crate::breaker!($name, $config);
    };
    ($vis:vis $ident:ident = $name:literal $(,)?) => {
        $crate::breaker!($vis $ident = $name, $crate::BreakerConfig::default());
    };
    ($name:literal, $config:expr $(,)?) => {
        $crate::__private::inventory::submit! {
            $crate::__private::BreakerDeclaration {
                name: $name,
                config: || $config,
                file: ::core::file!(),
                line: ::core::line!(),
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::window::SlidingWindow;

    inventory::submit! {
        BreakerUse { name: "registry-test-undeclared", site: "tests::uses_it", file: "registry.rs", line: 1 }
    }
    inventory::submit! {
        BreakerUse { name: "registry-test-by-macro", site: "tests::uses_macro", file: "registry.rs", line: 2 }
    }
    crate::breaker!(
        MACRO_DECLARED = "registry-test-by-macro",
        BreakerConfig {
            minimum_calls: 7,
            ..BreakerConfig::default()
        }
    );
    crate::breaker!(
        "registry-test-invalid",
        BreakerConfig {
            failure_rate_threshold: 0.0,
            ..BreakerConfig::default()
        }
    );

    #[test]
    fn define_then_get_returns_the_same_breaker() {
        let r = BreakerRegistry::new();
        let a = r.define("db", BreakerConfig::default()).unwrap();
        let b = r.get("db").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(r.get("nope").is_none());
        assert!(matches!(
            r.resolve("nope"),
            Err(Rejected::BreakerNotDeclared { .. })
        ));
        // Same config again: the same breaker; a different one: an error.
        assert!(Arc::ptr_eq(
            &a,
            &r.define("db", BreakerConfig::default()).unwrap()
        ));
        let other = BreakerConfig {
            sliding_window: SlidingWindow::Time(10),
            ..BreakerConfig::default()
        };
        assert!(matches!(
            r.define("db", other),
            Err(DefineError::AlreadyDefined { .. })
        ));
    }

    #[test]
    fn invalid_config_is_refused_by_define() {
        let r = BreakerRegistry::new();
        let err = r
            .define(
                "bad",
                BreakerConfig {
                    failure_rate_threshold: 150.0,
                    ..BreakerConfig::default()
                },
            )
            .unwrap_err();
        match err {
            DefineError::InvalidConfig { error, .. } => {
                assert_eq!(error.setting, "failure_rate_threshold")
            }
            other => panic!("{other:?}"),
        }
        assert!(r.get("bad").is_none());
    }

    #[test]
    fn verify_lists_undeclared_uses_and_invalid_declarations() {
        let r = BreakerRegistry::new();
        let err = r.verify().unwrap_err();
        let names: Vec<_> = err.undeclared.iter().map(|u| u.name).collect();
        assert!(names.contains(&"registry-test-undeclared"));
        assert!(
            !names.contains(&"registry-test-by-macro"),
            "declared by breaker!"
        );
        let text = err.to_string();
        assert!(text.contains("registry-test-undeclared"));
        assert!(text.contains("`tests::uses_it` (registry.rs:1)"), "{text}");
        assert!(err.invalid.iter().any(|d| matches!(
            &d.error,
            DefineError::InvalidConfig { name, .. } if &**name == "registry-test-invalid"
        )));
        r.define("registry-test-undeclared", BreakerConfig::default())
            .unwrap();
        let err = r.verify().unwrap_err();
        assert!(
            !err.undeclared
                .iter()
                .any(|u| u.name == "registry-test-undeclared")
        );
    }

    #[test]
    fn macro_declared_breakers_are_found_by_name_and_by_static() {
        let b = breakers().get("registry-test-by-macro").unwrap();
        assert_eq!(b.config().minimum_calls, 7);
        assert!(Arc::ptr_eq(&b, MACRO_DECLARED.breaker().unwrap()));
    }

    #[test]
    fn declared_breaker_without_config_uses_defaults() {
        static PLAIN: DeclaredBreaker = DeclaredBreaker::new("registry-test-plain");
        assert_eq!(PLAIN.breaker().unwrap().config(), &BreakerConfig::default());
        assert!(breakers().get("registry-test-plain").is_some());
    }
}
