//! A driver's refusal of the URL it was handed, put as one line naming the part at fault.

use pool_core::ConfigError;
use url::Url;

/// The configuration error for a driver (`driver`, as the message names it) that refused
/// `driver_url` with `error`: drivers do not always say which parameter is at fault (sqlx,
/// for `port=abc`: "invalid digit found in string"; tokio-postgres, for anything:
/// "invalid connection string"), so the query parameter that fails on its own is found
/// with `parses` (does the driver accept this URL?) and named, or else the user name or
/// password. Every binding words the refusal with this, so a bad URL reads the same
/// whichever binding was given it.
///
/// Only a parameter's name is added, never a value, so a password cannot be echoed;
/// `error` must not carry one either (neither driver's URL errors do).
pub fn driver_refusal(
    driver_url: &str,
    driver: &str,
    error: &str,
    parses: impl Fn(&str) -> bool,
) -> ConfigError {
    let problem = match Url::parse(driver_url)
        .ok()
        .and_then(|url| culprit(&url, driver, &parses))
    {
        Some(culprit) => format!("has {culprit}: {error}"),
        None => format!("cannot be used by {driver}: {error}"),
    };
    ConfigError::new("url", problem)
}

/// What alone makes `url` fail to parse, in words: a query parameter, else the password,
/// else the user name.
fn culprit(url: &Url, driver: &str, parses: &impl Fn(&str) -> bool) -> Option<String> {
    let mut base = url.clone();
    base.set_query(None);
    if parses(base.as_str()) {
        return url.query_pairs().find_map(|(key, value)| {
            let mut alone = base.clone();
            alone.query_pairs_mut().append_pair(&key, &value);
            (!parses(alone.as_str())).then(|| format!("a bad `{key}` parameter"))
        });
    }
    let mut no_password = base.clone();
    let _ = no_password.set_password(None);
    let mut anonymous = no_password.clone();
    let _ = anonymous.set_username("");
    if parses(no_password.as_str()) {
        Some(format!("a `password` {driver} cannot read"))
    } else if parses(anonymous.as_str()) {
        Some(format!("a `user` name {driver} cannot read"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::driver_refusal;

    /// A driver that knows `port` (digits only) and nothing else.
    fn strict(url: &str) -> bool {
        url::Url::parse(url).is_ok_and(|url| {
            url.query_pairs()
                .all(|(key, value)| key == "port" && value.bytes().all(|b| b.is_ascii_digit()))
        })
    }

    #[test]
    fn names_the_parameter_that_fails_alone_never_a_value() {
        let error = driver_refusal(
            "postgres://u:secret@h/db?port=5432&foo=hidden&port=abc",
            "the driver",
            "invalid connection string",
            strict,
        );
        assert_eq!(error.setting, "url");
        let message = error.to_string();
        assert!(
            message.contains("has a bad `foo` parameter: invalid connection string"),
            "{message}"
        );
        assert!(
            !message.contains("secret") && !message.contains("hidden"),
            "{message}"
        );
        let whole = driver_refusal("postgres://h/db", "the driver", "no", |_| false);
        assert!(
            whole
                .to_string()
                .contains("cannot be used by the driver: no"),
            "{whole}"
        );
        let password = driver_refusal("postgres://u:p@h/db", "d", "bad", |url: &str| {
            !url.contains(":p@")
        });
        assert!(password.to_string().contains("`password`"), "{password}");
    }
}
