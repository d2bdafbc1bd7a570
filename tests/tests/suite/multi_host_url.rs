//! libpq's multi-host URLs through `Config::from_url` (and so `SqlxManager::from_url`, the
//! macros' `url` and `Config::from_env`, which all read a URL through it): hosts with and
//! without ports, IPv6 in brackets, duplicates refused, the host cap, the two settings,
//! PostgreSQL only, and never a password in what is shown; the query form
//! (`?host=db1,db2&port=…`) read as the same list, and walked on a real server.

use pool_sqlx::{
    Config, ConfigError, DEFAULT_PORT, LoadBalanceHosts, MAX_HOSTS, SqlxManager,
    TargetSessionAttrs, sqlx::Postgres,
};
use proptest::prelude::*;

const PASSWORD: &str = "s3cr3t-pw";

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A host as written in a URL, and as `Config` should read it (host, port).
#[derive(Debug, Clone)]
struct Written {
    text: String,
    host: String,
    port: u16,
}

fn host_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z0-9]{1,6}){0,2}",
        (0u8..=255, 0u8..=255, 0u8..=255, 1u8..=254)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        any::<[u16; 8]>().prop_map(|parts| {
            let address = std::net::Ipv6Addr::from(parts);
            format!("[{address}]")
        }),
    ]
}

fn written() -> impl Strategy<Value = Written> {
    (host_name(), proptest::option::of(1u16..=u16::MAX)).prop_map(|(name, port)| {
        let text = match port {
            Some(port) => format!("{name}:{port}"),
            None => name.clone(),
        };
        let host = name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        Written {
            text,
            host,
            port: port.unwrap_or(DEFAULT_PORT),
        }
    })
}

/// 2 to `MAX_HOSTS` hosts, no two alike.
fn host_list() -> impl Strategy<Value = Vec<Written>> {
    proptest::collection::vec(written(), 2..=MAX_HOSTS).prop_map(|list| {
        let mut seen = std::collections::HashSet::new();
        list.into_iter()
            .filter(|w| seen.insert((w.host.clone(), w.port)))
            .collect()
    })
}

fn url(list: &[Written], query: &str) -> String {
    let hosts: Vec<&str> = list.iter().map(|w| w.text.as_str()).collect();
    format!("postgres://app:{PASSWORD}@{}/app{query}", hosts.join(","))
}

fn error(input: &str) -> ConfigError {
    match Config::from_url(input) {
        Ok(config) => panic!("accepted {config}"),
        Err(error) => error,
    }
}

