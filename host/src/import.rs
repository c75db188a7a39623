//! Reads people from CSV files for import.
//!
//! The first line names the fields; an `id` column, when present, names each record. Two
//! more columns say what the CRM knows of a record rather than what it holds, and are not
//! fields: `status` (the CRM's status, e.g. `Active`, `Duplicate`) and `modified_at` (when
//! the CRM last modified it: `2024-05-01T10:22:33Z` or with an offset, `2024-05-01
//! 10:22:33` or `2024-05-01` in UTC, or unix milliseconds). De-duplication keeps the record
//! modified last, so an export should carry them. Rows are read and checked as the import
//! goes ([`records`]), so a file of any size takes little memory: the first problem found
//! stops the import, names its line and rolls back everything imported before it, so a file
//! is imported whole or not at all.

use std::collections::HashSet;
use std::io::Read;

use sha2::{Digest, Sha256};

use crate::guard::ImportedRecord;

/// What is wrong with a CSV file, and where.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CsvError {
    #[error(
        "line 1: the header is missing: the first line must name the fields, e.g. `firstname,lastname,email`"
    )]
    MissingHeader,
    #[error("line 1: column {column} has no name")]
    EmptyColumnName { column: usize },
    #[error("line 1: the column `{name}` appears twice")]
    DuplicateColumn { name: String },
    #[error("line 1: `{name}` is not a field name: use letters, digits, `_` or `-`")]
    InvalidColumnName { name: String },
    #[error("line 1: there is no `email` column; every person needs one, even if empty")]
    NoEmailColumn,
    #[error("line {line}: {message}")]
    Row { line: u64, message: String },
}

/// Parses a whole CSV file into records, or names the first problem.
pub fn read_records(input: impl Read) -> Result<Vec<ImportedRecord>, CsvError> {
    records(input)?.collect()
}

/// The records of a CSV file one by one, each checked as it is read: the header is read
/// and checked here, a row's problem comes as that row's error, naming its line. Memory
/// stays bounded by a row, and by 16 bytes per id for finding an id used twice.
pub fn records<R: Read>(input: R) -> Result<CsvRecords<R>, CsvError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::Headers)
        .from_reader(input);
    let header: Vec<String> = match reader.headers() {
        Ok(header) if header.iter().any(|name| !name.is_empty()) => {
            header.iter().map(str::to_owned).collect()
        }
        Ok(_) => return Err(CsvError::MissingHeader),
        Err(error) => {
            return Err(CsvError::Row {
                line: 1,
                message: describe(&error),
            });
        }
    };
    check_header(&header)?;
    let id_column = header.iter().position(|name| name == "id");
    let status_column = header.iter().position(|name| name == STATUS_COLUMN);
    let modified_column = header.iter().position(|name| name == MODIFIED_COLUMN);
    let email_column = header
        .iter()
        .position(|name| name == "email")
        .ok_or(CsvError::NoEmailColumn)?;
    Ok(CsvRecords {
        reader,
        header,
        id_column,
        status_column,
        modified_column,
        email_column,
        seen_ids: HashSet::new(),
        row: csv::StringRecord::new(),
        failed: false,
    })
}

/// The records of a CSV file, read as they are asked for ([`records`]). After the first
/// error it ends: a file is imported whole or not at all.
pub struct CsvRecords<R> {
    reader: csv::Reader<R>,
    header: Vec<String>,
    id_column: Option<usize>,
    status_column: Option<usize>,
    modified_column: Option<usize>,
    email_column: usize,
    /// A digest of every id read so far (128 bits of SHA-256: no two ids share one in
    /// practice), not the ids: a file of millions of rows stays a few dozen MB.
    seen_ids: HashSet<u128>,
    row: csv::StringRecord,
    failed: bool,
}

impl<R: Read> Iterator for CsvRecords<R> {
    type Item = Result<ImportedRecord, CsvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let record = match self.reader.read_record(&mut self.row) {
            Ok(false) => return None,
            Ok(true) => self.record(),
            Err(error) => Err(CsvError::Row {
                line: error.position().map_or(0, csv::Position::line),
                message: describe(&error),
            }),
        };
        self.failed = record.is_err();
        Some(record)
    }
}

impl<R> CsvRecords<R> {
    /// The row just read as a record, or its problem.
    fn record(&mut self) -> Result<ImportedRecord, CsvError> {
        let row = &self.row;
        let line = row.position().map_or(0, csv::Position::line);
        let email = row.get(self.email_column).unwrap_or("").trim();
        if !email.is_empty() && email.parse::<lettre::Address>().is_err() {
            return Err(CsvError::Row {
                line,
                message: format!("`{email}` is not a valid email address"),
            });
        }
        let id = match self
            .id_column
            .map(|column| row.get(column).unwrap_or("").trim())
        {
            None => None,
            Some("") => {
                return Err(CsvError::Row {
                    line,
                    message: "the `id` column is empty; give every row an id or drop the column"
                        .into(),
                });
            }
            Some(id) if !self.seen_ids.insert(id_digest(id)) => {
                return Err(CsvError::Row {
                    line,
                    message: format!("the id `{id}` appears on an earlier line too"),
                });
            }
            Some(id) => Some(id.to_owned()),
        };
        let status = self
            .status_column
            .map(|column| row.get(column).unwrap_or("").trim())
            .filter(|status| !status.is_empty())
            .map(str::to_owned);
        let modified_at = match self
            .modified_column
            .map(|column| row.get(column).unwrap_or("").trim())
        {
            None | Some("") => None,
            Some(text) => Some(parse_modified_at(text).ok_or_else(|| CsvError::Row {
                line,
                message: format!(
                    "`{text}` in `{MODIFIED_COLUMN}` is not a time: write 2024-05-01T10:22:33Z, 2024-05-01 10:22:33 (UTC), 2024-05-01, or unix milliseconds"
                ),
            })?),
        };
        let fields = self
            .header
            .iter()
            .zip(row.iter())
            .filter(|(name, _)| !matches!(name.as_str(), "id" | STATUS_COLUMN | MODIFIED_COLUMN))
            .map(|(name, value)| (name.clone(), value.trim().to_owned()))
            .collect();
        Ok(ImportedRecord {
            id,
            fields,
            status,
            modified_at,
        })
    }
}

