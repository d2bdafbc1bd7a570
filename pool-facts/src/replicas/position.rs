//! Where a server's write-ahead log stands: [`Lsn`], a standby's [`ReplayPosition`], the
//! primary's [`PrimaryPosition`], the queries that read them, and the [`WriteToken`] a
//! read-your-writes read waits for.

use std::fmt;

/// The primary's WAL positions as byte offsets: written (`pg_current_wal_lsn()`) and
/// inserted (`pg_current_wal_insert_lsn()`). One parameterless simple-protocol query;
/// the answer is two `int8`s.
pub const PRIMARY_POSITION_QUERY: &str = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::int8, \
            pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::int8";

/// Where a server's WAL receive and replay stand: `pg_is_in_recovery()`, the receive and
/// replay LSNs as byte offsets (`pg_lsn` has no type in every driver; NULL on a primary)
/// and the age in milliseconds of the last replayed commit (the primary's commit time
/// against the standby's clock). One parameterless simple-protocol query (works behind
/// PgBouncer); the answer is a `bool`, two `int8`s and a `float8`.
pub const REPLAY_POSITION_QUERY: &str = "SELECT pg_is_in_recovery(), \
            pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0')::int8, \
            pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::int8, \
            (extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::float8";

/// A position in PostgreSQL's write-ahead log (a `pg_lsn`), as a byte offset. Displays as
/// PostgreSQL writes it (`16/B374D848`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl Lsn {
    /// The position from a byte offset as the queries give it (`int8`); `None` for a
    /// negative one, which no server gives.
    pub fn from_offset(offset: i64) -> Option<Lsn> {
        u64::try_from(offset).ok().map(Lsn)
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl serde::Serialize for Lsn {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The primary's WAL positions, read by `PRIMARY_POSITION_QUERY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PrimaryPosition {
    /// `pg_current_wal_lsn()`: written out; what the lag probe compares replicas with.
    pub written: Lsn,
    /// `pg_current_wal_insert_lsn()`: inserted, at least the end of every commit record;
    /// what a [`WriteToken`] holds.
    pub inserted: Lsn,
}

impl PrimaryPosition {
    /// The positions from the query's two byte offsets.
    pub fn from_offsets(written: i64, inserted: i64) -> Result<PrimaryPosition, &'static str> {
        match (Lsn::from_offset(written), Lsn::from_offset(inserted)) {
            (Some(written), Some(inserted)) => Ok(PrimaryPosition { written, inserted }),
            _ => Err("the primary gave a negative WAL position"),
        }
    }

    /// The positions from the query's answer in the simple protocol's text (a driver that
    /// reads text columns: tokio-postgres's `simple_query`).
    pub fn from_text(columns: [Option<&str>; 2]) -> Result<PrimaryPosition, &'static str> {
        let offset = |column: Option<&str>| {
            column
                .and_then(|text| text.parse::<i64>().ok())
                .ok_or("the primary's WAL position is not a number")
        };
        PrimaryPosition::from_offsets(offset(columns[0])?, offset(columns[1])?)
    }
}

/// Where a server's WAL receive and replay stand, read by `REPLAY_POSITION_QUERY`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ReplayPosition {
    /// `pg_is_in_recovery()`: the server is a standby.
    pub in_recovery: bool,
    /// `pg_last_wal_receive_lsn()`: WAL received and flushed from the primary (`None` on
    /// a primary, or a standby that streams nothing).
    pub received: Option<Lsn>,
    /// `pg_last_wal_replay_lsn()`: WAL replayed, visible to queries (`None` on a primary).
    pub replayed: Option<Lsn>,
    /// Milliseconds since the last replayed commit was committed on the primary
    /// (`now() - pg_last_xact_replay_timestamp()`; `None` before the first one).
    pub last_replay_age_ms: Option<f64>,
}

impl ReplayPosition {
    /// The position from the query's typed columns.
    pub fn new(
        in_recovery: bool,
        received: Option<i64>,
        replayed: Option<i64>,
        last_replay_age_ms: Option<f64>,
    ) -> ReplayPosition {
        ReplayPosition {
            in_recovery,
            received: received.and_then(Lsn::from_offset),
            replayed: replayed.and_then(Lsn::from_offset),
            last_replay_age_ms,
        }
    }

    /// The position from the query's answer in the simple protocol's text (`t`/`f`,
    /// decimal numbers, `None` for NULL).
    pub fn from_text(columns: [Option<&str>; 4]) -> Result<ReplayPosition, &'static str> {
        let in_recovery = match columns[0] {
            Some("t") => true,
            Some("f") => false,
            _ => return Err("pg_is_in_recovery() is not a boolean"),
        };
        let offset = |column: Option<&str>| match column {
            None => Ok(None),
            Some(text) => text
                .parse::<i64>()
                .map(Some)
                .map_err(|_| "a WAL position is not a number"),
        };
        let age = match columns[3] {
            None => None,
            Some(text) => Some(
                text.parse::<f64>()
                    .map_err(|_| "the last replayed commit's age is not a number")?,
            ),
        };
        Ok(ReplayPosition::new(
            in_recovery,
            offset(columns[1])?,
            offset(columns[2])?,
            age,
        ))
    }

    /// The standby lag a health report's host entry shows: (milliseconds, 0 when
    /// everything received is replayed, else the last replayed commit's age; bytes
    /// received but not replayed).
    pub fn health_lag(&self) -> (Option<f64>, i64) {
        let caught_up = self.received.is_some() && self.received == self.replayed;
        let ms = if caught_up {
            Some(0.0)
        } else {
            self.last_replay_age_ms
        };
        let bytes = match (self.received, self.replayed) {
            (Some(received), Some(replayed)) => {
                i64::try_from(received.0.saturating_sub(replayed.0)).unwrap_or(i64::MAX)
            }
            _ => 0,
        };
        (ms, bytes)
    }
}

/// What a read must have seen: the primary's WAL insert position after a write
/// committed. Read it with `Replicas::write_token` or `Replicas::transaction`; hand it to
/// `Replicas::replica_after`.
///
/// A token whose position could not be read ([`WriteToken::unknown`]) sends reads to the
/// primary: never a stale read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WriteToken {
    /// `None`: unknown, read from the primary.
    pub(super) lsn: Option<Lsn>,
    /// `true` for [`WriteToken::none`]: nothing to wait for.
    pub(super) nothing: bool,
}

impl WriteToken {
    /// A token for a session that wrote nothing: any replica will do.
    pub fn none() -> WriteToken {
        WriteToken {
            lsn: None,
            nothing: true,
        }
    }

    /// A token whose position is not known: reads go to the primary.
    pub fn unknown() -> WriteToken {
        WriteToken {
            lsn: None,
            nothing: false,
        }
    }

    /// A token for a known WAL position (a [`PrimaryPosition::inserted`] read after the
    /// write committed).
    pub fn at(lsn: Lsn) -> WriteToken {
        WriteToken {
            lsn: Some(lsn),
            nothing: false,
        }
    }

    /// The WAL position, when known.
    pub fn lsn(&self) -> Option<Lsn> {
        self.lsn
    }

    /// The token for a session that made both writes: the later position; unknown if
    /// either is unknown.
    pub fn and(self, other: WriteToken) -> WriteToken {
        match (self, other) {
            (a, b) if a.nothing => b,
            (a, b) if b.nothing => a,
            (WriteToken { lsn: Some(a), .. }, WriteToken { lsn: Some(b), .. }) => {
                WriteToken::at(a.max(b))
            }
            _ => WriteToken::unknown(),
        }
    }
}
