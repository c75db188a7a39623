//! A case to and from its stored row (`storage::RightsRequestRow`): the one place that
//! knows how the words and dates of a case are written.

use chrono::NaiveDate;

use super::identity::CodeState;
use super::{Case, CaseKind, CaseStatus, Regime};
use crate::storage::RightsRequestRow;

/// A stored case the host cannot read: the database was changed outside the host.
#[derive(Debug, thiserror::Error)]
#[error(
    "rights request {id} is stored with an unreadable {column} ({value:?}); restore it from a backup or the case's events (`case show`)"
)]
pub struct UnreadableCase {
    pub id: String,
    pub column: &'static str,
    pub value: String,
}

impl Case {
    /// The row that stores the case.
    pub fn to_row(&self) -> RightsRequestRow {
        RightsRequestRow {
            id: self.id.clone(),
            kind: self.kind.as_str().to_owned(),
            module: self.module.clone(),
            record_id: self.record_id.clone(),
            address: self.address.clone(),
            regime: self.regime.as_str().to_owned(),
            status: self.status.as_str().to_owned(),
            received_on: self.received_on.to_string(),
            acknowledge_by: self.acknowledge_by.map(|date| date.to_string()),
            acknowledged_at: self.acknowledged_at,
            due_on: self.due_on.to_string(),
            extended_at: self.extended_at,
            extension_reason: self.extension_reason.clone(),
            code_digest: self.identity.digest.map(|digest| digest.to_vec()),
            code_expires_at: self.identity.code_expires_at,
            codes_sent: i64::from(self.identity.codes_sent),
            wrong_codes: i64::from(self.identity.wrong_codes),
            identity_verified_at: self.identity_verified_at,
            closed_at: self.closed_at,
            opened_at: self.opened_at,
            updated_at: self.updated_at,
        }
    }

    /// The case a row stores.
    pub fn from_row(row: RightsRequestRow) -> Result<Case, UnreadableCase> {
        let unreadable = |column: &'static str, value: &str| UnreadableCase {
            id: row.id.clone(),
            column,
            value: value.to_owned(),
        };
        let date = |column: &'static str, value: &str| {
            NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| unreadable(column, value))
        };
        let count = |column: &'static str, value: i64| {
            u32::try_from(value).map_err(|_| unreadable(column, &value.to_string()))
        };
        let digest = match &row.code_digest {
            None => None,
            Some(bytes) => Some(
                <[u8; 32]>::try_from(bytes.as_slice())
                    .map_err(|_| unreadable("code_digest", &format!("{} bytes", bytes.len())))?,
            ),
        };
        Ok(Case {
            kind: CaseKind::parse(&row.kind).ok_or_else(|| unreadable("kind", &row.kind))?,
            regime: Regime::parse(&row.regime).ok_or_else(|| unreadable("regime", &row.regime))?,
            status: CaseStatus::parse(&row.status)
                .ok_or_else(|| unreadable("status", &row.status))?,
            received_on: date("received_on", &row.received_on)?,
            acknowledge_by: row
                .acknowledge_by
                .as_deref()
                .map(|value| date("acknowledge_by", value))
                .transpose()?,
            due_on: date("due_on", &row.due_on)?,
            identity: CodeState {
                digest,
                code_expires_at: row.code_expires_at,
                codes_sent: count("codes_sent", row.codes_sent)?,
                wrong_codes: count("wrong_codes", row.wrong_codes)?,
            },
            acknowledged_at: row.acknowledged_at,
            extended_at: row.extended_at,
            extension_reason: row.extension_reason.clone(),
            identity_verified_at: row.identity_verified_at,
            closed_at: row.closed_at,
            opened_at: row.opened_at,
            updated_at: row.updated_at,
            address: row.address.clone(),
            module: row.module.clone(),
            record_id: row.record_id.clone(),
            id: row.id,
        })
    }
}
