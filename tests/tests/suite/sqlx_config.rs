//! `Config::from_url`: pool parameters, their errors, presets, session settings on the
//! real servers, and passwords kept out of every output.

use std::time::Duration;

use pool_sqlx::{
    BackendKind, Classify, Config, ErrorClass, PoolError, Preset, SqlxManager, TransactionManager,
    health,
    sqlx::{self, MySql, Postgres, Row, Sqlite},
};
use tests::db::{self, Server, admin_execute};

#[test]
fn pool_parameters_are_read_and_stripped() {
    let config = Config::from_url(
        "postgres://app:pw@db.example:5433/orders?sslmode=disable&connection_limit=20\
         &pool_timeout=5&connect_timeout=500ms&statement_timeout=2m&idle_timeout=0\
         &max_lifetime=1h&keepalive=2min&pgbouncer=true&application_name=orders-api\
         &adaptive_limit=true",
    )
    .unwrap();
    assert_eq!(config.kind, BackendKind::Postgres);
    assert_eq!(config.connection_limit, Some(20));
    assert_eq!(config.pool_timeout, Some(Duration::from_secs(5)));
    assert_eq!(config.connect_timeout, Some(Duration::from_millis(500)));
    assert_eq!(config.statement_timeout, Some(Duration::from_secs(120)));
    assert_eq!(config.idle_timeout, Some(Duration::ZERO));
    assert_eq!(config.max_lifetime, Some(Duration::from_secs(3600)));
    assert_eq!(config.keepalive, Some(Duration::from_secs(120)));
    assert!(config.pgbouncer);
    assert_eq!(config.application_name.as_deref(), Some("orders-api"));
    assert_eq!(config.adaptive_limit, Some(true));
    // Only what sqlx understands is left for it.
    assert_eq!(config.sqlx_url().query(), Some("sslmode=disable"));
    assert_eq!(config.sqlx_url().password(), Some("pw"));

    let plain = Config::from_url("mariadb://root@localhost/db").unwrap();
    assert_eq!(plain.kind, BackendKind::MySql);
    assert_eq!(plain.sqlx_url().scheme(), "mysql");
    assert_eq!(plain.sqlx_url().query(), None);
    assert_eq!(
        Config::from_url("sqlite::memory:").unwrap().kind,
        BackendKind::Sqlite
    );
}

#[test]
fn a_bad_value_names_its_parameter() {
    let cases = [
        ("connection_limit=abc", "connection_limit"),
        ("connection_limit=0", "connection_limit"),
        ("pool_timeout=soon", "pool_timeout"),
        ("connect_timeout=5 parsecs", "connect_timeout"),
        ("statement_timeout=-1", "statement_timeout"),
        ("idle_timeout=1.5", "idle_timeout"),
        ("max_lifetime=99999999999999999999h", "max_lifetime"),
        ("keepalive=often", "keepalive"),
        ("pgbouncer=maybe", "pgbouncer"),
        ("application_name=", "application_name"),
        ("adaptive_limit=yes", "adaptive_limit"),
        ("metric_names=otel", "metric_names"),
    ];
    for (query, parameter) in cases {
        let url = format!("postgres://app:topsecret@h/db?{query}");
        let error = Config::from_url(&url).unwrap_err();
        assert_eq!(error.setting, parameter, "{query}");
        assert!(error.to_string().contains(parameter), "{error}");
        assert!(!error.to_string().contains("topsecret"));
        let error = pool_sqlx::Error::from(error);
        assert_eq!(error.class(), ErrorClass::Permanent);
    }
    let error = Config::from_url("redis://h/0").unwrap_err();
    assert_eq!(error.setting, "url");
    // PgBouncer mode means nothing for MySQL: an error, not a silent no-op.
    let error = Config::from_url("mysql://h/db?pgbouncer=true").unwrap_err();
    assert_eq!(error.setting, "pgbouncer");
    assert!(error.to_string().contains("mysql URL"), "{error}");
    assert!(Config::from_url("mysql://h/db?pgbouncer=false").is_ok());
    let error = Config::from_url("not a url at all :pw@").unwrap_err();
    assert_eq!(error.setting, "url");
    // A URL for one backend used for another.
    let config = Config::from_url("postgres://h/db").unwrap();
    let error = config.manager::<MySql>().unwrap_err();
    assert!(
        matches!(error, pool_sqlx::Error::Config(ref e) if e.setting == "url"),
        "{error}"
    );
}

