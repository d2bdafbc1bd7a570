//! `Preset`: the starting points of a pool's settings.

use std::{fmt, time::Duration};

use pool_core::{ConfigError, MetricNames, Validation, defaults};

/// Starting points for a pool's settings; URL parameters override them.
///
/// Chosen in code ([`Config::with_preset`](super::Config::with_preset)) or from the `POOL_PRESET` environment
/// variable ([`Preset::from_env`], [`Config::from_env`](super::Config::from_env)); [`Config::settings`](super::Config::settings) shows the
/// values in force.
///
/// A preset is a set of changes to `PoolBuilder`'s defaults
/// (`pool_core::defaults`): what it does not change is the builder's default.
/// `tests/tests/suite/sqlx_presets.rs` renders this table (and the README's) from the code and
/// fails when either differs.
///
/// | preset | `max_size` | `acquire_timeout` | `connect_timeout` | validation | `idle_timeout` | `max_lifetime` |
/// |---|---|---|---|---|---|---|
/// | `production` | 10 | 30 s | 10 s | if idle > 500 ms | 10 min | 30 min |
/// | `development` | 5 | 5 s | 10 s | every checkout | 10 min | 30 min |
/// | `test` | 4 | 5 s | 5 s | if idle > 500 ms | 1 min | 30 min |
/// | `serverless` | 1 | 5 s | 10 s | if idle > 500 ms | 30 s | 5 min |
///
/// Every preset is lazy (`min_idle` 0): nothing is opened until the first checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// The builder's defaults, unchanged (HikariCP's timings).
    Production,
    /// Small and quick to fail: fewer connections, a short acquire timeout, every
    /// checkout validated.
    Development,
    /// For test suites: few connections, short acquire and connect timeouts, idle
    /// connections closed soon.
    Test,
    /// One lazily opened connection, a short acquire timeout, closed soon when idle
    /// (functions that freeze) and replaced well before a server's own idle cut-off.
    Serverless,
}

/// A `POOL_PRESET` (or [`Preset::from_str`](std::str::FromStr)) value that names no
/// preset. Its message lists the choices, and names the one meant when the value is a
/// near miss of it (`prodution`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} is `{value}`; {}", expected(*.suggestion))]
#[non_exhaustive]
pub struct UnknownPreset {
    /// Where the value came from: `POOL_PRESET`, or `preset` when parsed directly.
    pub variable: &'static str,
    /// The value given.
    pub value: String,
    /// The preset the value is a near miss of, if it is one.
    pub suggestion: Option<Preset>,
}

fn expected(suggestion: Option<Preset>) -> String {
    let choices = "production, development, test, serverless (any case)";
    match suggestion {
        Some(preset) => format!("did you mean `{preset}`? (expected one of: {choices})"),
        None => format!("expected one of: {choices}"),
    }
}

impl UnknownPreset {
    fn new(variable: &'static str, value: String) -> Self {
        let names = Preset::ALL.map(Preset::name);
        let suggestion = pool_suggest::closest(value.trim(), &names, pool_suggest::config_distance)
            .and_then(|name| Preset::ALL.into_iter().find(|preset| preset.name() == name));
        UnknownPreset {
            variable,
            value,
            suggestion,
        }
    }
}

impl From<UnknownPreset> for ConfigError {
    fn from(error: UnknownPreset) -> Self {
        ConfigError::new(error.variable, error.to_string())
    }
}

impl Preset {
    /// The environment variable [`Preset::from_env`] reads.
    pub const VARIABLE: &'static str = "POOL_PRESET";

    /// Every preset, in the order the error message lists them.
    pub const ALL: [Preset; 4] = [
        Preset::Production,
        Preset::Development,
        Preset::Test,
        Preset::Serverless,
    ];

    /// `production`, `development`, `test` or `serverless`.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Production => "production",
            Preset::Development => "development",
            Preset::Test => "test",
            Preset::Serverless => "serverless",
        }
    }

    /// Reads `POOL_PRESET`: `Ok(None)` when it is unset or empty, the preset it names
    /// (case-insensitive, surrounding spaces ignored), or an [`UnknownPreset`] naming the
    /// variable and listing the choices.
    pub fn from_env() -> Result<Option<Preset>, UnknownPreset> {
        match std::env::var(Self::VARIABLE) {
            Ok(value) => Self::from_env_value(Some(&value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(value)) => Err(UnknownPreset::new(
                Self::VARIABLE,
                value.to_string_lossy().into_owned(),
            )),
        }
    }

    /// What [`from_env`](Self::from_env) makes of `value` (the variable's content, or
    /// `None` when unset), without touching the environment.
    pub fn from_env_value(value: Option<&str>) -> Result<Option<Preset>, UnknownPreset> {
        match value.map(str::trim) {
            None | Some("") => Ok(None),
            Some(value) => Self::parse_named(value, Self::VARIABLE).map(Some),
        }
    }

    fn parse_named(value: &str, variable: &'static str) -> Result<Preset, UnknownPreset> {
        Self::ALL
            .into_iter()
            .find(|preset| preset.name().eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| UnknownPreset::new(variable, value.to_owned()))
    }

    /// The settings this preset starts from (before URL parameters): the builder's
    /// defaults with this preset's changes, and nothing else, written out.
    pub(super) fn settings(self) -> PoolSettings {
        let defaults = PoolSettings::BUILDER_DEFAULTS;
        match self {
            Preset::Production => defaults,
            Preset::Development => PoolSettings {
                max_size: 5,
                acquire_timeout: Duration::from_secs(5),
                validation: Validation::Always,
                ..defaults
            },
            Preset::Test => PoolSettings {
                max_size: 4,
                acquire_timeout: Duration::from_secs(5),
                connect_timeout: Duration::from_secs(5),
                idle_timeout: Some(Duration::from_secs(60)),
                ..defaults
            },
            Preset::Serverless => PoolSettings {
                max_size: 1,
                acquire_timeout: Duration::from_secs(5),
                idle_timeout: Some(Duration::from_secs(30)),
                max_lifetime: Some(Duration::from_secs(300)),
                ..defaults
            },
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = UnknownPreset;

    /// Case-insensitive: `Serverless`, `SERVERLESS` and `serverless` are the same.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse_named(value, "preset")
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The pool builder's settings a preset and a URL can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PoolSettings {
    pub(super) max_size: usize,
    pub(super) min_idle: usize,
    pub(super) acquire_timeout: Duration,
    pub(super) connect_timeout: Duration,
    pub(super) validation: Validation,
    pub(super) idle_timeout: Option<Duration>,
    pub(super) max_lifetime: Option<Duration>,
    pub(super) keepalive: Option<Duration>,
    /// The adaptive limit's floor; `None`: a fixed `max_size`.
    pub(super) adaptive_floor: Option<usize>,
    /// Which names the pool's metrics go by.
    pub(super) metric_names: MetricNames,
}

impl PoolSettings {
    /// What a `PoolBuilder` starts from, read from its one owner.
    const BUILDER_DEFAULTS: PoolSettings = PoolSettings {
        max_size: defaults::MAX_SIZE,
        min_idle: defaults::MIN_IDLE,
        acquire_timeout: defaults::ACQUIRE_TIMEOUT,
        connect_timeout: defaults::CONNECT_TIMEOUT,
        validation: defaults::VALIDATION,
        idle_timeout: defaults::IDLE_TIMEOUT,
        max_lifetime: defaults::MAX_LIFETIME,
        keepalive: defaults::KEEPALIVE,
        adaptive_floor: defaults::ADAPTIVE_LIMIT,
        metric_names: defaults::METRIC_NAMES,
    };
}
