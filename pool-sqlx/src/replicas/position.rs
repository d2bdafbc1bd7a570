//! Where a server's write-ahead log stands: [`Lsn`], a standby's [`ReplayPosition`], the
//! primary's position, and the [`WriteToken`] a read-your-writes read waits for.

use super::*;

/// A position in PostgreSQL's write-ahead log (a `pg_lsn`), as a byte offset. Displays as
/// PostgreSQL writes it (`16/B374D848`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

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

/// Where a server's WAL receive and replay stand, read by
/// [`Backend::replay_position`].
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
    /// The standby lag `HostHealth` reports: (milliseconds, 0 when
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

/// The primary's WAL positions: `pg_current_wal_lsn()` (written) and
/// `pg_current_wal_insert_lsn()` (inserted), one parameterless simple-protocol query.
pub(super) async fn primary_position(conn: &mut PgConnection) -> Result<(Lsn, Lsn), sqlx::Error> {
    let row = sqlx::raw_sql(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::int8, \
                pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::int8",
    )
    .fetch_one(&mut *conn)
    .await?;
    let lsn = |value: i64| {
        u64::try_from(value)
            .map(Lsn)
            .map_err(|_| sqlx::Error::Protocol(format!("negative WAL position {value}")))
    };
    Ok((lsn(row.try_get(0)?)?, lsn(row.try_get(1)?)?))
}

/// What a read must have seen: the primary's WAL insert position after a write
/// committed. Read it with [`Replicas::write_token`], [`WriteToken::read`] or
/// [`Replicas::transaction`]; hand it to [`Replicas::replica_after`].
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

    /// A token for a known WAL position.
    pub fn at(lsn: Lsn) -> WriteToken {
        WriteToken {
            lsn: Some(lsn),
            nothing: false,
        }
    }

    /// Reads the position on `conn`, a connection to the primary, after the write
    /// committed (outside the write's transaction or after it).
    pub async fn read(conn: &mut PgConnection) -> Result<WriteToken, sqlx::Error> {
        let (_, inserted) = primary_position(conn).await?;
        Ok(WriteToken::at(inserted))
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