#[tokio::test]
async fn pool_settings_and_presets_reach_the_pool() {
    let config =
        Config::from_url("postgres://app:pw@127.0.0.1:1/db?connection_limit=3&pool_timeout=7")
            .unwrap();
    let pool = config.build_pool::<Postgres>("orders").unwrap();
    assert_eq!(pool.status().max_size, 3);
    assert_eq!(pool.acquire_timeout(), Duration::from_secs(7));
    assert_eq!(pool.name(), "orders");
    // application_name defaults to the pool's name.
    assert_eq!(
        pool.manager()
            .session_settings()
            .application_name
            .as_deref(),
        Some("orders")
    );

    let serverless = Config::from_url("postgres://h/db")
        .unwrap()
        .with_preset(Preset::Serverless)
        .build_pool::<Postgres>("fn")
        .unwrap();
    assert_eq!(serverless.status().max_size, 1);
    assert_eq!(serverless.min_idle(), 0);
    // URL parameters override the preset.
    let overridden = Config::from_url("postgres://h/db?connection_limit=2")
        .unwrap()
        .with_preset(Preset::Test)
        .build_pool::<Postgres>("t")
        .unwrap();
    assert_eq!(overridden.status().max_size, 2);
    assert_eq!(overridden.acquire_timeout(), Duration::from_secs(5));
    // 0 means no limit (a long one: pool-core wants a finite duration).
    let unlimited = Config::from_url("postgres://h/db?pool_timeout=0")
        .unwrap()
        .build_pool::<Postgres>("u")
        .unwrap();
    assert!(unlimited.acquire_timeout() > Duration::from_secs(86_400));
    // The adaptive limit starts at its floor, under the URL's hard cap.
    let adaptive =
        Config::from_url("postgres://h/db?connection_limit=3&adaptive_limit=true").unwrap();
    assert_eq!(adaptive.settings().adaptive_limit, Some(1));
    assert!(
        adaptive
            .settings()
            .to_string()
            .contains("adaptive_limit: from 1 to max_size")
    );
    let adaptive = adaptive.build_pool::<Postgres>("a").unwrap();
    assert_eq!(
        (adaptive.status().limit, adaptive.status().max_size),
        (1, 3)
    );
    assert_eq!(adaptive.metrics().limit, 1);
    assert_eq!(unlimited.status().limit, unlimited.status().max_size);
}

