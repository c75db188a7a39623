//! The database products the host runs on, and what differs between them: the migration
//! set, the pool size, the session settings, and (in [`super::erasure`]) how erased values
//! are purged from the files. Every query is the same text on both.

use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, Executor};

use super::StorageError;

/// The database product a URL names. Queries are shared; what differs is listed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend of `url`, by its scheme: `sqlite:` or `postgres:` (`postgresql:`).
    pub fn of_url(url: &str) -> Result<Backend, StorageError> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(StorageError::UnsupportedUrl {
                // Only the scheme: the rest of a URL may hold a password.
                found: if !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                {
                    format!("it starts with `{scheme}:`")
                } else {
                    "it has no scheme".to_owned()
                },
            }),
        }
    }

    /// The migrations of this backend's schema (the same tables in each dialect).
    pub(super) fn migrator(self) -> Migrator {
        match self {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        }
    }

    /// Connections per pool. SQLite has one writer at a time whatever the pool size.
    pub(super) fn max_connections(self) -> u32 {
        match self {
            Backend::Sqlite => 4,
            Backend::Postgres => 10,
        }
    }

    /// How long an unused connection stays open. Connections are opened on demand (none is
    /// kept open for its own sake), so a tenant nobody calls holds no connection, no
    /// file and, on SQLite, no connection thread once this has passed: what lets one host
    /// keep thousands of tenants. A SQLite connection opens in about a millisecond; a
    /// PostgreSQL one costs the server a process, so it is kept longer.
    pub(super) fn idle_timeout(self) -> std::time::Duration {
        match self {
            Backend::Sqlite => std::time::Duration::from_secs(15),
            Backend::Postgres => std::time::Duration::from_secs(120),
        }
    }

    /// Session settings run on every new connection.
    pub(super) async fn configure(self, connection: &mut AnyConnection) -> Result<(), sqlx::Error> {
        match self {
            // Consent data must survive a power cut: WAL with full syncs. Deleted content is
            // overwritten with zeros, so an erasure leaves nothing readable in free pages.
            Backend::Sqlite => {
                connection.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;").await?;
            }
            // The writers' lock relies on READ COMMITTED (a fresh snapshot per statement, and
            // a waiting UPDATE that re-reads the row): set it, whatever the server's default.
            Backend::Postgres => {
                connection
                    .execute(
                        "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED",
                    )
                    .await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_is_chosen_by_the_urls_scheme_and_an_unknown_one_is_named_without_the_rest() {
        let cases = [
            (
                "sqlite://data/privacy-guard.db?mode=rwc",
                Some(Backend::Sqlite),
            ),
            ("sqlite::memory:", Some(Backend::Sqlite)),
            (
                "postgres://guard@db.internal/privacy",
                Some(Backend::Postgres),
            ),
            (
                "postgresql://guard@db.internal/privacy",
                Some(Backend::Postgres),
            ),
            ("mysql://guard:secret@db/privacy", None),
        ];
        for (url, expected) in cases {
            assert_eq!(Backend::of_url(url).ok(), expected, "{url}");
        }
        let message = Backend::of_url("mysql://guard:secret@db/privacy")
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(
            message.contains("starts with `mysql:`") && !message.contains("secret"),
            "{message}"
        );
        let message = Backend::of_url("db.internal/privacy")
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(message.ends_with("it has no scheme"), "{message}");
    }
}
