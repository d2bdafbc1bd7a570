//! `SqlxConnection`: the pooled connection, a sqlx connection plus what the pool must
//! know about it on return.

use std::{
    borrow::{Borrow, BorrowMut},
    fmt,
    ops::{Deref, DerefMut},
};

use pool_core::ErrorClass;
use sqlx::{
    MySql, Postgres, Sqlite, mysql::MySqlConnection, postgres::PgConnection,
    sqlite::SqliteConnection,
};

use crate::{Backend, classify, host_tally::HostSeat};

/// A pooled sqlx connection. Derefs (and `BorrowMut`s) to the sqlx connection, so
/// `&mut *conn` is a sqlx executor and `#[pooled]` bodies take `&mut PgConnection`.
///
/// sqlx cannot say whether a connection is broken, so this wrapper remembers: a
/// `Connection`-class error passed to [`observe`](Self::observe), or an
/// [`operation`](Self::operation) dropped before it finished, marks it broken and the
/// pool discards it on return, without a round trip.
pub struct SqlxConnection<DB: Backend> {
    raw: DB::Connection,
    broken: bool,
    /// Its place in its host's count (multi-host URLs): given back when it is dropped.
    seat: Option<HostSeat>,
}

impl<DB: Backend> SqlxConnection<DB> {
    pub(crate) fn new(raw: DB::Connection, seat: Option<HostSeat>) -> Self {
        SqlxConnection {
            raw,
            broken: false,
            seat,
        }
    }

    /// Takes this connection out of its host's count (`pool_host_connections`): for a
    /// connection the manager opened that the pool does not hold.
    pub(crate) fn leave_host_count(&mut self) {
        self.seat = None;
    }

    /// The sqlx connection.
    pub fn raw(&self) -> &DB::Connection {
        &self.raw
    }

    /// The sqlx connection, mutably.
    pub fn raw_mut(&mut self) -> &mut DB::Connection {
        &mut self.raw
    }

    /// Unwraps the sqlx connection.
    pub fn into_raw(self) -> DB::Connection {
        self.raw
    }

    /// Whether this connection must not be reused.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Marks the connection as unusable: the pool closes it on return.
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// Records the outcome of a query: a `Connection`-class error marks it broken.
    pub fn observe<T>(&mut self, outcome: &Result<T, sqlx::Error>) {
        if let Err(error) = outcome
            && classify::classify(error) == ErrorClass::Connection
        {
            self.broken = true;
        }
    }

    /// Starts an operation that must run to its end. Until
    /// [`Operation::finish`] is called the connection counts as broken, so if the
    /// query future is dropped mid-flight (timeout, cancellation) the pool discards the
    /// connection instead of handing it out with a half-read response.
    pub fn operation(&mut self) -> Operation<'_, DB> {
        self.broken = true;
        Operation { conn: self }
    }
}

/// An operation in flight on a [`SqlxConnection`] (see [`SqlxConnection::operation`]).
/// Derefs to the sqlx connection.
#[must_use = "an operation that is never finished leaves the connection marked broken"]
pub struct Operation<'c, DB: Backend> {
    conn: &'c mut SqlxConnection<DB>,
}

impl<DB: Backend> Operation<'_, DB> {
    /// Ends the operation; the connection stays usable unless `outcome` is a
    /// `Connection`-class error.
    pub fn finish<T>(self, outcome: &Result<T, sqlx::Error>) {
        self.conn.broken = false;
        self.conn.observe(outcome);
    }
}

impl<DB: Backend> Deref for Operation<'_, DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        &self.conn.raw
    }
}

impl<DB: Backend> DerefMut for Operation<'_, DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.conn.raw
    }
}

impl<DB: Backend> fmt::Debug for SqlxConnection<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlxConnection")
            .field("backend", &<DB as Backend>::KIND.name())
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl<DB: Backend> Deref for SqlxConnection<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        &self.raw
    }
}

impl<DB: Backend> DerefMut for SqlxConnection<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.raw
    }
}

macro_rules! borrow_raw {
    ($($db:ty => $conn:ty),*) => {$(
        impl Borrow<$conn> for SqlxConnection<$db> {
            fn borrow(&self) -> &$conn {
                &self.raw
            }
        }
        impl BorrowMut<$conn> for SqlxConnection<$db> {
            fn borrow_mut(&mut self) -> &mut $conn {
                &mut self.raw
            }
        }
    )*};
}

borrow_raw!(Postgres => PgConnection, MySql => MySqlConnection, Sqlite => SqliteConnection);
