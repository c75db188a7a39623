//! A reference model of the consent rules, small enough to read in one sitting, written
//! from `docs/decision-table.md` and `docs/consent-rules.md` (not from the plugin's code).
//! `tests/tests/properties.rs` runs generated sequences of operations through the real
//! component in the real host and through this model, and compares what a user relies on
//! after every step.
//!
//! The world is small on purpose, so that sequences collide often: three addresses, three
//! contacts and two leads, and three consents:
//!
//! | consent | module | kind | default | applies |
//! |---|---|---|---|---|
//! | `news` | contacts | custom | no | to everyone, or (toggled) to every record whose country is not `US` |
//! | `phone` | contacts | data (`phone`) | yes | to everyone; can be deleted and defined again |
//! | `lead-news` | leads | custom | no | to everyone |
//!
//! The settings retain `name` at erasure; new duplicates are not flagged on their own
//! (`flag-new-duplicates` off); confirmations go out for the person's own changes. The
//! text of `news` can be revised, as a correction or a material change: a grant of a text
//! before the last material change no longer counts, and the daily run asks again.

mod deduplication;
mod holds;
mod world;

use std::collections::{BTreeMap, BTreeSet};

pub use self::world::*;

/// What the pre-send check must answer for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Allow {
        basis: Basis,
        footer: bool,
        awaiting_consent: bool,
    },
    Refuse(Reason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    Consent,
    Contract,
    LegalObligation,
    LegitimateInterests,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    PurposeUnknown,
    UnknownRecipient,
    ConsentNotApplicable,
    ConsentNotRequested,
    ConsentPending,
    ConsentRefused,
    ConsentOutdated,
    ProcessingRestricted,
    Erased,
    Duplicate,
    NotAToRecipient,
}

/// The classes of mail a check asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    AdHoc,
    Workflow,
    Marketing,
    Transactional,
}

/// Why the model refuses an operation (the host must refuse it too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    UnknownPerson,
    UnknownConsent,
    NotChangeable,
    Status,
}

/// The whole model.
#[derive(Debug, Clone)]
pub struct Model {
    /// The CRM's records (imported ones only).
    pub rows: BTreeMap<Record, Row>,
    /// Which record owns each address.
    pub owners: BTreeMap<usize, Record>,
    /// Addresses an erasure left its suppression marker for.
    pub suppressed: BTreeSet<usize>,
    pub requests: Vec<Request>,
    /// `news` applies only where the country is not `US`.
    pub news_outside_us: bool,
    /// Whether `phone` is defined now.
    pub phone_defined: bool,
    /// `phone` was once deleted: the host collects the field no more.
    pub phone_off_layout: bool,
    /// Phone numbers an erasure or a refusal emptied.
    pub erased_phones: BTreeSet<String>,
    /// The version of the text of `news` (1 until revised).
    pub news_version: u32,
    /// The first version of `news` whose grants count (the last material change).
    pub news_counts_from: u32,
    /// The current time, unix milliseconds.
    pub now: i64,
}

/// 1 December 2026, 09:00 UTC: when the model starts (consents enabled then).
pub const START: i64 = 1_796_115_600_000;
/// A day in milliseconds.
pub const DAY: i64 = 86_400_000;

impl Default for Model {
    fn default() -> Model {
        Model::new()
    }
}

impl Model {
    pub fn new() -> Model {
        Model {
            rows: BTreeMap::new(),
            owners: BTreeMap::new(),
            suppressed: BTreeSet::new(),
            requests: Vec::new(),
            news_outside_us: false,
            phone_defined: true,
            phone_off_layout: false,
            erased_phones: BTreeSet::new(),
            news_version: 1,
            news_counts_from: 1,
            now: START,
        }
    }

    /// The day (0: 1 December) whose daily run is the next one due.
    pub fn next_run_day(&self) -> u32 {
        // Runs are at 10:00, an hour after START.
        let since_first = self.now - (START + DAY / 24);
        if since_first < 0 {
            0
        } else {
            (since_first / DAY + 1) as u32
        }
    }

    /// When the daily run of `day` is due.
    pub fn run_time(day: u32) -> i64 {
        START + DAY / 24 + i64::from(day) * DAY
    }

    fn defined(&self, consent: Consent) -> bool {
        consent != Consent::Phone || self.phone_defined
    }

    /// The current version of `consent`'s text.
    pub fn version(&self, consent: Consent) -> u32 {
        match consent {
            Consent::News => self.news_version,
            Consent::Phone | Consent::LeadNews => 1,
        }
    }

    /// Whether the person's grant of `consent` was of a text before its last material
    /// change: it no longer counts.
    pub fn outdated(&self, person: &Person, consent: Consent) -> bool {
        consent == Consent::News
            && person.value(consent) == Value::Granted
            && person.version_of(consent) < self.news_counts_from
    }

