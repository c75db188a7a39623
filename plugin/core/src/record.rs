//! CRM records as the engine sees them: the module, the id, and the few fields it reads.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::address::{Address, AddressError};

/// A CRM module (record type) that holds people and can carry consents.
///
/// Which modules hold people is configuration (the setting `person-modules`, by default
/// contacts and leads, see [`crate::configuration::Configuration::person_modules`]): an
/// organisation's accounts or a custom module with an email field can carry consents too.
/// Contacts and leads have variants of their own because they are the defaults and the
/// stored formats name them so; any other module is `Other` with its name. The order
/// (contacts, leads, then others by name) is the order jobs visit modules in and the tie
/// rule of de-duplication.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Module {
    Contacts,
    Leads,
    /// Any other module, by its name (valid per [`Module::parse`], never `contacts` or
    /// `leads`).
    Other(String),
}

/// Longest module name.
pub const MAX_MODULE_NAME: usize = 40;

/// Why a text is not a module name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a module name is 1 to {MAX_MODULE_NAME} lower-case letters, digits, `_` or `-`, starting with a letter"
)]
pub struct InvalidModuleName;

impl Module {
    /// The modules that hold people unless configured otherwise.
    pub fn defaults() -> Vec<Module> {
        vec![Module::Contacts, Module::Leads]
    }

    /// The module's name as the CRM prints it.
    pub fn as_str(&self) -> &str {
        match self {
            Module::Contacts => "contacts",
            Module::Leads => "leads",
            Module::Other(name) => name,
        }
    }

    /// The module named `name` (exact, lower case). Whether it holds people is the
    /// configuration's to say.
    pub fn parse(name: &str) -> Result<Module, InvalidModuleName> {
        let valid = (1..=MAX_MODULE_NAME).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !valid {
            return Err(InvalidModuleName);
        }
        Ok(match name {
            "contacts" => Module::Contacts,
            "leads" => Module::Leads,
            other => Module::Other(other.to_owned()),
        })
    }
}

impl fmt::Display for Module {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One CRM record describing a person, e.g. `contacts` / `42`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordRef {
    pub module: Module,
    pub id: String,
}

impl RecordRef {
    pub fn new(module: Module, id: impl Into<String>) -> RecordRef {
        RecordRef {
            module,
            id: id.into(),
        }
    }

    /// The record of a validly named module, with a non-empty id.
    pub fn parse(module: &str, id: &str) -> Option<RecordRef> {
        let module = Module::parse(module).ok()?;
        if id.is_empty() {
            return None;
        }
        Some(RecordRef::new(module, id))
    }

    /// The name of the record's event stream, e.g. `contacts/42`. Never an address.
    pub fn stream(&self) -> String {
        format!("{}/{}", self.module.as_str(), self.id)
    }
}

impl fmt::Display for RecordRef {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.module.as_str(), self.id)
    }
}

/// A change the plugin asks the CRM to make to one of its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrmEffect {
    /// Set the record's CRM status (e.g. `Duplicate`).
    SetStatus { record: RecordRef, status: String },
    /// Lock or unlock the record against ordinary edits.
    SetLocked { record: RecordRef, locked: bool },
    /// Empty one field of the record.
    EraseField { record: RecordRef, field: String },
}

/// One field of a record as the CRM holds it; an empty value means the field is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub value: String,
}

/// A record's fields, looked up by name ignoring ASCII case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(Vec<Field>);

impl Fields {
    pub fn new(fields: Vec<Field>) -> Fields {
        Fields(fields)
    }

