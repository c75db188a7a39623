//! De-duplication in the model: records sharing an address settle on one primary, which
//! takes the answers of the others (a refusal always wins).

use std::collections::BTreeMap;

use super::{ADDRESSES, Location, Model, Module, Origin, Person, Record, Status, Value};

impl Model {
    /// De-duplication of contacts and leads (`dedupe --apply`).
    pub fn deduplicate(&mut self) {
        let mut groups: BTreeMap<&'static str, Vec<Record>> = BTreeMap::new();
        for (record, row) in &self.rows {
            if let Some((address, _)) = row.email {
                groups.entry(ADDRESSES[address]).or_default().push(*record);
            }
        }
        for (text, members) in groups {
            if members.len() < 2 {
                continue;
            }
            let address = ADDRESSES
                .iter()
                .position(|known| *known == text)
                .expect("known");
            // The primary: not flagged in the CRM while another is, modified last, then a
            // contact over a lead, then the smaller id.
            let primary = *members
                .iter()
                .max_by_key(|record| {
                    let row = &self.rows[record];
                    (
                        !row.crm_duplicate,
                        row.modified_at,
                        record.module == Module::Contacts,
                        std::cmp::Reverse(record.id),
                    )
                })
                .expect("a member");
            self.settle(address, primary, &members);
        }
    }

    fn settle(&mut self, address: usize, primary: Record, members: &[Record]) {
        let holder_before = self.owners.get(&address).copied();
        let mut joining: Vec<Record> = Vec::new();
        let mut duplicates: Vec<Record> = members
            .iter()
            .copied()
            .filter(|record| *record != primary)
            .collect();
        duplicates.sort();
        for duplicate in duplicates {
            self.start(duplicate, address);
            self.reevaluate(duplicate);
            let person = self.person_mut(duplicate).expect("started");
            let flagged = person.status == Status::Active;
            if flagged {
                person.status = Status::Duplicate;
            }
            let previous = person.location;
            person.location = Location::Apart(Some(address));
            if let Location::Owner(before) = previous {
                self.owners.remove(&before);
            }
            if flagged {
                joining.push(duplicate);
            }
            let row = self.rows.get_mut(&duplicate).expect("a row");
            let mut changed = false;
            if !row.crm_duplicate {
                row.crm_duplicate = true;
                changed = true;
            }
            if !row.locked {
                row.locked = true;
                changed = true;
            }
            if changed {
                self.touch(duplicate);
            }
        }
        self.start(primary, address);
        let person = self.person_mut(primary).expect("started");
        let was_duplicate = person.status == Status::Duplicate;
        if was_duplicate {
            person.status = Status::Active;
        }
        self.reevaluate(primary);
        joining.sort_by_key(|record| Some(*record) != holder_before);
        for joiner in joining {
            let replace = was_duplicate && Some(joiner) == holder_before;
            self.carry(joiner, primary, replace);
        }
        let previous = self.person(primary).expect("started").location;
        if let Location::Owner(before) = previous
            && before != address
        {
            self.owners.remove(&before);
        }
        self.person_mut(primary).expect("started").location = Location::Owner(address);
        self.owners.insert(address, primary);
    }

    /// The plugin's person of a record de-duplication handles: as held, or a new one.
    fn start(&mut self, record: Record, address: usize) {
        let row = self.rows.get_mut(&record).expect("a row");
        row.person
            .get_or_insert_with(|| Person::new(Location::Apart(Some(address))));
    }

    /// Answers (and unanswered requests) of `joining` carry over to `primary`: a refusal
    /// always wins over a grant, a grant counts where the primary has no answer, a request
    /// where it was not asked; `replace`: the joining record's answers replace.
    fn carry(&mut self, joining: Record, primary: Record, replace: bool) {
        let from = self.person(joining).expect("joining").clone();
        for (consent, (value, origin)) in from.values.clone() {
            if !self.defined(consent) {
                continue;
            }
            let carried = match value {
                Value::Granted | Value::NotGranted => origin == Origin::Answer,
                Value::Waiting => origin == Origin::Request,
                _ => false,
            };
            if !carried {
                continue;
            }
            let current = self.person(primary).expect("primary").value(consent);
            if consent.module() == primary.module && current == Value::NotApplicable {
                continue;
            }
            let takes = match (replace, value) {
                (true, _) => current != value,
                (false, Value::NotGranted) => current != Value::NotGranted,
                (false, Value::Granted) => !matches!(current, Value::Granted | Value::NotGranted),
                (false, _) => matches!(current, Value::NotApplicable | Value::Applicable),
            };
            if takes {
                self.set(primary, consent, value, origin);
                // A carried answer keeps the text it was given to.
                let version = from.version_of(consent);
                self.person_mut(primary)
                    .expect("primary")
                    .versions
                    .insert(consent, version);
            }
        }
    }
}
