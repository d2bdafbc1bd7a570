//! PostgreSQL's TLS parameters (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`, and the
//! spellings sqlx reads besides them), read once here so that a binding which does its
//! own TLS (pool-postgres) reads the same names and values as sqlx does for pool-sqlx.

use std::path::PathBuf;

use pool_core::ConfigError;

use super::{BackendKind, Config};

/// libpq's `sslmode`: whether a connect uses TLS, and what it verifies.
///
/// | mode | TLS | the certificate |
/// |---|---|---|
/// | `disable` | never | |
/// | `allow` | no (libpq: plain first, TLS if the server insists; read as `disable` by sqlx and pool-postgres) | |
/// | `prefer` (libpq's and sqlx's default) | when the server offers it, else plain | not verified |
/// | `require` | always; a server without TLS is an error | not verified, unless `sslrootcert` is given: then as `verify-ca` (libpq's rule) |
/// | `verify-ca` | always | chain verified against `sslrootcert` |
/// | `verify-full` | always | chain verified, and the host name against the certificate |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SslMode {
    /// `disable`.
    Disable,
    /// `allow`.
    Allow,
    /// `prefer`, libpq's default and sqlx's.
    #[default]
    Prefer,
    /// `require`.
    Require,
    /// `verify-ca`.
    VerifyCa,
    /// `verify-full`.
    VerifyFull,
}

impl SslMode {
    /// Reads a value as sqlx does (ASCII case ignored).
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        Ok(match &*value.to_ascii_lowercase() {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => {
                return Err(ConfigError::new(
                    "sslmode",
                    format!(
                        "must be disable, allow, prefer, require, verify-ca or verify-full, \
                         not `{value}`"
                    ),
                ));
            }
        })
    }

    /// The URL's spelling.
    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// The `sslmode` of a PostgreSQL URL that sets none: `prefer` (try TLS, fall back to
/// plain text on a server that refuses it), libpq's rule. pool-postgres reads it through
/// [`PostgresTls::effective_mode`]; pool-sqlx hands the URL to sqlx, whose default is the
/// same (a test in the workspace's `tests` holds the two together).
pub const DEFAULT_SSL_MODE: SslMode = SslMode::Prefer;

/// The TLS parameters of a PostgreSQL URL, as read by [`Config::postgres_tls`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PostgresTls {
    /// `sslmode` / `ssl-mode`; `None` when the URL sets neither, read as
    /// [`DEFAULT_SSL_MODE`] (see [`effective_mode`](Self::effective_mode)).
    pub mode: Option<SslMode>,
    /// `sslrootcert` / `ssl-root-cert` / `ssl-ca`: a PEM file of the certificates to
    /// trust.
    pub root_cert: Option<PathBuf>,
    /// `sslcert` / `ssl-cert`: the client's certificate.
    pub client_cert: Option<PathBuf>,
    /// `sslkey` / `ssl-key`: the client's key.
    pub client_key: Option<PathBuf>,
}

impl PostgresTls {
    /// The mode in force: the URL's, else [`DEFAULT_SSL_MODE`].
    pub fn effective_mode(&self) -> SslMode {
        self.mode.unwrap_or(DEFAULT_SSL_MODE)
    }
}

/// Every query key [`Config::postgres_tls`] reads, so that a binding handing the rest of
/// the URL to a driver knows what to leave out.
pub const POSTGRES_TLS_PARAMETERS: [&str; 9] = [
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
];

impl Config {
    /// The URL's TLS parameters, read with the names and the precedence sqlx 0.9 uses
    /// (the last occurrence wins). `None` for a URL that is not PostgreSQL's.
    pub fn postgres_tls(&self) -> Option<Result<PostgresTls, ConfigError>> {
        if self.kind != BackendKind::Postgres {
            return None;
        }
        let mut tls = PostgresTls::default();
        for (key, value) in self.url.query_pairs() {
            let path = || Some(PathBuf::from(&*value));
            match &*key {
                "sslmode" | "ssl-mode" => match SslMode::parse(&value) {
                    Ok(mode) => tls.mode = Some(mode),
                    // Named as the URL spells it: the key the caller can find.
                    Err(mut error) => {
                        if key == "ssl-mode" {
                            error.setting = "ssl-mode";
                        }
                        return Some(Err(error));
                    }
                },
                "sslrootcert" | "ssl-root-cert" | "ssl-ca" => tls.root_cert = path(),
                "sslcert" | "ssl-cert" => tls.client_cert = path(),
                "sslkey" | "ssl-key" => tls.client_key = path(),
                _ => {}
            }
        }
        Some(Ok(tls))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{Config, SslMode};

    #[test]
    fn reads_the_modes_and_the_spellings_sqlx_reads() {
        let read = |url: &str| {
            Config::from_url(url)
                .ok()
                .and_then(|config| config.postgres_tls())
                .map(|tls| tls.map_err(|error| error.to_string()))
        };
        let default = read("postgres://h/db").and_then(Result::ok);
        assert_eq!(
            default.map(|tls| (tls.mode, tls.effective_mode())),
            Some((None, SslMode::Prefer))
        );
        let tls = read("postgres://h/db?ssl-mode=Verify-Full&ssl-ca=/ca.pem&sslmode=verify-ca")
            .and_then(Result::ok);
        assert_eq!(
            tls.map(|tls| (tls.mode, tls.root_cert)),
            Some((Some(SslMode::VerifyCa), Some(PathBuf::from("/ca.pem"))))
        );
        let bad = read("postgres://u:pw@h/db?sslmode=requir").and_then(Result::err);
        assert!(
            bad.as_deref()
                .is_some_and(|message| message.contains("`requir`")
                    && message.contains("sslmode")
                    && !message.contains("pw")),
            "{bad:?}"
        );
        let bad = read("postgres://h/db?ssl-mode=").and_then(Result::err);
        assert!(
            bad.as_deref().is_some_and(|m| m.contains("`ssl-mode`")),
            "{bad:?}"
        );
        assert_eq!(read("mysql://h/db?sslmode=REQUIRED"), None);
    }
}
