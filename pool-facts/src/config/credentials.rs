//! A URL's user name and password must be text: the rule both bindings follow.
//!
//! A password is percent-encoded in a URL, and its bytes may decode to something that is
//! not UTF-8 (`%FF`). sqlx refuses such a password; tokio-postgres took the bytes as they
//! were (and the `url` crate's query reading replaces them with U+FFFD, sending another
//! password than the one written). Refusing it here, before either driver sees the URL,
//! gives one answer on both bindings.

use pool_core::ConfigError;
use url::Url;

/// The query keys that carry a credential (libpq's and sqlx's PostgreSQL spelling).
const CREDENTIAL_KEYS: [&str; 2] = ["user", "password"];

/// Refuses a user name or password of `url` (in its authority or its query) that is not
/// UTF-8 once percent-decoded, naming the field and never its value.
pub(super) fn check(url: &Url) -> Result<(), ConfigError> {
    let refused = |field: &str| {
        ConfigError::new(
            "url",
            format!(
                "has a `{field}` that is not UTF-8 text once percent-decoded (a `%FF` and the \
                 like); write it as UTF-8, percent-encoded"
            ),
        )
    };
    if !decodes_to_utf8(url.username()) {
        return Err(refused("user"));
    }
    if url
        .password()
        .is_some_and(|password| !decodes_to_utf8(password))
    {
        return Err(refused("password"));
    }
    for pair in url.query().unwrap_or_default().split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if let Some(field) = CREDENTIAL_KEYS.iter().find(|field| **field == key)
            && !decodes_to_utf8(value)
        {
            return Err(refused(field));
        }
    }
    Ok(())
}

/// Whether percent-decoding `raw` gives UTF-8 (a `%` not followed by two hex digits is
/// taken as itself, as the `url` crate takes it).
fn decodes_to_utf8(raw: &str) -> bool {
    if !raw.contains('%') {
        return true;
    }
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        let hex = |offset: usize| {
            bytes
                .get(at + offset)
                .and_then(|digit| char::from(*digit).to_digit(16))
                .and_then(|digit| u8::try_from(digit).ok())
        };
        match (byte, hex(1), hex(2)) {
            (b'%', Some(high), Some(low)) => {
                // Two hex digits are at most 0xFF: no overflow.
                decoded.push(high * 16 + low);
                at += 3;
            }
            _ => {
                decoded.push(byte);
                at += 1;
            }
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    #[test]
    fn a_credential_that_is_not_utf8_is_refused_by_name_never_shown() {
        for (url, field) in [
            ("postgres://u:%FF%FEsecret@h/db", "`password`"),
            ("postgres://%ffsecret:pw@h/db", "`user`"),
            ("postgres://h/db?password=secret%C3", "`password`"),
            ("postgres://h/db?sslmode=prefer&user=%FFsecret", "`user`"),
            ("mysql://u:secret%80@h/db", "`password`"),
        ] {
            let error = Config::from_url(url).map(|_| ()).expect_err(url);
            let message = error.to_string();
            assert_eq!(error.setting, "url", "{url}: {message}");
            assert!(message.contains(field), "{url}: {message}");
            assert!(!message.contains("secret"), "{url}: {message}");
        }
        for url in [
            "postgres://u:p%C3%A4ss%25w0rd@h/db",
            "postgres://%C3%BCser:pw@h/db",
            "postgres://u:100%@h/db",
            "postgres://h/db?password=%E2%82%AC&application_name=%FF",
        ] {
            assert!(Config::from_url(url).is_ok(), "{url}");
        }
    }
}
