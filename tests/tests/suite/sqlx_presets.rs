//! The preset table is written once, by the code: this test renders it from what each
//! preset gives a pool ([`Config::settings`], which starts from `pool_core::defaults`)
//! and checks that the rustdoc of `Preset` and the README show exactly that table. When
//! a preset or a builder default changes, it fails and prints the table to paste.

use std::time::Duration;

use pool_sqlx::{
    Config, Preset, Validation, defaults,
    sqlx::{MySql, Postgres},
};

const PRESET_SOURCE: &str = include_str!("../../../pool-facts/src/config/preset.rs");
const README: &str = include_str!("../../../README.md");

/// `500 ms`, `5 s`, `10 min`, as the tables write them.
fn human(duration: Duration) -> String {
    let millis = duration.as_millis();
    if !millis.is_multiple_of(1000) {
        format!("{millis} ms")
    } else if millis >= 60_000 && millis.is_multiple_of(60_000) {
        format!("{} min", millis / 60_000)
    } else {
        format!("{} s", millis / 1000)
    }
}

fn never(duration: Option<Duration>) -> String {
    duration.map_or_else(|| "never".to_owned(), human)
}

fn rendered_table() -> String {
    let mut table = String::from(
        "| preset | `max_size` | `acquire_timeout` | `connect_timeout` | validation | `idle_timeout` | `max_lifetime` |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for preset in Preset::ALL {
        let settings = Config::from_url("postgres://h/db")
            .unwrap()
            .with_preset(preset)
            .settings();
        let validation = match settings.validation {
            Validation::Never => "never".to_owned(),
            Validation::Always => "every checkout".to_owned(),
            Validation::IdleLongerThan(idle) => format!("if idle > {}", human(idle)),
        };
        table.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} |\n",
            preset.name(),
            settings.max_size,
            human(settings.acquire_timeout),
            human(settings.connect_timeout),
            validation,
            never(settings.idle_timeout),
            never(settings.max_lifetime),
        ));
    }
    table
}

/// The first markdown table whose header starts with `| preset |` in `text`, each line
/// with `prefix` removed.
fn table_in(text: &str, prefix: &str) -> String {
    let mut table = String::new();
    for line in text.lines() {
        let Some(line) = line.trim_start().strip_prefix(prefix) else {
            if !table.is_empty() {
                break;
            }
            continue;
        };
        if table.is_empty() && !line.starts_with("| preset |") {
            continue;
        }
        if !line.starts_with('|') {
            break;
        }
        table.push_str(line);
        table.push('\n');
    }
    table
}

#[test]
fn the_rustdoc_table_is_the_codes() {
    let expected = rendered_table();
    let documented = table_in(PRESET_SOURCE, "/// ");
    assert_eq!(
        documented, expected,
        "pool-facts/src/config/preset.rs documents another table; the code's is:\n{expected}"
    );
}

#[test]
fn the_readme_table_is_the_codes() {
    let expected = rendered_table();
    let section = README
        .split("## Configuration from `DATABASE_URL`")
        .nth(1)
        .expect("the README has its configuration section");
    let documented = table_in(section, "");
    assert_eq!(
        documented, expected,
        "the README documents another table; the code's is:\n{expected}"
    );
}

#[test]
fn production_is_the_builders_defaults_and_every_preset_is_lazy() {
    let production = Config::from_url("postgres://h/db")
        .unwrap()
        .with_preset(Preset::Production)
        .settings();
    assert_eq!(production.max_size, defaults::MAX_SIZE);
    assert_eq!(production.min_idle, defaults::MIN_IDLE);
    assert_eq!(production.acquire_timeout, defaults::ACQUIRE_TIMEOUT);
    assert_eq!(production.connect_timeout, defaults::CONNECT_TIMEOUT);
    assert_eq!(production.validation, defaults::VALIDATION);
    assert_eq!(production.idle_timeout, defaults::IDLE_TIMEOUT);
    assert_eq!(production.max_lifetime, defaults::MAX_LIFETIME);
    assert_eq!(production.keepalive, defaults::KEEPALIVE);
    for preset in Preset::ALL {
        let config = Config::from_url("postgres://h/db")
            .unwrap()
            .with_preset(preset);
        assert_eq!(config.settings().min_idle, 0, "{preset} is not lazy");
    }
}

#[tokio::test]
async fn the_pool_gets_what_settings_shows() {
    for preset in Preset::ALL {
        for url in [
            "postgres://h/db",
            "postgres://h/db?connection_limit=3&pool_timeout=0",
        ] {
            let config = Config::from_url(url).unwrap().with_preset(preset);
            let settings = config.settings();
            let pool = config.build_pool::<Postgres>("presets").unwrap();
            assert_eq!(pool.status().max_size, settings.max_size, "{preset} {url}");
            assert_eq!(
                pool.acquire_timeout(),
                settings.acquire_timeout,
                "{preset} {url}"
            );
            assert_eq!(pool.min_idle(), settings.min_idle, "{preset} {url}");
        }
        let mysql = Config::from_url("mysql://h/db")
            .unwrap()
            .with_preset(preset);
        let pool = mysql.build_pool::<MySql>("presets").unwrap();
        assert_eq!(pool.status().max_size, mysql.settings().max_size);
    }
}
