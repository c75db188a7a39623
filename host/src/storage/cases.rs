//! Rights-request cases as rows (`rights_requests`): written by a unit of work's commit,
//! with the events of their streams (`commit.rs`), and read back by id, by person and by
//! deadline. What a case means is `crate::cases`'; this file only stores it.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Database, StorageError, failed};

/// Every column, in the order rows are written and read.
const COLUMNS: &str = "id, kind, module, record_id, address, regime, status, received_on, acknowledge_by, acknowledged_at, due_on, extended_at, extension_reason, code_digest, code_expires_at, codes_sent, wrong_codes, identity_verified_at, closed_at, opened_at, updated_at";

/// A case as stored: dates as `YYYY-MM-DD` (UTC), times as unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RightsRequestRow {
    pub id: String,
    pub kind: String,
    pub module: String,
    pub record_id: String,
    pub address: Option<String>,
    pub regime: String,
    pub status: String,
    pub received_on: String,
    pub acknowledge_by: Option<String>,
    pub acknowledged_at: Option<i64>,
    pub due_on: String,
    pub extended_at: Option<i64>,
    pub extension_reason: Option<String>,
    pub code_digest: Option<Vec<u8>>,
    pub code_expires_at: Option<i64>,
    pub codes_sent: i64,
    pub wrong_codes: i64,
    pub identity_verified_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub opened_at: i64,
    pub updated_at: i64,
}

/// Which cases a list shows; every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct RightsRequestFilter {
    /// Only cases in one of these statuses (any status when empty).
    pub statuses: Vec<String>,
    /// Only cases due strictly before this date (`YYYY-MM-DD`).
    pub due_before: Option<String>,
    /// Only cases due on or after this date.
    pub due_from: Option<String>,
    /// Only the cases of this person (module, record id).
    pub person: Option<(String, String)>,
}

impl Database {
    /// One case.
    pub async fn rights_request(&self, id: &str) -> Result<Option<RightsRequestRow>, StorageError> {
        let sql = format!("SELECT {COLUMNS} FROM rights_requests WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed("reading a rights request"))?;
        row.as_ref()
            .map(rights_request_row)
            .transpose()
            .map_err(failed("reading a rights request"))
    }

    /// The cases `filter` selects, soonest due first (then by id), at most `limit`.
    pub async fn rights_requests(
        &self,
        filter: &RightsRequestFilter,
        limit: u32,
    ) -> Result<Vec<RightsRequestRow>, StorageError> {
        let mut conditions = Vec::new();
        let mut values: Vec<String> = Vec::new();
        let next = |value: &str, values: &mut Vec<String>| {
            values.push(value.to_owned());
            format!("${}", values.len())
        };
        if !filter.statuses.is_empty() {
            let placeholders: Vec<String> = filter
                .statuses
                .iter()
                .map(|status| next(status, &mut values))
                .collect();
            conditions.push(format!("status IN ({})", placeholders.join(", ")));
        }
        if let Some(before) = &filter.due_before {
            conditions.push(format!("due_on < {}", next(before, &mut values)));
        }
        if let Some(from) = &filter.due_from {
            conditions.push(format!("due_on >= {}", next(from, &mut values)));
        }
        if let Some((module, record_id)) = &filter.person {
            let module = next(module, &mut values);
            let record_id = next(record_id, &mut values);
            conditions.push(format!("module = {module} AND record_id = {record_id}"));
        }
        let clause = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM rights_requests{clause} ORDER BY due_on, id LIMIT ${}",
            values.len() + 1
        );
        let query = values
            .iter()
            .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |query, value| {
                query.bind(value.clone())
            })
            .bind(i64::from(limit));
        let rows = query
            .fetch_all(&self.pool)
            .await
            .map_err(failed("listing rights requests"))?;
        rows.iter()
            .map(rights_request_row)
            .collect::<Result<_, _>>()
            .map_err(failed("listing rights requests"))
    }
}

/// Writes a case in its complete new form (a commit step, under the writers' lock).
pub(super) async fn write_rights_request(
    transaction: &mut Transaction<'_, Any>,
    case: &RightsRequestRow,
) -> Result<(), StorageError> {
    let placeholders: Vec<String> = (1..=21).map(|index| format!("${index}")).collect();
    let updates: Vec<String> = COLUMNS
        .split(", ")
        .filter(|column| *column != "id")
        .map(|column| format!("{column} = excluded.{column}"))
        .collect();
    let sql = format!(
        "INSERT INTO rights_requests ({COLUMNS}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET {}",
        placeholders.join(", "),
        updates.join(", ")
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(case.id.clone())
        .bind(case.kind.clone())
        .bind(case.module.clone())
        .bind(case.record_id.clone())
        .bind(case.address.clone())
        .bind(case.regime.clone())
        .bind(case.status.clone())
        .bind(case.received_on.clone())
        .bind(case.acknowledge_by.clone())
        .bind(case.acknowledged_at)
        .bind(case.due_on.clone())
        .bind(case.extended_at)
        .bind(case.extension_reason.clone())
        .bind(case.code_digest.clone())
        .bind(case.code_expires_at)
        .bind(case.codes_sent)
        .bind(case.wrong_codes)
        .bind(case.identity_verified_at)
        .bind(case.closed_at)
        .bind(case.opened_at)
        .bind(case.updated_at)
        .execute(&mut **transaction)
        .await
        .map_err(failed("writing a rights request"))?;
    Ok(())
}

/// Empties the address of every case that holds `address` (normalised): an erased
/// person's address leaves no copy in the cases either (a commit step, with the
/// forgetting of their mail).
pub(super) async fn forget_case_address(
    transaction: &mut Transaction<'_, Any>,
    address: &str,
) -> Result<(), StorageError> {
    sqlx::query("UPDATE rights_requests SET address = NULL WHERE address = $1")
        .bind(address)
        .execute(&mut **transaction)
        .await
        .map_err(failed(
            "forgetting an erased address in the rights requests",
        ))?;
    Ok(())
}

fn rights_request_row(row: &AnyRow) -> Result<RightsRequestRow, sqlx::Error> {
    Ok(RightsRequestRow {
        id: row.try_get(0)?,
        kind: row.try_get(1)?,
        module: row.try_get(2)?,
        record_id: row.try_get(3)?,
        address: row.try_get(4)?,
        regime: row.try_get(5)?,
        status: row.try_get(6)?,
        received_on: row.try_get(7)?,
        acknowledge_by: row.try_get(8)?,
        acknowledged_at: row.try_get(9)?,
        due_on: row.try_get(10)?,
        extended_at: row.try_get(11)?,
        extension_reason: row.try_get(12)?,
        code_digest: row.try_get(13)?,
        code_expires_at: row.try_get(14)?,
        codes_sent: row.try_get(15)?,
        wrong_codes: row.try_get(16)?,
        identity_verified_at: row.try_get(17)?,
        closed_at: row.try_get(18)?,
        opened_at: row.try_get(19)?,
        updated_at: row.try_get(20)?,
    })
}
