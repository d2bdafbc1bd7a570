//! A loopback TCP proxy whose behaviour a test switches at run time, to put real faults
//! between a pool and a real database server: latency, stalls, resets, refusals and
//! black holes; and, armed with a byte pattern ([`FaultProxy::arm`]), a fault on the one
//! connection whose client sends it (cut before the statement reaches the server, or after
//! the server has answered it, or the answer withheld).
//!
//! It binds `127.0.0.1` on a free port and forwards only to a loopback upstream. Every
//! task it starts ends when the proxy is dropped.

use std::{
    io,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU8, AtomicU64, Ordering},
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

/// What an armed proxy does to the connection on which the client sends the pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnPattern {
    /// Reset the connection without forwarding the bytes: the server never sees them.
    CutBefore,
    /// Forward the bytes, wait for the server's answer, drop it and reset the connection:
    /// the server did the work and the client never hears of it.
    CutAfterReply,
    /// Forward the bytes and withhold every answer from then on; the connection stays
    /// open until the client gives up (the server did the work).
    StallReply,
}

/// An armed pattern: fires once, on the first client chunk that contains it.
type Trigger = Arc<Mutex<Option<(Vec<u8>, OnPattern)>>>;

/// What the server→client direction of one connection does with the server's bytes.
const REPLY_PASS: u8 = 0;
const REPLY_CUT: u8 = 1;
const REPLY_SWALLOW: u8 = 2;

/// What the proxy has done so far.
#[derive(Debug, Default)]
pub struct Counters {
    /// Armed patterns that fired.
    pub triggered: AtomicU64,
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
    trigger: Trigger,
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
        let trigger = Trigger::default();
        let mut tasks = JoinSet::new();
        tasks.spawn(accept_loop(
            listener,
            addr,
            upstream,
            watcher,
            Arc::clone(&counters),
            Arc::clone(&trigger),
        ));
        Ok(FaultProxy {
            addr,
            mode,
            counters,
            trigger,
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

    /// Arms a fault: the first chunk a client sends that contains `pattern` (a statement's
    /// text, such as `b"COMMIT"`) gets `action`, on that connection only; then the proxy
    /// disarms. Re-arming replaces a pattern that has not fired.
    pub fn arm(&self, pattern: &[u8], action: OnPattern) {
        let mut trigger = self
            .trigger
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        *trigger = Some((pattern.to_vec(), action));
    }

    /// Disarms a pattern that has not fired.
    pub fn disarm(&self) {
        let mut trigger = self
            .trigger
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        *trigger = None;
    }
}

/// The action armed for `chunk`, taken (the trigger fires once).
fn fire(trigger: &Trigger, chunk: &[u8]) -> Option<OnPattern> {
    let mut armed = trigger.lock().unwrap_or_else(|poison| poison.into_inner());
    let (pattern, action) = armed.as_ref()?;
    let found = !pattern.is_empty() && chunk.windows(pattern.len()).any(|w| w == pattern);
    let action = *action;
    if found {
        *armed = None;
        Some(action)
    } else {
        None
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
    trigger: Trigger,
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
                connections.spawn(connection(
                    client,
                    upstream,
                    mode.clone(),
                    Arc::clone(&counters),
                    Arc::clone(&trigger),
                ));
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
    trigger: Trigger,
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
    let reply = Arc::new(AtomicU8::new(REPLY_PASS));
    let upstream_pump = pump(
        client_read,
        server_write,
        mode.clone(),
        Arc::clone(&counters),
        Direction::Up {
            trigger,
            reply: Arc::clone(&reply),
        },
    );
    let downstream_pump = pump(
        server_read,
        client_write,
        mode,
        Arc::clone(&counters),
        Direction::Down { reply },
    );
    // When either direction ends, the other is dropped with it: the connection closes.
    let reset = tokio::select! {
        reset = upstream_pump => reset,
        reset = downstream_pump => reset,
    };
    if reset {
        counters.reset.fetch_add(1, Ordering::Relaxed);
    }
}

/// Which way a pump copies, with what an armed pattern needs on that side.
enum Direction {
    /// Client to server: where patterns are looked for.
    Up {
        trigger: Trigger,
        reply: Arc<AtomicU8>,
    },
    /// Server to client: where answers are cut or withheld after a pattern fired.
    Down { reply: Arc<AtomicU8> },
}

/// Copies bytes one way under the current mode; `true` when it ended in a reset
/// (`Mode::Reset`, or an armed pattern that cuts the connection).
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
    counters: Arc<Counters>,
    direction: Direction,
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
        match &direction {
            Direction::Up { trigger, reply } => match fire(trigger, &buffer[..length]) {
                None => {}
                Some(action) => {
                    counters.triggered.fetch_add(1, Ordering::SeqCst);
                    match action {
                        OnPattern::CutBefore => return true,
                        OnPattern::CutAfterReply => reply.store(REPLY_CUT, Ordering::SeqCst),
                        OnPattern::StallReply => reply.store(REPLY_SWALLOW, Ordering::SeqCst),
                    }
                }
            },
            Direction::Down { reply } => match reply.load(Ordering::SeqCst) {
                REPLY_CUT => return true,
                REPLY_SWALLOW => continue,
                _ => {}
            },
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