    fn consents_of(&self, module: Module) -> Vec<Consent> {
        Consent::ALL
            .into_iter()
            .filter(|consent| consent.module() == module && self.defined(*consent))
            .collect()
    }

    /// The consents a person holds: their module's, and others they hold a value for.
    fn held(&self, record: Record, person: &Person) -> Vec<Consent> {
        Consent::ALL
            .into_iter()
            .filter(|consent| self.defined(*consent))
            .filter(|consent| {
                consent.module() == record.module || person.value(*consent) != Value::NotApplicable
            })
            .collect()
    }

    fn applies(&self, consent: Consent, row: &Row) -> bool {
        match consent {
            Consent::News if self.news_outside_us => !row.country.eq_ignore_ascii_case("us"),
            _ => true,
        }
    }

    /// The CRM records a change the plugin asked for: it was modified now.
    fn touch(&mut self, record: Record) {
        let now = self.now;
        if let Some(row) = self.rows.get_mut(&record) {
            row.modified_at = now;
        }
    }

    /// Sets a consent value, and carries out what it requires of the CRM: a data field is
    /// erased when its consent is refused, or waits under default no.
    fn set(&mut self, record: Record, consent: Consent, value: Value, origin: Origin) {
        let version = self.version(consent);
        let Some(person) = self
            .rows
            .get_mut(&record)
            .and_then(|row| row.person.as_mut())
        else {
            return;
        };
        person.values.insert(consent, (value, origin));
        person.versions.insert(consent, version);
        let erases =
            value == Value::NotGranted || (value == Value::Waiting && !consent.default_yes());
        if erases && consent.data_field().is_some() {
            self.erase_phone(record);
        }
    }

    /// The CRM empties the phone field (adding it, empty, to a record without one).
    fn erase_phone(&mut self, record: Record) {
        if let Some(row) = self.rows.get_mut(&record) {
            if let Some(phone) = row.phone.replace(String::new())
                && !phone.is_empty()
            {
                self.erased_phones.insert(phone);
            }
            self.touch(record);
        }
    }

    /// Re-evaluates which of its module's consents apply to the record.
    fn reevaluate(&mut self, record: Record) {
        for consent in self.consents_of(record.module) {
            let Some(row) = self.rows.get(&record) else {
                return;
            };
            let applies = self.applies(consent, row);
            let current = row
                .person
                .as_ref()
                .map_or(Value::NotApplicable, |person| person.value(consent));
            match (applies, current) {
                (true, Value::NotApplicable) => {
                    self.set(record, consent, Value::Applicable, Origin::Rule)
                }
                (false, value) if value != Value::NotApplicable => {
                    self.set(record, consent, Value::NotApplicable, Origin::Rule)
                }
                _ => {}
            }
        }
    }

    /// The plugin looks at a record as the CRM holds it now (an import, the daily run).
    fn observe(&mut self, record: Record) {
        if self.consents_of(record.module).is_empty() {
            return;
        }
        let Some(row) = self.rows.get(&record) else {
            return;
        };
        let address = row.email.map(|(address, _)| address);
        let previous = row.person.as_ref().map(|person| person.location);
        let owner = address.and_then(|address| self.owners.get(&address).copied());
        let location = match (address, owner) {
            (None, _) => Location::Apart(None),
            (Some(address), Some(owner)) if owner != record => Location::Apart(Some(address)),
            (Some(address), _) => Location::Owner(address),
        };
        if let Some(Location::Owner(before)) = previous
            && location != Location::Owner(before)
        {
            self.owners.remove(&before);
        }
        // A record leaving an erased address behind: its copies are destroyed again.
        if let Some(before) = previous.and_then(Location::address)
            && Some(before) != address
            && self.suppressed.contains(&before)
        {
            self.forget(before);
        }
        if let Location::Owner(address) = location {
            self.owners.insert(address, record);
        }
        let row = self.rows.get_mut(&record).expect("the row");
        let person = row.person.get_or_insert_with(|| Person::new(location));
        person.location = location;
        let erased = person.status == Status::Erased;
        if !erased {
            self.reevaluate(record);
        }
        if let Some(address) = address
            && self.suppressed.contains(&address)
            && !erased
        {
            self.suppress(record);
            let row = self.rows.get_mut(&record).expect("the row");
            if !row.locked {
                row.locked = true;
                self.touch(record);
            }
        }
    }

