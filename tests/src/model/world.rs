//! The model's world: its addresses, records, consents, and what it keeps of each person.

use std::collections::BTreeMap;

/// The addresses people have, normalised.
pub const ADDRESSES: [&str; 3] = ["ada@example.com", "grace@example.com", "linus@example.com"];

/// How an address is written in the CRM: as is, capitalised, with blanks, in capitals.
pub fn written(address: usize, variant: u8) -> String {
    let plain = ADDRESSES[address];
    match variant % 4 {
        0 => plain.to_owned(),
        1 => {
            let mut chars = plain.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().collect::<String>() + chars.as_str())
                .unwrap_or_default()
        }
        2 => format!("  {plain} "),
        _ => plain.to_uppercase(),
    }
}

/// A CRM module of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Module {
    Contacts,
    Leads,
}

impl Module {
    pub fn as_str(self) -> &'static str {
        match self {
            Module::Contacts => "contacts",
            Module::Leads => "leads",
        }
    }
}

/// A record: its module and its id (contacts 1-3, leads 1-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Record {
    pub module: Module,
    pub id: u8,
}

impl Record {
    pub fn all() -> Vec<Record> {
        let mut all = Vec::new();
        for id in 1..=3 {
            all.push(Record {
                module: Module::Contacts,
                id,
            });
        }
        for id in 1..=2 {
            all.push(Record {
                module: Module::Leads,
                id,
            });
        }
        all
    }
}

impl std::fmt::Display for Record {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}/{}", self.module.as_str(), self.id)
    }
}

/// The model's consents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Consent {
    News,
    Phone,
    LeadNews,
}

impl Consent {
    pub const ALL: [Consent; 3] = [Consent::News, Consent::Phone, Consent::LeadNews];

    pub fn id(self) -> &'static str {
        match self {
            Consent::News => "news",
            Consent::Phone => "phone",
            Consent::LeadNews => "lead-news",
        }
    }

    pub fn module(self) -> Module {
        match self {
            Consent::News | Consent::Phone => Module::Contacts,
            Consent::LeadNews => Module::Leads,
        }
    }

    /// The consent's default while a request waits for an answer.
    pub fn default_yes(self) -> bool {
        self == Consent::Phone
    }

    /// The field a data consent covers.
    pub fn data_field(self) -> Option<&'static str> {
        (self == Consent::Phone).then_some("phone")
    }
}

/// The five consent values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    NotApplicable,
    Applicable,
    Waiting,
    Granted,
    NotGranted,
}

/// What a value rests on: the rules (applicability, suppression), a request mailed to the
/// person, or the person's answer (on the page, recorded by staff, or at erasure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Rule,
    Request,
    Answer,
}

/// A person's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Restricted,
    Erased,
    Duplicate,
}

/// Where a record's consents are kept: under its address (it owns the address: mail to it
/// is decided by this record), or apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Owner(usize),
    Apart(Option<usize>),
}

impl Location {
    pub(super) fn address(self) -> Option<usize> {
        match self {
            Location::Owner(address) => Some(address),
            Location::Apart(address) => address,
        }
    }
}

/// What the plugin holds about a record it has seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub status: Status,
    pub values: BTreeMap<Consent, (Value, Origin)>,
    /// The version of each consent's text its value was set for.
    pub versions: BTreeMap<Consent, u32>,
    pub last_request: Option<u32>,
    pub location: Location,
}

impl Person {
    pub(super) fn new(location: Location) -> Person {
        Person {
            status: Status::Active,
            values: BTreeMap::new(),
            versions: BTreeMap::new(),
            last_request: None,
            location,
        }
    }

    pub fn value(&self, consent: Consent) -> Value {
        self.values
            .get(&consent)
            .map_or(Value::NotApplicable, |(value, _)| *value)
    }

    /// The version of `consent`'s text its value was set for (1 when it has none).
    pub fn version_of(&self, consent: Consent) -> u32 {
        self.versions.get(&consent).copied().unwrap_or(1)
    }
}

/// A record as the CRM holds it, and what the plugin holds about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The address index and how it is written; none: the email field is empty.
    pub email: Option<(usize, u8)>,
    pub country: &'static str,
    /// The phone number; none when the field was never set, empty when erased.
    pub phone: Option<String>,
    pub crm_duplicate: bool,
    pub locked: bool,
    pub modified_at: i64,
    pub person: Option<Person>,
}

/// A request mailed by the daily run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub address: usize,
    pub record: Record,
    pub day: u32,
    /// The person was erased since: the host destroyed its copy.
    pub forgotten: bool,
}