/// The first 128 bits of an id's SHA-256.
fn id_digest(id: &str) -> u128 {
    let digest = Sha256::digest(id.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(first)
}

/// The column holding the CRM's status of a record.
pub const STATUS_COLUMN: &str = "status";
/// The column holding when the CRM last modified a record.
pub const MODIFIED_COLUMN: &str = "modified_at";

/// A CRM's modification time as unix milliseconds: RFC 3339, `YYYY-MM-DD HH:MM:SS` or
/// `YYYY-MM-DD` (UTC), or a whole number of milliseconds.
pub fn parse_modified_at(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
        return text.parse().ok();
    }
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp_millis());
    }
    if let Ok(at) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S") {
        return Some(at.and_utc().timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc().timestamp_millis())
}

fn check_header(header: &[String]) -> Result<(), CsvError> {
    let mut seen = HashSet::new();
    for (index, name) in header.iter().enumerate() {
        if name.is_empty() {
            return Err(CsvError::EmptyColumnName { column: index + 1 });
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(CsvError::InvalidColumnName { name: name.clone() });
        }
        if !seen.insert(name.as_str()) {
            return Err(CsvError::DuplicateColumn { name: name.clone() });
        }
    }
    Ok(())
}

fn describe(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} fields, but the header names {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8; save the file as UTF-8".into(),
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<ImportedRecord>, CsvError> {
        read_records(text.as_bytes())
    }

    #[test]
    fn rows_become_records_with_trimmed_values_and_optional_ids() {
        let records =
            read("id,firstname,email\n7, Ada ,ada@example.com\n8,Grace,\n").unwrap_or_default();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].id.as_deref(), Some("7"));
        assert_eq!(
            records[0].fields,
            vec![
                ("firstname".into(), "Ada".into()),
                ("email".into(), "ada@example.com".into())
            ]
        );
        assert_eq!(records[1].fields[1], ("email".into(), String::new()));
    }

    #[test]
    fn status_and_modification_time_are_the_crms_not_fields() {
        let records = read(
            "id,email,status,modified_at\n1,a@example.com,Active,2024-05-01T10:00:00Z\n2,b@example.com,,\n3,c@example.com,Duplicate,2024-05-01 10:00:00\n4,d@example.com,x,1714557600000\n5,e@example.com,,2024-05-01\n",
        )
        .unwrap();
        assert_eq!(
            records[0].fields,
            vec![("email".into(), "a@example.com".into())]
        );
        assert_eq!(records[0].status.as_deref(), Some("Active"));
        assert_eq!(records[0].modified_at, Some(1_714_557_600_000));
        assert_eq!(
            (records[1].status.as_deref(), records[1].modified_at),
            (None, None)
        );
        assert_eq!(records[2].modified_at, Some(1_714_557_600_000));
        assert_eq!(records[3].modified_at, Some(1_714_557_600_000));
        assert_eq!(records[4].modified_at, Some(1_714_521_600_000));
    }

    #[test]
    fn every_malformed_file_is_refused_naming_the_line_and_the_problem() {
        let cases: &[(&str, &str)] = &[
            ("", "line 1: the header is missing"),
            ("firstname,lastname\nAda,Lovelace\n", "no `email` column"),
            ("email,email\n", "`email` appears twice"),
            ("email,first name\n", "`first name` is not a field name"),
            (
                "firstname,email\nAda,ada@example.com\nGrace\n",
                "line 3: has 1 fields, but the header names 2",
            ),
            (
                "firstname,email\nAda,ada@example.com\nGrace,not-an-address\n",
                "line 3: `not-an-address` is not a valid email address",
            ),
            (
                "id,email\n1,a@example.com\n1,b@example.com\n",
                "line 3: the id `1` appears on an earlier line too",
            ),
            (
                "id,email\n,a@example.com\n",
                "line 2: the `id` column is empty",
            ),
            (
                "email,modified_at\na@example.com,yesterday\n",
                "line 2: `yesterday` in `modified_at` is not a time",
            ),
        ];
        for (input, expected) in cases {
            let error = read(input)
                .map(|records| format!("accepted {} records", records.len()))
                .unwrap_or_else(|error| error.to_string());
            assert!(
                error.contains(expected),
                "input {input:?}: got `{error}`, wanted `{expected}`"
            );
        }
    }
}
