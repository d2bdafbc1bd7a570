//! How an error the database server sent reads: its message, its code (SQLSTATE, MySQL's
//! error number, SQLite's result code) and, where the server gave them, its detail and
//! hint, on one line.
//!
//! sqlx's own `Display` for a PostgreSQL error appends the server's C source line
//! (`role "nouser" does not exist at line 768`), which reads like a line of the user's
//! code and says nothing they can act on; the detail and hint, which do, it leaves out.
//! Every error of this crate that shows a `sqlx::Error` shows it through [`DisplaySqlx`].

use std::{borrow::Cow, fmt};

use sqlx::error::DatabaseError;

/// A `sqlx::Error` as this crate's errors show it: a database error as
/// `database error: <message> (SQLSTATE <code>); detail: …; hint: …`, any other error as
/// sqlx shows it.
pub(crate) struct DisplaySqlx<'a>(pub(crate) &'a sqlx::Error);

impl fmt::Display for DisplaySqlx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            sqlx::Error::Database(error) => {
                write!(f, "database error: {}", ServerError::of(error.as_ref()))
            }
            other => fmt::Display::fmt(other, f),
        }
    }
}

/// What a shown `sqlx::Error` gives as its `source()`: nothing for a database error,
/// whose every part [`DisplaySqlx`] has shown already (sqlx's source there is the
/// server's error again, with the source line), sqlx's own source otherwise.
pub(crate) fn source_of(error: &sqlx::Error) -> Option<&(dyn std::error::Error + 'static)> {
    match error {
        sqlx::Error::Database(_) => None,
        other => std::error::Error::source(other),
    }
}

/// The parts of a server's error a person reads. Driver-free: the PostgreSQL fields are
/// the protocol's (`M`, `C`, `D`, `H`), whatever client received them.
struct ServerError<'a> {
    message: &'a str,
    code: Code<'a>,
    detail: Option<&'a str>,
    hint: Option<&'a str>,
}

/// Which code the server gave, in its own numbering.
enum Code<'a> {
    SqlState(&'a str),
    MySql {
        number: u16,
        sqlstate: Option<&'a str>,
    },
    Sqlite(Cow<'a, str>),
    Other(Cow<'a, str>),
    None,
}

impl<'a> ServerError<'a> {
    fn of(error: &'a (dyn DatabaseError + 'static)) -> Self {
        if let Some(pg) = error.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
            return ServerError {
                message: pg.message(),
                code: Code::SqlState(pg.code()),
                detail: pg.detail(),
                hint: pg.hint(),
            };
        }
        if let Some(mysql) = error.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
            return ServerError {
                message: mysql.message(),
                code: Code::MySql {
                    number: mysql.number(),
                    sqlstate: mysql.code(),
                },
                detail: None,
                hint: None,
            };
        }
        let code = match (
            error.try_downcast_ref::<sqlx::sqlite::SqliteError>(),
            error.code(),
        ) {
            (Some(_), Some(code)) => Code::Sqlite(code),
            (None, Some(code)) => Code::Other(code),
            (_, None) => Code::None,
        };
        ServerError {
            message: error.message(),
            code,
            detail: None,
            hint: None,
        }
    }
}

impl fmt::Display for ServerError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message)?;
        match &self.code {
            Code::SqlState(code) => write!(f, " (SQLSTATE {code})")?,
            Code::MySql {
                number,
                sqlstate: Some(code),
            } => write!(f, " (error {number}, SQLSTATE {code})")?,
            Code::MySql {
                number,
                sqlstate: None,
            } => write!(f, " (error {number})")?,
            Code::Sqlite(code) => write!(f, " (SQLite code {code})")?,
            Code::Other(code) => write!(f, " (code {code})")?,
            Code::None => {}
        }
        if let Some(detail) = self.detail {
            write!(f, "; detail: {detail}")?;
        }
        if let Some(hint) = self.hint {
            write!(f, "; hint: {hint}")?;
        }
        Ok(())
    }
}
