//! A loopback TCP proxy whose behaviour a test switches at run time, to put real faults
//! between a pool and a real database server: latency, stalls, resets, refusals and
//! black holes.
//!
//! It binds `127.0.0.1` on a free port and forwards only to a loopback upstream. Every
//! task it starts ends when the proxy is dropped.

use std::{
    io,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinSet,
};

/// What the proxy does with connections and the bytes on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward everything.
    Pass,
    /// Forward everything, each chunk this much later.
    Latency(Duration),
    /// Accept connections and bytes but forward nothing until the mode changes
    /// (a server that hangs mid-query).
    Stall,
    /// Reset every open connection now, and every new one as it arrives.
    Reset,
    /// Refuse new connections (the port is closed); open ones carry on.
    Refuse,
    /// Swallow bytes in both directions and forward nothing, for ever or until the mode
    /// changes (a network partition): unlike `Stall`, what was sent meanwhile is lost.
    Blackhole,
}

/// What the proxy has done so far.
#[derive(Debug, Default)]
pub struct Counters {
    /// Connections accepted and forwarded.
    pub accepted: AtomicU64,
    /// Connections reset by `Mode::Reset`.
    pub reset: AtomicU64,
    /// Bytes forwarded, both directions.
    pub bytes: AtomicU64,
    /// Connections open through the proxy right now.
    pub open: AtomicU64,
    /// The most connections that were open through the proxy at once.
    pub max_open: AtomicU64,
}

/// A copy of [`Counters`] at one moment, to compare two moments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Connections accepted and forwarded.
    pub accepted: u64,
    /// Connections reset.
    pub reset: u64,
    /// Bytes forwarded, both directions.
    pub bytes: u64,
    /// Connections open now.
    pub open: u64,
    /// The most connections open at once so far.
    pub max_open: u64,
}

impl Counters {
    /// The counters now.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            accepted: self.accepted.load(Ordering::SeqCst),
            reset: self.reset.load(Ordering::SeqCst),
            bytes: self.bytes.load(Ordering::SeqCst),
            open: self.open.load(Ordering::SeqCst),
            max_open: self.max_open.load(Ordering::SeqCst),
        }
    }
}

/// Counts a forwarded connection as open for as long as it lives.
struct OpenGuard(Arc<Counters>);