proptest! {
    #![proptest_config(cases(300))]

    /// Every host is read with its own port or 5432, in the URL's order; what is shown
    /// lists them all and never the password; sqlx gets the first host.
    #[test]
    fn a_list_of_hosts_is_read_in_order(list in host_list()) {
        prop_assume!(list.len() >= 2);
        let input = url(&list, "?target_session_attrs=read-write&load_balance_hosts=random");
        let config = Config::from_url(&input).unwrap();
        let read: Vec<(String, u16)> =
            config.hosts.iter().map(|h| (h.host.clone(), h.port)).collect();
        let want: Vec<(String, u16)> = list.iter().map(|w| (w.host.clone(), w.port)).collect();
        prop_assert_eq!(read, want);
        prop_assert_eq!(config.target_session_attrs, TargetSessionAttrs::ReadWrite);
        prop_assert_eq!(config.load_balance_hosts, LoadBalanceHosts::Random);
        for shown in [config.to_string(), format!("{config:?}"), config.redacted_url()] {
            prop_assert!(!shown.contains(PASSWORD), "{}", shown);
            for host in &config.hosts {
                prop_assert!(shown.contains(&host.to_string()), "{} missing in {}", host, shown);
            }
        }
        prop_assert!(config.sqlx_url().query().is_none(), "settings reach sqlx");
        let first = &config.hosts[0];
        prop_assert_eq!(config.sqlx_url().port_or_known_default(), Some(first.port));
        prop_assert!(config.manager::<Postgres>().is_ok());
    }

    /// The query form of the same list (`?host=…&port=…`, a port per host; IPv6 without
    /// brackets) reads as the same hosts and shows as the same URL.
    #[test]
    fn the_query_form_reads_as_the_authority_form(list in host_list()) {
        prop_assume!(list.len() >= 2);
        let authority = Config::from_url(&url(&list, "?target_session_attrs=read-write")).unwrap();
        let names: Vec<&str> = list.iter().map(|w| w.host.as_str()).collect();
        let ports: Vec<String> = list.iter().map(|w| w.port.to_string()).collect();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("host", &names.join(","))
            .append_pair("port", &ports.join(","))
            .append_pair("target_session_attrs", "read-write")
            .finish();
        let input = format!("postgres://app:{PASSWORD}@ignored/app?{query}");
        let config = Config::from_url(&input).unwrap();
        prop_assert_eq!(&config.hosts, &authority.hosts);
        prop_assert_eq!(config.redacted_url(), authority.redacted_url());
        let shown = format!("{config:?}");
        prop_assert!(!shown.contains(PASSWORD), "{}", shown);
        prop_assert!(config.sqlx_url().query().is_none(), "host and port reach sqlx");
        prop_assert_eq!(config.sqlx_url().port_or_known_default(), Some(list[0].port));
        prop_assert!(config.manager::<Postgres>().is_ok());
    }

    /// A host named twice (its port written or left to the default) is refused, naming
    /// the host and both places, never the password.
    #[test]
    fn a_host_listed_twice_is_refused(list in host_list(), at in any::<prop::sample::Index>()) {
        let mut list = list;
        list.truncate(MAX_HOSTS - 1);
        let twin = list[at.index(list.len())].clone();
        let again = if twin.port == DEFAULT_PORT && !twin.text.ends_with(":5432") {
            Written { text: format!("{}:5432", twin.text), ..twin.clone() }
        } else {
            twin
        };
        list.push(again);
        let error = error(&url(&list, ""));
        prop_assert_eq!(error.setting, "url");
        prop_assert!(error.problem.contains("twice"), "{}", error);
        prop_assert!(!error.to_string().contains(PASSWORD));
    }

    /// Whatever is written between the commas, reading it never panics, and an error
    /// never shows the password.
    #[test]
    fn junk_in_the_list_is_refused_without_the_password(
        entries in proptest::collection::vec("[a-z0-9:\\[\\]%@._ -]{0,12}", 2..6),
    ) {
        let input = format!("postgres://app:{PASSWORD}@{}/app", entries.join(","));
        if let Err(error) = Config::from_url(&input) {
            prop_assert!(!error.to_string().contains(PASSWORD), "{}", error);
        }
    }

    /// A bad `target_session_attrs` or `load_balance_hosts` is named.
    #[test]
    fn bad_settings_are_named(value in "[a-z-]{1,16}") {
        let known = ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"];
        let input = format!("postgres://app@db1,db2/app?target_session_attrs={value}");
        match Config::from_url(&input) {
            Ok(config) => prop_assert_eq!(config.target_session_attrs.name(), value.as_str()),
            Err(error) => {
                prop_assert!(!known.contains(&value.as_str()));
                prop_assert_eq!(error.setting, "target_session_attrs");
            }
        }
        let input = format!("postgres://app@db1,db2/app?load_balance_hosts={value}");
        match Config::from_url(&input) {
            Ok(config) => prop_assert_eq!(config.load_balance_hosts.name(), value.as_str()),
            Err(error) => prop_assert_eq!(error.setting, "load_balance_hosts"),
        }
    }
}

