//! Sizing pools across instances that share one database server's `max_connections`.

use crate::ConfigError;

/// What [`size_for_instances`] advises.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Sizing {
    /// The `max_size` each instance's pool should have.
    pub per_instance: usize,
    /// Connections all instances together may open (`per_instance × instances`).
    pub total: usize,
    /// Connections the server can give the instances (`max_connections − reserved`).
    pub available: usize,
    /// Configurations that will misbehave, in words (also logged as warnings).
    pub warnings: Vec<String>,
}

/// Divides a server's connections between `instances` identical pools.
///
/// `reserved` is kept back for administration, migrations and superuser connections
/// (PostgreSQL keeps `superuser_reserved_connections`, 3 by default, on top of this).
/// Warns when `min_idle × instances` alone would exceed what the server can give: every
/// instance would then hold idle connections others need, and new instances would fail
/// to start.
pub fn size_for_instances(
    max_connections: usize,
    reserved: usize,
    instances: usize,
    min_idle: usize,
) -> Result<Sizing, ConfigError> {
    if instances == 0 {
        return Err(ConfigError::new("instances", "must be at least 1"));
    }
    let available = max_connections
        .checked_sub(reserved)
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            ConfigError::new(
                "reserved",
                format!(
                    "is {reserved}, leaving none of the server's {max_connections} connections"
                ),
            )
        })?;
    let per_instance = available / instances;
    if per_instance == 0 {
        return Err(ConfigError::new(
            "instances",
            format!(
                "{instances} instances cannot each have a connection of the {available} available"
            ),
        ));
    }
    let mut warnings = Vec::new();
    let idle_total = min_idle.saturating_mul(instances);
    if idle_total > available {
        warnings.push(format!(
            "min_idle {min_idle} × {instances} instances = {idle_total} idle connections, \
             more than the {available} the server can give"
        ));
    }
    if min_idle > per_instance {
        warnings.push(format!(
            "min_idle {min_idle} is above the per-instance max_size {per_instance}"
        ));
    }
    for warning in &warnings {
        tracing::warn!(max_connections, reserved, instances, "{warning}");
    }
    Ok(Sizing {
        per_instance,
        total: per_instance * instances,
        available,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divides_what_is_left_after_the_reserve() {
        let sizing = size_for_instances(100, 10, 8, 0).unwrap();
        assert_eq!(
            (sizing.per_instance, sizing.total, sizing.available),
            (11, 88, 90)
        );
        assert!(sizing.warnings.is_empty());
    }

    #[test]
    fn warns_when_idle_connections_alone_exceed_the_server() {
        let sizing = size_for_instances(100, 0, 20, 6).unwrap();
        assert_eq!(sizing.per_instance, 5);
        assert_eq!(sizing.warnings.len(), 2, "{:?}", sizing.warnings);
        assert!(sizing.warnings[0].contains("120 idle connections"));
    }

    #[test]
    fn impossible_layouts_are_errors_naming_the_input() {
        assert_eq!(
            size_for_instances(100, 0, 0, 0).unwrap_err().setting,
            "instances"
        );
        assert_eq!(
            size_for_instances(10, 10, 1, 0).unwrap_err().setting,
            "reserved"
        );
        assert_eq!(
            size_for_instances(10, 20, 1, 0).unwrap_err().setting,
            "reserved"
        );
        assert_eq!(
            size_for_instances(10, 2, 9, 0).unwrap_err().setting,
            "instances"
        );
    }
}