    /// The value of the field `name`, empty when the record has no such field.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|field| field.name.eq_ignore_ascii_case(name))
            .map_or("", |field| field.value.as_str())
    }

    /// The record's address from its `email` field, normalised, when it is usable.
    pub fn address(&self) -> Result<Address, AddressError> {
        Address::parse(self.get("email"))
    }

    /// The person's name: the `name` field, else first and last name joined.
    ///
    /// First and last name are recognised as `firstname` / `first_name` / `first-name`
    /// (and the same for `lastname`), whatever their case.
    pub fn person_name(&self) -> String {
        let whole = self.named_like("name");
        if !whole.is_empty() {
            return whole.to_owned();
        }
        let parts = [self.named_like("firstname"), self.named_like("lastname")];
        parts
            .iter()
            .filter(|part| !part.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The trimmed value of the first field whose name, without `_`, `-` and spaces and
    /// ignoring case, is `compact`.
    fn named_like(&self, compact: &str) -> &str {
        self.0
            .iter()
            .find(|field| {
                let mut name = field
                    .name
                    .chars()
                    .filter(|character| !matches!(character, '_' | '-' | ' '));
                let mut wanted = compact.chars();
                loop {
                    match (name.next(), wanted.next()) {
                        (None, None) => break true,
                        (Some(have), Some(want)) if have.eq_ignore_ascii_case(&want) => {}
                        _ => break false,
                    }
                }
            })
            .map_or("", |field| field.value.trim())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields::new(
            pairs
                .iter()
                .map(|(name, value)| Field {
                    name: (*name).to_owned(),
                    value: (*value).to_owned(),
                })
                .collect(),
        )
    }

    #[test]
    fn module_names_are_lower_case_words_and_the_defaults_have_variants_of_their_own() {
        let cases: &[(&str, Option<Module>)] = &[
            ("contacts", Some(Module::Contacts)),
            ("leads", Some(Module::Leads)),
            ("accounts", Some(Module::Other("accounts".into()))),
            (
                "custom_module-2",
                Some(Module::Other("custom_module-2".into())),
            ),
            ("Contacts", None),
            ("2fa", None),
            ("con tacts", None),
            ("contacts/1", None),
            ("", None),
        ];
        for (name, expected) in cases {
            assert_eq!(Module::parse(name).ok(), *expected, "{name}");
        }
        assert!(Module::parse(&"a".repeat(MAX_MODULE_NAME)).is_ok());
        assert!(Module::parse(&"a".repeat(MAX_MODULE_NAME + 1)).is_err());
    }

    #[test]
    fn the_default_modules_keep_the_stored_form_they_always_had() {
        // Stored snapshots and configurations name contacts and leads by variant index.
        assert_eq!(postcard::to_allocvec(&Module::Contacts).unwrap(), [0]);
        assert_eq!(postcard::to_allocvec(&Module::Leads).unwrap(), [1]);
        let other = postcard::to_allocvec(&Module::Other("accounts".into())).unwrap();
        assert_eq!(
            postcard::from_bytes::<Module>(&other).unwrap(),
            Module::Other("accounts".into())
        );
    }

    #[test]
    fn a_record_stream_is_module_slash_id() {
        assert_eq!(
            RecordRef::new(Module::Contacts, "42").stream(),
            "contacts/42"
        );
        assert_eq!(RecordRef::parse("leads", ""), None);
    }

    #[test]
    fn the_person_name_comes_from_name_or_first_and_last_name() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("name", " Ada Lovelace ")], "Ada Lovelace"),
            (
                &[("firstname", "Ada"), ("lastname", "Lovelace")],
                "Ada Lovelace",
            ),
            (
                &[("First_Name", "Ada"), ("last-name", "Lovelace")],
                "Ada Lovelace",
            ),
            (&[("lastname", "Lovelace")], "Lovelace"),
            (&[("name", ""), ("firstname", "Ada")], "Ada"),
            (&[("email", "ada@example.org")], ""),
        ];
        for (pairs, expected) in cases {
            assert_eq!(fields(pairs).person_name(), *expected, "{pairs:?}");
        }
    }

    #[test]
    fn field_names_match_ignoring_case() {
        let record = fields(&[("Email", " Ada@Example.org ")]);
        assert_eq!(record.get("email"), " Ada@Example.org ");
        assert_eq!(record.address().unwrap().as_str(), "ada@example.org");
        assert_eq!(record.get("country"), "");
    }
}
