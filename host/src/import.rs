//! Reads people from CSV files for import.
//!
//! The first line names the fields; an `id` column, when present, names each record.
//! Every row is checked before anything is imported: the first problem found stops the
//! import and names its line, so a file is imported whole or not at all.

use std::collections::HashSet;
use std::io::Read;

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
    let email_column = header
        .iter()
        .position(|name| name == "email")
        .ok_or(CsvError::NoEmailColumn)?;

    let mut records = Vec::new();
    let mut seen_ids = HashSet::new();
    for row in reader.records() {
        let row = row.map_err(|error| CsvError::Row {
            line: error.position().map_or(0, csv::Position::line),
            message: describe(&error),
        })?;
        let line = row.position().map_or(0, csv::Position::line);
        let email = row.get(email_column).unwrap_or("").trim();
        if !email.is_empty() && email.parse::<lettre::Address>().is_err() {
            return Err(CsvError::Row {
                line,
                message: format!("`{email}` is not a valid email address"),
            });
        }
        let id = match id_column.map(|column| row.get(column).unwrap_or("").trim()) {
            None => None,
            Some("") => {
                return Err(CsvError::Row {
                    line,
                    message: "the `id` column is empty; give every row an id or drop the column"
                        .into(),
                });
            }
            Some(id) if !seen_ids.insert(id.to_owned()) => {
                return Err(CsvError::Row {
                    line,
                    message: format!("the id `{id}` appears on an earlier line too"),
                });
            }
            Some(id) => Some(id.to_owned()),
        };
        let fields = header
            .iter()
            .zip(row.iter())
            .filter(|(name, _)| name.as_str() != "id")
            .map(|(name, value)| (name.clone(), value.trim().to_owned()))
            .collect();
        records.push(ImportedRecord { id, fields });
    }
    Ok(records)
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