    /// A record holding an erased address: every consent it holds refused, status erased.
    fn suppress(&mut self, record: Record) {
        let person = self.person(record).expect("observed").clone();
        for consent in self.held(record, &person) {
            if person.value(consent) != Value::NotGranted {
                self.set(record, consent, Value::NotGranted, Origin::Rule);
            }
        }
        self.person_mut(record).expect("observed").status = Status::Erased;
    }

    /// The host destroys every mail to `address`.
    fn forget(&mut self, address: usize) {
        for request in &mut self.requests {
            if request.address == address {
                request.forgotten = true;
            }
        }
    }

    pub fn person(&self, record: Record) -> Option<&Person> {
        self.rows.get(&record).and_then(|row| row.person.as_ref())
    }

    fn person_mut(&mut self, record: Record) -> Option<&mut Person> {
        self.rows
            .get_mut(&record)
            .and_then(|row| row.person.as_mut())
    }

    // ---- operations ------------------------------------------------------------------------

    /// Moves the clock on.
    pub fn advance(&mut self, millis: i64) {
        self.now += millis;
    }

    /// The CRM imports a record (creating or updating it), then the plugin observes it.
    pub fn import(
        &mut self,
        record: Record,
        email: Option<(usize, u8)>,
        country: &'static str,
        phone: Option<String>,
        modified_at: i64,
    ) {
        let phone = phone.filter(|_| record.module == Module::Contacts && !self.phone_off_layout);
        let row = self.rows.entry(record).or_insert_with(|| Row {
            email: None,
            country: "",
            phone: None,
            crm_duplicate: false,
            locked: false,
            modified_at,
            person: None,
        });
        row.email = email;
        row.country = country;
        if let Some(phone) = phone {
            row.phone = Some(phone);
        }
        row.modified_at = modified_at;
        self.observe(record);
    }

    /// The daily run of the next day that is due: the clock moves to its time.
    pub fn daily_run(&mut self) -> u32 {
        let day = self.next_run_day();
        self.now = self.now.max(Model::run_time(day)) + 5_000;
        let mut modules: Vec<Module> = Consent::ALL
            .into_iter()
            .filter(|consent| self.defined(*consent))
            .map(Consent::module)
            .collect();
        modules.sort();
        modules.dedup();
        for module in modules {
            let records: Vec<Record> = self
                .rows
                .keys()
                .copied()
                .filter(|record| record.module == module)
                .collect();
            for record in records {
                self.observe(record);
                self.request(record, day);
            }
        }
        day
    }

    fn request(&mut self, record: Record, day: u32) {
        let Some(person) = self.person(record) else {
            return;
        };
        let Location::Owner(address) = person.location else {
            return;
        };
        if person.status != Status::Active || person.last_request == Some(day) {
            return;
        }
        let asked: Vec<Consent> = self
            .consents_of(record.module)
            .into_iter()
            .filter(|consent| {
                person.value(*consent) == Value::Applicable || self.outdated(person, *consent)
            })
            .collect();
        if asked.is_empty() {
            return;
        }
        for consent in asked {
            self.set(record, consent, Value::Waiting, Origin::Request);
        }
        self.person_mut(record).expect("a person").last_request = Some(day);
        self.requests.push(Request {
            address,
            record,
            day,
            forgotten: false,
        });
    }

    /// The latest request mail to `address` that still exists: what the person can open.
    pub fn latest_request(&self, address: usize) -> Option<&Request> {
        self.requests
            .iter()
            .rev()
            .find(|request| request.address == address && !request.forgotten)
    }

    /// The person answers on the page opened with the latest request mailed to `address`:
    /// `Ok(true)` when the value changed (an event), `Ok(false)` when it stayed.
    pub fn page_answer(
        &mut self,
        address: usize,
        consent: Consent,
        grant: bool,
    ) -> Option<Result<(Record, bool), Refused>> {
        let mailed = self.latest_request(address)?.record;
        Some(self.page_answer_for(mailed, consent, grant))
    }

    fn page_answer_for(
        &mut self,
        mailed: Record,
        consent: Consent,
        grant: bool,
    ) -> Result<(Record, bool), Refused> {
        let person = self
            .person(mailed)
            .filter(|person| person.status != Status::Erased)
            .ok_or(Refused::UnknownPerson)?;
        // A link mailed to a record since flagged a duplicate opens the record holding its
        // address.
        let target = match (person.status, person.location.address()) {
            (Status::Duplicate, Some(address)) => self
                .owners
                .get(&address)
                .copied()
                .filter(|holder| *holder != mailed)
                .filter(|holder| {
                    self.person(*holder)
                        .is_some_and(|person| person.status != Status::Erased)
                })
                .unwrap_or(mailed),
            _ => mailed,
        };
        self.answer(target, consent, grant)
            .map(|changed| (target, changed))
    }