impl OpenGuard {
    fn enter(counters: &Arc<Counters>) -> Self {
        let now = counters.open.fetch_add(1, Ordering::SeqCst) + 1;
        counters.max_open.fetch_max(now, Ordering::SeqCst);
        OpenGuard(Arc::clone(counters))
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running proxy. Dropping it stops every task and closes every connection.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    counters: Arc<Counters>,
    tasks: JoinSet<()>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream`, which must be a loopback address.
    pub async fn start(upstream: SocketAddr) -> io::Result<Self> {
        if !upstream.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the fault proxy only forwards to loopback addresses, not {upstream}"),
            ));
        }
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (mode, watcher) = watch::channel(Mode::Pass);
        let counters = Arc::new(Counters::default());
        let mut tasks = JoinSet::new();
        tasks.spawn(accept_loop(
            listener,
            addr,
            upstream,
            watcher,
            Arc::clone(&counters),
        ));
        Ok(FaultProxy {
            addr,
            mode,
            counters,
            tasks,
        })
    }

    /// Starts a proxy to the host and port of a database URL (`postgres://…`, `mysql://…`).
    pub async fn for_url(url: &str) -> io::Result<Self> {
        let parsed = url::Url::parse(url)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        let host = match parsed.host_str() {
            Some("localhost") | None => "127.0.0.1",
            Some(host) => host,
        };
        let port = parsed
            .port_or_known_default()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the URL has no port"))?;
        let ip = host
            .parse()
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        Self::start(SocketAddr::new(ip, port)).await
    }

    /// The proxy's own address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `url` with its host and port replaced by the proxy's.
    pub fn url_through(&self, url: &str) -> String {
        match url::Url::parse(url) {
            Ok(mut parsed) => {
                let _ = parsed.set_host(Some("127.0.0.1"));
                let _ = parsed.set_port(Some(self.addr.port()));
                parsed.to_string()
            }
            Err(_) => url.to_string(),
        }
    }

    /// Switches the behaviour, for open and new connections alike.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// The current behaviour.
    pub fn mode(&self) -> Mode {
        *self.mode.borrow()
    }

    /// What the proxy has done so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

async fn accept_loop(
    mut listener: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    mut mode: watch::Receiver<Mode>,
    counters: Arc<Counters>,
) {
    let mut connections = JoinSet::new();
    loop {
        if *mode.borrow_and_update() == Mode::Refuse {
            // Close the port so connects are refused, and listen again when the mode changes.
            drop(listener);
            if mode.changed().await.is_err() {
                return;
            }
            listener = match TcpListener::bind(addr).await {
                Ok(listener) => listener,
                Err(_) => return,
            };
            continue;
        }
        tokio::select! {
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                if *mode.borrow() == Mode::Reset {
                    reset(client);
                    counters.reset.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                counters.accepted.fetch_add(1, Ordering::Relaxed);
                connections.spawn(connection(client, upstream, mode.clone(), Arc::clone(&counters)));
            }
        }
        // Reap finished connection tasks so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
    }
}

/// Closes a socket with an RST rather than a FIN.
fn reset(stream: TcpStream) {
    let _ = set_zero_linger(&stream);
    drop(stream);
}

async fn connection(
    client: TcpStream,
    upstream: SocketAddr,
    mode: watch::Receiver<Mode>,
    counters: Arc<Counters>,
) {
    let _open = OpenGuard::enter(&counters);
    let Ok(server) = TcpStream::connect(upstream).await else {
        reset(client);
        return;
    };
    // With a zero linger, closing a socket sends an RST: `Mode::Reset` only has to drop
    // the connection. (A normal close is abrupt too, which no test relies on.)
    for stream in [&client, &server] {
        let _ = stream.set_nodelay(true);
        let _ = set_zero_linger(stream);
    }
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let upstream_pump = pump(
        client_read,
        server_write,
        mode.clone(),
        Arc::clone(&counters),
    );
    let downstream_pump = pump(server_read, client_write, mode, Arc::clone(&counters));
    // When either direction ends, the other is dropped with it: the connection closes.
    let reset = tokio::select! {
        reset = upstream_pump => reset,
        reset = downstream_pump => reset,
    };
    if reset {
        counters.reset.fetch_add(1, Ordering::Relaxed);
    }
}

/// Copies bytes one way under the current mode; `true` when it ended for `Mode::Reset`.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
    counters: Arc<Counters>,
) -> bool {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            changed = mode.changed() => {
                if changed.is_err() {
                    return false;
                }
                if *mode.borrow() == Mode::Reset {
                    return true;
                }
                continue;
            }
        };
        let length = match read {
            Ok(0) | Err(_) => return false,
            Ok(length) => length,
        };
        // Decide what to do with this chunk; a stall holds it until the mode changes.
        let forward = loop {
            let current = *mode.borrow_and_update();
            match current {
                Mode::Pass | Mode::Refuse => break true,
                Mode::Latency(delay) => {
                    tokio::time::sleep(delay).await;
                    break true;
                }
                Mode::Reset => return true,
                Mode::Blackhole => break false,
                Mode::Stall => {
                    if mode.changed().await.is_err() {
                        return false;
                    }
                }
            }
        };
        if !forward {
            continue;
        }
        if to.write_all(&buffer[..length]).await.is_err() {
            return false;
        }
        counters.bytes.fetch_add(length as u64, Ordering::Relaxed);
    }
}

#[allow(deprecated)] // `set_linger` is deprecated in favour of a name newer tokio releases add
fn set_zero_linger(stream: &TcpStream) -> io::Result<()> {
    stream.set_linger(Some(Duration::ZERO))
}
