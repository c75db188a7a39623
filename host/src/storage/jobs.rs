//! Scheduled job runs, one row per job and period, resumable from their cursor.

use sqlx::Row;

use super::{Database, StorageError, failed};

impl Database {
    // ---- job runs ----------------------------------------------------------------------

    /// The recorded run of `job` for `period`, if any.
    pub async fn job_run(&self, job: &str, period: &str) -> Result<Option<JobRun>, StorageError> {
        let row = sqlx::query("SELECT period, finished_at, cursor, people, requests FROM job_runs WHERE job = $1 AND period = $2")
            .bind(job)
            .bind(period)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed("reading job runs"))?;
        row.map(|row| {
            Ok(JobRun {
                period: row.try_get(0)?,
                finished: row.try_get::<Option<i64>, _>(1)?.is_some(),
                cursor: row.try_get(2)?,
                people: row.try_get::<i64, _>(3)? as u64,
                requests: row.try_get::<i64, _>(4)? as u64,
            })
        })
        .transpose()
        .map_err(failed("reading job runs"))
    }

    /// The most recent finished period of `job`.
    pub async fn last_finished_period(&self, job: &str) -> Result<Option<String>, StorageError> {
        sqlx::query_scalar("SELECT period FROM job_runs WHERE job = $1 AND finished_at IS NOT NULL ORDER BY period DESC LIMIT 1")
            .bind(job)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed("reading job runs"))
    }
}

/// A job run as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    pub period: String,
    pub finished: bool,
    pub cursor: Option<String>,
    pub people: u64,
    pub requests: u64,
}