    /// Staff record a decision on `record`.
    pub fn staff_decision(
        &mut self,
        record: Record,
        consent: Consent,
        grant: bool,
    ) -> Result<bool, Refused> {
        let person = self
            .person(record)
            .filter(|person| person.status != Status::Erased)
            .ok_or(Refused::UnknownPerson)?;
        if person.status == Status::Duplicate && person.location.address().is_some() {
            return Err(Refused::Status);
        }
        self.answer(record, consent, grant)
    }

    fn answer(&mut self, record: Record, consent: Consent, grant: bool) -> Result<bool, Refused> {
        let person = self.person(record).expect("a person").clone();
        if matches!(person.status, Status::Restricted | Status::Erased) {
            return Err(Refused::Status);
        }
        if !self.held(record, &person).contains(&consent) {
            return Err(Refused::UnknownConsent);
        }
        let current = person.value(consent);
        if current == Value::NotApplicable {
            return Err(Refused::NotChangeable);
        }
        let value = if grant {
            Value::Granted
        } else {
            Value::NotGranted
        };
        // The same answer to the same text changes nothing; to a newer text it is recorded.
        if current == value && person.version_of(consent) == self.version(consent) {
            return Ok(false);
        }
        self.set(record, consent, value, Origin::Answer);
        Ok(true)
    }

    /// Staff restrict processing of `record`.
    pub fn restrict(&mut self, record: Record) -> Result<(), Refused> {
        let person = self.person_mut(record).ok_or(Refused::UnknownPerson)?;
        match person.status {
            Status::Active | Status::Duplicate => person.status = Status::Restricted,
            Status::Restricted | Status::Erased => return Err(Refused::Status),
        }
        self.rows.get_mut(&record).expect("a row").locked = true;
        self.touch(record);
        Ok(())
    }

    /// Staff lift a restriction of `record`.
    pub fn lift(&mut self, record: Record) -> Result<(), Refused> {
        let person = self.person_mut(record).ok_or(Refused::UnknownPerson)?;
        if person.status != Status::Restricted {
            return Err(Refused::Status);
        }
        person.status = Status::Active;
        self.rows.get_mut(&record).expect("a row").locked = false;
        self.touch(record);
        Ok(())
    }

    /// Staff erase `record`: its consents refused, its address and data fields emptied,
    /// the address suppressed and its mail forgotten.
    pub fn erase(&mut self, record: Record) -> Result<(), Refused> {
        let person = self.person(record).ok_or(Refused::UnknownPerson)?.clone();
        if person.status == Status::Erased {
            return Err(Refused::Status);
        }
        for consent in self.held(record, &person) {
            if person.value(consent) != Value::NotGranted {
                let version = self.version(consent);
                let person = self.person_mut(record).expect("a person");
                person
                    .values
                    .insert(consent, (Value::NotGranted, Origin::Answer));
                person.versions.insert(consent, version);
            }
        }
        if self.rows[&record].phone.is_some() {
            self.erase_phone(record);
        }
        let row = self.rows.get_mut(&record).expect("a row");
        row.email = None;
        row.locked = true;
        self.touch(record);
        let person = self.person_mut(record).expect("a person");
        person.status = Status::Erased;
        let location = person.location;
        person.location = Location::Apart(None);
        if let Some(address) = location.address() {
            self.suppressed.insert(address);
            if location == Location::Owner(address) {
                self.owners.remove(&address);
            }
            self.forget(address);
            // Every other record holding the address is the same person: suppressed now.
            let others: Vec<Record> = self
                .rows
                .iter()
                .filter(|(other, row)| {
                    **other != record
                        && row.email.map(|(held, _)| held) == Some(address)
                        && row
                            .person
                            .as_ref()
                            .is_some_and(|person| person.status != Status::Erased)
                })
                .map(|(other, _)| *other)
                .collect();
            for other in others {
                self.suppress(other);
                self.rows.get_mut(&other).expect("a row").locked = true;
                self.touch(other);
            }
        }
        Ok(())
    }

    /// `news` applies to everyone, or only outside the US (a changed condition takes
    /// effect when a record is next observed).
    pub fn toggle_news_condition(&mut self) {
        self.news_outside_us = !self.news_outside_us;
    }

    /// Revises the text of `news`: a new version; a material change stops the grants of
    /// earlier versions counting.
    pub fn revise_news(&mut self, material: bool) {
        self.news_version += 1;
        if material {
            self.news_counts_from = self.news_version;
        }
    }

    /// Deletes `phone`, or defines it again.
    pub fn toggle_phone_consent(&mut self) {
        if self.phone_defined {
            self.phone_defined = false;
            self.phone_off_layout = true;
        } else {
            self.phone_defined = true;
        }
    }
}