#[tokio::test]
async fn passwords_never_show() {
    const SECRET: &str = "s3cr3t-Pa55";
    let url = format!(
        "postgres://app:{SECRET}@127.0.0.1:1/db?connection_limit=1&pool_timeout=1&connect_timeout=1&password={SECRET}"
    );
    let config = Config::from_url(&url).unwrap();
    let manager = config.manager::<Postgres>().unwrap();
    let pool = config
        .pool_builder::<Postgres>("secret-test")
        .unwrap()
        .acquire_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = pool
        .get()
        .await
        .map(|_| ())
        .map_err(pool_sqlx::Error::from)
        .unwrap_err();
    let report = health(&pool, Duration::from_millis(300)).await;
    assert!(!report.check.ok);
    assert_eq!(report.status, pool_sqlx::HealthStatus::Unhealthy);
    let outputs = [
        format!("{config:?}"),
        format!("{config}"),
        config.redacted_url(),
        format!("{manager:?}"),
        manager.description().to_owned(),
        format!("{pool:?}"),
        format!("{error}"),
        format!("{error:?}"),
        serde_json::to_string(&report).unwrap(),
    ];
    for output in outputs {
        assert!(!output.contains(SECRET), "password leaked: {output}");
    }
    assert!(format!("{config}").contains("app:***@127.0.0.1:1/db"));
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn postgres_session_settings_are_applied() {
    let Some(db) = db::postgres("pg_session").await else {
        return;
    };
    let config =
        Config::from_url(&db.url_with("statement_timeout=150ms&connection_limit=2")).unwrap();
    let pool = config
        .pool_builder::<Postgres>("orders")
        .unwrap()
        .build()
        .unwrap();
    let mut conn = pool.get().await.unwrap();
    let (name, timeout): (String, String) = sqlx::query_as(
        "SELECT current_setting('application_name'), current_setting('statement_timeout')",
    )
    .fetch_one(&mut **conn)
    .await
    .unwrap();
    assert_eq!(name, "orders");
    assert_eq!(timeout, "150ms");
    // The statement timeout is live: the server cancels a long statement.
    let error = sqlx::query("SELECT pg_sleep(5)")
        .execute(&mut **conn)
        .await
        .unwrap_err();
    assert_eq!(pool_sqlx::classify::classify(&error), ErrorClass::Timeout);
    drop(conn);

    // Behind PgBouncer nothing is set for the session (a session SET would stay on a
    // shared server connection): the timeout is applied with SET LOCAL in each transaction
    // pool-sqlx begins. An explicit name wins.
    let config = Config::from_url(
        &db.url_with("pgbouncer=true&statement_timeout=2s&application_name=billing"),
    )
    .unwrap();
    let pool = config.build_pool::<Postgres>("ignored").unwrap();
    assert!(pool.manager().session_settings().pgbouncer);
    let mut conn = pool.get().await.unwrap();
    let (name, timeout): (String, String) = sqlx::query_as(
        "SELECT current_setting('application_name'), current_setting('statement_timeout')",
    )
    .fetch_one(&mut **conn)
    .await
    .unwrap();
    assert_eq!((name.as_str(), timeout.as_str()), ("billing", "0"));
    pool.manager().begin(&mut conn).await.unwrap();
    let timeout: String = sqlx::raw_sql("SHOW statement_timeout")
        .fetch_one(&mut **conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(timeout, "2s");
    pool.manager().rollback(&mut conn).await.unwrap();
    drop(conn);
    pool.close().await;
    db.cleanup().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn mysql_statement_timeout_and_hook_are_applied() {
    let Some(db) = db::mysql("my_session").await else {
        return;
    };
    let config = Config::from_url(&db.url_with("statement_timeout=1500ms")).unwrap();
    let manager = config.manager::<MySql>().unwrap();
    let pool = pool_sqlx::Pool::builder(manager)
        .after_connect(pool_sqlx::on_connect(std::sync::Arc::new(|conn| {
            Box::pin(async move {
                sqlx::query("SET @hooked = 42").execute(conn).await?;
                Ok(())
            })
        })))
        .build()
        .unwrap();
    let mut conn = pool.get().await.unwrap();
    let (limit, hooked): (f64, i64) = sqlx::query_as("SELECT @@max_statement_time, @hooked")
        .fetch_one(&mut **conn)
        .await
        .unwrap();
    assert!((limit - 1.5).abs() < 1e-9, "{limit}");
    assert_eq!(hooked, 42);
    drop(conn);
    pool.close().await;
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
/// `on_connect` is the pool's `after_connect`: a hook that fails fails the connect
/// (a syntax error is permanent: at once, with the server's error), and a hook that
/// panics costs that connection only.
#[tokio::test]
async fn a_failing_or_panicking_on_connect_hook_costs_the_connection_not_the_pool() {
    let Some(db) = db::postgres("pg_hook_fails").await else {
        return;
    };
    let config = Config::from_url(&db.url).unwrap();
    let pool = pool_sqlx::Pool::builder(config.manager::<Postgres>().unwrap())
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(pool_sqlx::on_connect(std::sync::Arc::new(|conn| {
            Box::pin(async move {
                sqlx::query("SELEC 1").execute(conn).await?;
                Ok(())
            })
        })))
        .build()
        .unwrap();
    match pool.get().await {
        Err(PoolError::Connect(error)) => {
            assert_eq!(error.class(), ErrorClass::Permanent, "{error}");
        }
        other => panic!("expected the hook's error, got {other:?}"),
    }
    assert_eq!(pool.status().size, 0, "{:?}", pool.status());
    pool.close().await;

    let panicked = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let once = std::sync::Arc::clone(&panicked);
    let pool = pool_sqlx::Pool::builder(config.manager::<Postgres>().unwrap())
        .acquire_timeout(Duration::from_secs(5))
        .connect_backoff(Duration::from_millis(10), Duration::from_millis(10))
        .after_connect(pool_sqlx::on_connect(std::sync::Arc::new(move |conn| {
            let first = !once.swap(true, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move {
                assert!(!first, "on_connect panicked (on purpose)");
                sqlx::query("SELECT 1").execute(conn).await?;
                Ok(())
            })
        })))
        .build()
        .unwrap();
    let conn = pool.get().await.unwrap();
    assert!(panicked.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(pool.metrics().connect_errors, 1);
    assert_eq!(pool.status().size, 1);
    drop(conn);
    pool.close().await;
    db.cleanup().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn mysql_wrong_password_through_the_pool_is_permanent_and_hidden() {
    let Some(db) = db::mysql("my_pool_pw").await else {
        return;
    };
    let user = format!("{}_u", db.name);
    admin_execute(
        Server::MySql,
        db.admin_url(),
        // sql: a user name we generate and a constant password
        &format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'the-right-one'"),
    )
    .await;
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_username(&user).unwrap();
    url.set_password(Some("Wr0ng-Passw0rd")).unwrap();
    let pool = Config::from_url(url.as_str())
        .unwrap()
        .build_pool::<MySql>("pw")
        .unwrap();
    let error = pool.get().await.map(|_| ()).unwrap_err();
    // Reported at once, not waited out: a wrong password is permanent.
    assert!(matches!(error, PoolError::Connect(_)), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Permanent);
    let error = pool_sqlx::Error::from(error);
    assert_eq!(error.class(), ErrorClass::Permanent);
    let report = health(&pool, Duration::from_secs(1)).await;
    for output in [
        format!("{error}"),
        format!("{error:?}"),
        serde_json::to_string(&report).unwrap(),
    ] {
        assert!(!output.contains("Wr0ng-Passw0rd"), "{output}");
    }
    admin_execute(
        Server::MySql,
        db.admin_url(),
        // sql: a user name we generate
        &format!("DROP USER '{user}'@'%'"),
    )
    .await;
    db.cleanup().await;
}

#[tokio::test]
async fn sqlite_busy_timeout_is_applied() {
    let (_dir, url) = db::sqlite("busy_timeout");
    let manager = SqlxManager::<Sqlite>::from_url(&url)
        .unwrap()
        .busy_timeout(Duration::from_millis(1234));
    let pool = pool_sqlx::Pool::builder(manager).build().unwrap();
    let mut conn = pool.get().await.unwrap();
    let timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(&mut **conn)
        .await
        .unwrap();
    assert_eq!(timeout, 1234);
}

/// Without a URL a local run skips loudly; under `CI=true` the same test fails.
/// (Runs this test binary again as a child process with the variables changed.)
#[test]
fn a_missing_url_is_skipped_loudly_locally_and_fails_on_ci() {
    let name = tests::libtest_name(
        module_path!(),
        "a_missing_url_is_skipped_loudly_locally_and_fails_on_ci",
    );
    if std::env::var_os("POOL_SQLX_PROBE").is_some() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        assert!(runtime.block_on(db::postgres("probe")).is_none());
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let run = |ci: &str| {
        std::process::Command::new(&exe)
            .args(["--exact", name.as_str(), "--nocapture", "--test-threads=1"])
            .env("POOL_SQLX_PROBE", "1")
            .env_remove("TEST_POSTGRES_URL")
            .env("CI", ci)
            .output()
            .unwrap()
    };
    let local = run("false");
    assert!(local.status.success());
    assert!(String::from_utf8_lossy(&local.stderr).contains("SKIPPED probe: TEST_POSTGRES_URL"));
    let ci = run("true");
    assert!(!ci.status.success(), "CI=true must fail without a URL");
}

#[test]
fn a_misspelt_pool_parameter_is_an_error_naming_the_one_meant() {
    for (scheme, query, meant) in [
        (
            "postgres://app:topsecret@h/db",
            "connection_limt=5",
            "connection_limit",
        ),
        (
            "postgres://app:topsecret@h/db",
            "Connection_Limit=5",
            "connection_limit",
        ),
        (
            "postgres://app:topsecret@h/db",
            "pool_timout=5",
            "pool_timeout",
        ),
        (
            "postgres://app:topsecret@h/db",
            "slowquery=1s",
            "slow_query",
        ),
        (
            "mysql://root:topsecret@h/db",
            "connect_timeot=5",
            "connect_timeout",
        ),
        ("mysql://root:topsecret@h/db", "pgbouncr=true", "pgbouncer"),
        ("sqlite::memory:", "keepalve=1s", "keepalive"),
    ] {
        let url = format!("{scheme}?{query}");
        let error = Config::from_url(&url).unwrap_err();
        assert_eq!(error.setting, "url", "{url}");
        let message = error.to_string();
        let key = query.split('=').next().unwrap();
        assert!(message.contains(&format!("`{key}`")), "{message}");
        assert!(
            message.contains(&format!("did you mean `{meant}`?")),
            "{message}"
        );
        assert!(!message.contains("topsecret"), "{message}");
        assert_eq!(pool_sqlx::Error::from(error).class(), ErrorClass::Permanent);
    }
    // The driver's own parameters pass on to sqlx.
    for url in [
        "postgres://h/db?sslmode=disable&options=-c%20search_path%3Dx&statement-cache-capacity=10",
        "mysql://h/db?ssl-mode=disabled&charset=utf8mb4&timezone=%2B00:00",
        "sqlite::memory:?mode=memory&cache=shared",
    ] {
        let config = Config::from_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(config.sqlx_url().query().is_some(), "{url}");
    }
    // Parameters meant for other tools (Prisma's `socket_timeout`, `sslaccept`; its
    // `schema=public` is accepted, see hostile_config) that neither the pool nor sqlx reads are
    // refused by name, as any other unread key (issue #21): sqlx took them with a warning
    // that logged their values.
    for (url, key) in [
        ("postgres://h/db?socket_timeout=10", "socket_timeout"),
        ("postgres://h/db?sslaccept=strict", "sslaccept"),
    ] {
        let error = Config::from_url(url).unwrap_err();
        assert_eq!(error.setting, "url", "{url}");
        assert!(
            error.to_string().contains(&format!(
                "has a `{key}` parameter, which neither the pool nor sqlx reads"
            )),
            "{url}: {error}"
        );
    }
}

#[test]
fn preset_names_parse_case_insensitively_and_unknown_ones_list_the_choices() {
    for (value, preset) in [
        ("production", Preset::Production),
        ("DEVELOPMENT", Preset::Development),
        ("Test", Preset::Test),
        (" serverless\n", Preset::Serverless),
    ] {
        assert_eq!(
            Preset::from_env_value(Some(value)),
            Ok(Some(preset)),
            "{value}"
        );
        assert_eq!(value.trim().parse::<Preset>(), Ok(preset));
        assert_eq!(preset.name().parse::<Preset>(), Ok(preset));
        assert_eq!(preset.to_string(), preset.name());
    }
    // Unset or empty: no preset chosen.
    assert_eq!(Preset::from_env_value(None), Ok(None));
    assert_eq!(Preset::from_env_value(Some("  ")), Ok(None));

    let error = Preset::from_env_value(Some("prod")).unwrap_err();
    assert_eq!(error.variable, "POOL_PRESET");
    assert_eq!(error.value, "prod");
    let message = error.to_string();
    assert!(message.contains("POOL_PRESET"), "{message}");
    assert!(message.contains("`prod`"), "{message}");
    for choice in ["production", "development", "test", "serverless"] {
        assert!(message.contains(choice), "{message}");
    }
    // Too far from any preset to guess which: no suggestion.
    assert_eq!(error.suggestion, None);
    assert!(!message.contains("did you mean"), "{message}");
    let config_error = pool_sqlx::ConfigError::from(error.clone());
    assert_eq!(config_error.setting, "POOL_PRESET");

    // A near miss names the preset meant, through both doors.
    for value in ["prodution", "Serverles", "tset"] {
        let error = Preset::from_env_value(Some(value)).unwrap_err();
        let message = error.to_string();
        let meant = error.suggestion.map(Preset::name);
        assert!(meant.is_some(), "{message}");
        assert!(
            message.contains(&format!("did you mean `{}`?", meant.unwrap_or(""))),
            "{message}"
        );
        assert_eq!(
            value.parse::<Preset>().unwrap_err().suggestion,
            error.suggestion
        );
    }
    let error = pool_sqlx::Error::from(error);
    assert_eq!(error.class(), ErrorClass::Permanent);
    assert_eq!("staging".parse::<Preset>().unwrap_err().variable, "preset");
}

#[tokio::test]
async fn settings_show_the_preset_with_the_url_applied_and_match_the_pool() {
    let url = "postgres://app:s3cret@db.example/orders?pool_timeout=0&idle_timeout=0";
    for preset in Preset::ALL {
        let config = Config::from_url(url).unwrap().with_preset(preset);
        let settings = config.settings();
        let pool = config.build_pool::<Postgres>("orders").unwrap();
        assert_eq!(settings.preset, preset);
        assert_eq!(settings.max_size, pool.status().max_size, "{preset}");
        assert_eq!(settings.min_idle, pool.min_idle(), "{preset}");
        assert_eq!(settings.acquire_timeout, pool.acquire_timeout(), "{preset}");
        // URL parameters win over every preset.
        assert!(settings.acquire_timeout > Duration::from_secs(86_400));
        assert_eq!(settings.idle_timeout, None);
        let shown = settings.to_string();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("url: postgres://app:***@db.example/orders"),
            "{shown}"
        );
        assert!(
            shown.contains(&format!("preset: {}", preset.name())),
            "{shown}"
        );
        assert!(shown.contains("acquire_timeout: none"), "{shown}");
        assert!(shown.contains("idle_timeout: never"), "{shown}");
    }
    // The presets' own figures.
    let settings = |preset| {
        Config::from_url("postgres://h/db")
            .unwrap()
            .with_preset(preset)
            .settings()
    };
    let production = settings(Preset::Production);
    assert_eq!(production.max_size, 10);
    assert_eq!(production.acquire_timeout, Duration::from_secs(30));
    assert_eq!(production.idle_timeout, Some(Duration::from_secs(600)));
    // Production is pool-core's defaults.
    let default_pool =
        pool_sqlx::Pool::builder(SqlxManager::<Postgres>::from_url("postgres://h/db").unwrap())
            .build()
            .unwrap();
    assert_eq!(production.max_size, default_pool.status().max_size);
    assert_eq!(production.acquire_timeout, default_pool.acquire_timeout());
    assert_eq!(production.min_idle, default_pool.min_idle());
    let development = settings(Preset::Development);
    assert_eq!(development.max_size, 5);
    assert_eq!(development.validation, pool_sqlx::Validation::Always);
    let test = settings(Preset::Test);
    assert_eq!(
        (test.max_size, test.connect_timeout),
        (4, Duration::from_secs(5))
    );
    let serverless = settings(Preset::Serverless);
    assert_eq!(serverless.max_size, 1);
    assert_eq!(serverless.min_idle, 0);
    assert_eq!(serverless.acquire_timeout, Duration::from_secs(5));
    assert_eq!(serverless.idle_timeout, Some(Duration::from_secs(30)));
    let shown = serverless.to_string();
    assert!(shown.contains("max_size: 1"), "{shown}");
    assert!(shown.contains("acquire_timeout: 5s"), "{shown}");
    assert!(shown.contains("idle_timeout: 30s"), "{shown}");
}

/// `Config::from_env` reads `DATABASE_URL` and `POOL_PRESET`. The environment is changed
/// only in child processes (this test binary run again), never in this one.
#[test]
fn config_from_env_reads_database_url_and_pool_preset() {
    let name = tests::libtest_name(
        module_path!(),
        "config_from_env_reads_database_url_and_pool_preset",
    );
    if let Ok(expect) = std::env::var("POOL_SQLX_ENV_PROBE") {
        match (expect.as_str(), Config::from_env()) {
            ("serverless", Ok(config)) => {
                assert_eq!(config.preset, Preset::Serverless);
                assert_eq!(config.settings().max_size, 1);
                assert_eq!(config.kind, BackendKind::Postgres);
            }
            ("production", Ok(config)) => assert_eq!(config.preset, Preset::Production),
            ("unknown", Err(error)) => {
                assert_eq!(error.setting, "POOL_PRESET");
                assert!(error.to_string().contains("serverless"), "{error}");
            }
            ("no-url", Err(error)) => assert_eq!(error.setting, "DATABASE_URL"),
            ("misspelt-preset", Err(error)) => {
                assert_eq!(error.setting, "POOL_PRESET");
                assert!(
                    error.to_string().contains("did you mean `serverless`?"),
                    "{error}"
                );
            }
            ("misspelt-parameter", Err(error)) => {
                assert_eq!(error.setting, "url");
                assert!(
                    error
                        .to_string()
                        .contains("did you mean `connection_limit`?"),
                    "{error}"
                );
            }
            (expect, other) => panic!("{expect}: {other:?}"),
        }
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let run = |expect: &str, url: Option<&str>, preset: Option<&str>| {
        let mut command = std::process::Command::new(&exe);
        command
            .args(["--exact", name.as_str(), "--test-threads=1"])
            .env("POOL_SQLX_ENV_PROBE", expect)
            .env_remove("DATABASE_URL")
            .env_remove("POOL_PRESET");
        if let Some(url) = url {
            command.env("DATABASE_URL", url);
        }
        if let Some(preset) = preset {
            command.env("POOL_PRESET", preset);
        }
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "{expect}: {}",
            String::from_utf8_lossy(&output.stdout)
        );
    };
    let url = Some("postgres://app:pw@h/db");
    run("serverless", url, Some("ServerLess"));
    run("production", url, None);
    run("unknown", url, Some("lambda"));
    run("no-url", None, Some("test"));
    run("misspelt-preset", url, Some("serverles"));
    run(
        "misspelt-parameter",
        Some("postgres://app:pw@h/db?connection_limt=5"),
        None,
    );
}