#[test]
fn the_host_cap() {
    let list = |n: usize| {
        (0..n)
            .map(|i| format!("db{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let at_cap = Config::from_url(&format!("postgres://app@{}/app", list(MAX_HOSTS))).unwrap();
    assert_eq!(at_cap.hosts.len(), MAX_HOSTS);
    for n in [MAX_HOSTS + 1, 10_000, 10_001] {
        let error = error(&format!("postgres://app@{}/app", list(n)));
        assert!(
            error.problem.contains(&format!("lists {n} hosts")),
            "{error}"
        );
    }
}

#[test]
fn one_host_keeps_its_url_and_may_still_ask_for_a_role() {
    let config =
        Config::from_url("postgres://app:pw@db1:6000/app?target_session_attrs=primary").unwrap();
    assert!(config.hosts.is_empty());
    assert_eq!(config.target_session_attrs, TargetSessionAttrs::Primary);
    assert_eq!(config.redacted_url(), "postgres://app:***@db1:6000/app");
    let plain = Config::from_url("postgres://app@db1/app").unwrap();
    assert_eq!(plain.target_session_attrs, TargetSessionAttrs::Any);
    assert_eq!(plain.load_balance_hosts, LoadBalanceHosts::Disable);
}

#[test]
fn the_example_of_the_issue() {
    let config = Config::from_url(
        "postgres://app:pw@db1:5432,db2:5433/app?target_session_attrs=read-write&sslmode=disable",
    )
    .unwrap();
    assert_eq!(
        config.redacted_url(),
        "postgres://app:***@db1:5432,db2:5433/app?sslmode=disable"
    );
    let shown = config.settings().to_string();
    assert!(
        shown.contains("url: postgres://app:***@db1:5432,db2:5433/app?sslmode=disable\n")
            && shown.contains("target_session_attrs: read-write\n")
            && !shown.contains("load_balance_hosts"),
        "{shown}"
    );
    assert!(
        SqlxManager::<Postgres>::from_url(
            "postgres://app:pw@db1:5432,db2:5433/app?target_session_attrs=read-write"
        )
        .is_ok()
    );
}

#[test]
fn the_query_form_and_the_authority_form_are_not_mixed() {
    let mixed = error("postgres://app@db1,db2/app?host=db3,db4");
    assert_eq!(mixed.setting, "host");
    assert!(mixed.problem.contains("one place"), "{mixed}");
    // One host before the path is overridden by the query's list, as libpq reads it.
    let config = Config::from_url("postgres://app@db0/app?host=db1,db2&port=5433").unwrap();
    assert_eq!(
        config.redacted_url(),
        "postgres://app@db1:5433,db2:5433/app"
    );
    let mysql = error("mysql://root@db0/app?host=db1,db2");
    assert!(mysql.problem.contains("PostgreSQL only"), "{mysql}");
}

/// The query form walked on a real server: the first host refuses, the second is the
/// test server, and the pool's connection lands there.
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn the_query_form_is_walked_on_a_real_server() {
    let Some(db) = tests::db::postgres("query_hosts").await else {
        return;
    };
    let refusing = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut url = url::Url::parse(&db.url).unwrap();
    let (host, port) = (
        url.host_str().unwrap().to_owned(),
        url.port_or_known_default().unwrap_or(DEFAULT_PORT),
    );
    url.set_query(Some(&format!(
        "host=127.0.0.1,{host}&port={refusing},{port}&target_session_attrs=read-write"
    )));
    let config = Config::from_url(url.as_str()).unwrap();
    assert_eq!(config.hosts.len(), 2, "{config}");
    let pool = config.build_pool::<Postgres>("query_hosts").unwrap();
    let mut conn = pool.get().await.unwrap();
    let landed: i32 = pool_sqlx::sqlx::query_scalar("SELECT inet_server_port()")
        .fetch_one(conn.raw_mut())
        .await
        .unwrap();
    assert_eq!(landed, i32::from(port));
    drop(conn);
    pool.close().await;
    db.cleanup().await;
}

#[test]
fn multi_host_is_postgres_only() {
    for (input, setting) in [
        ("mysql://root:pw@db1,db2/app", "url"),
        ("mariadb://root:pw@db1:3306,db2:3307/app", "url"),
        (
            "mysql://root:pw@db1/app?target_session_attrs=read-write",
            "target_session_attrs",
        ),
        (
            "mysql://root:pw@db1/app?load_balance_hosts=random",
            "load_balance_hosts",
        ),
        (
            "sqlite://data.db?target_session_attrs=any",
            "target_session_attrs",
        ),
    ] {
        let error = error(input);
        assert_eq!(error.setting, setting, "{input}: {error}");
        assert!(error.problem.contains("PostgreSQL only"), "{error}");
        assert!(!error.to_string().contains("pw"), "{error}");
    }
}
