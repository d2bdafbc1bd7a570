//! Running an example binary the way a person does: a plain command, an environment,
//! no flags added; its exit status, what it printed and how long it took.

use std::{
    io::Read,
    net::{Ipv4Addr, TcpListener},
    process::{Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

/// What one run of a binary did.
#[derive(Debug)]
pub struct Run {
    /// How it exited.
    pub status: ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
    /// From spawn to exit.
    pub took: Duration,
}

impl Run {
    /// The lines of stderr (empty lines left out).
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|line| !line.trim().is_empty())
            .collect()
    }

    /// What a person sees when the program's database refuses: one `error: …` line in
    /// `Display` form naming the refusal, nothing else (the eager start retries a refused
    /// connect while the connect timeout lasts, without logging: its error is the one
    /// line). Panics, listing stderr, when it is otherwise.
    pub fn assert_refused_start(&self) {
        let lines = self.stderr_lines();
        assert_eq!(lines.len(), 1, "one line on stderr: {lines:#?}");
        assert!(lines[0].starts_with("error: "), "{lines:#?}");
        assert!(lines[0].to_lowercase().contains("refused"), "{lines:#?}");
        assert!(
            !lines[0].contains("PgDatabaseError") && !lines[0].contains(" { "),
            "Display, not Debug: {lines:#?}"
        );
    }

    /// What a person sees with `POOL_PRESET=bogus`: exit status 1 and one line on
    /// stderr naming the variable and the value. Panics, listing the run, otherwise.
    pub fn assert_bogus_preset(&self) {
        assert_eq!(self.status.code(), Some(1), "{self:#?}");
        let lines = self.stderr_lines();
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(
            lines[0].starts_with("error: POOL_PRESET is `bogus`"),
            "{lines:?}"
        );
    }
}

/// Runs `command` to its end, killing it (and failing the test) if it is still running
/// after `limit`. stdout and stderr are read on threads so that a full pipe never stalls
/// the child.
pub fn run_bounded(mut command: Command, limit: Duration) -> Run {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{command:?} does not start: {error}"));
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = reader(Box::new(child.stdout.take().expect("stdout is piped")));
    let stderr = reader(Box::new(child.stderr.take().expect("stderr is piped")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("the exit status is readable") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = stderr.join().unwrap_or_default();
            panic!("{command:?} still running after {limit:?}; stderr:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = started.elapsed();
    Run {
        status,
        stdout: stdout.join().expect("the stdout reader does not panic"),
        stderr: stderr.join().expect("the stderr reader does not panic"),
        took,
    }
}

/// A loopback port nothing listens on (bound, then released): a connect to it is
/// refused, as one to a mistyped port is.
pub fn refused_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free loopback port");
    listener.local_addr().expect("a bound address").port()
}

/// The example `name` of the `examples` package, as `cargo test` builds it: in the
/// `examples` directory beside the running test binary's `deps` (cargo builds every
/// example of a package before it runs that package's tests).
///
/// # Panics
/// When the binary is missing or older than the example's source: a filtered run
/// (`cargo test -p examples --test run`) builds no example, and a stale one would test
/// old code. The message says what to run.
pub fn example(name: &str) -> std::path::PathBuf {
    let built = std::env::current_exe()
        .ok()
        .and_then(|test| Some(test.parent()?.parent()?.join("examples").join(name)));
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/examples")
        .join(format!("{name}.rs"));
    let modified = |path: &std::path::Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    match built {
        Some(built)
            if modified(&built)
                .is_some_and(|binary| modified(&source).is_none_or(|source| binary >= source)) =>
        {
            built
        }
        _ => panic!(
            "the `{name}` example is not built, or is older than examples/examples/{name}.rs: \
             run `cargo test -p examples` (which builds the examples first) or \
             `cargo build -p examples --examples`, then this test"
        ),
    }
}
