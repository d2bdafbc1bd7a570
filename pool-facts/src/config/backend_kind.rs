//! Which backend a URL names.

/// Which backend a URL names, by its scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `mysql://` or `mariadb://`.
    MySql,
    /// `sqlite:`.
    Sqlite,
}

impl BackendKind {
    /// A short lower-case name: `postgres`, `mysql`, `sqlite`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Postgres => "postgres",
            BackendKind::MySql => "mysql",
            BackendKind::Sqlite => "sqlite",
        }
    }
}
