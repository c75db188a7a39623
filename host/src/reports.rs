//! Reports and lists of people for the data-protection officer, read from the hash-chained
//! event log as the change feed reads it: every event becomes its [`Change`]s
//! ([`crate::changes::changes_of`]) and the changes are folded, in log order, into each
//! person's status and consent values now. Nothing here asks the plugin: what the log
//! proves is what the report says, and a report of a database restored elsewhere says the
//! same.
//!
//! A person is anyone the log has an event of (a record Privacy Guard never evaluated has
//! no consent and is in no report); status `active` until a status event says otherwise.
//! A grant to a purpose text changed materially since is counted `granted_outdated`, not
//! `granted`: it no longer lets marketing go (see `docs/consent-rules.md`). A deleted
//! consent drops out of every person.
//!
//! Times are the log's commit times, periods UTC days, ISO weeks or months.
//!
//! - [`fold`]: the fold itself, with the counts kept as it goes, so the counts at the
//!   end of every period come at no extra pass;
//! - [`filter`]: which people a list or a bulk action is about, and the cursor of a list.

mod filter;
mod fold;

pub use self::filter::{
    PeopleFilter, PeopleFilterError, PeoplePage, PeopleSelection, PersonRow, parse_person_cursor,
};
pub use self::fold::{ConsentReport, PeopleFold, Period, PeriodReport, ReportWindow, Tally};

use crate::changes::changes_of;
use crate::storage::{Database, StorageError};

/// Events read per database round trip while folding the log.
const EVENTS_PER_READ: u32 = 5_000;

/// Folds the whole log (up to the end of `window.to`) into the people's state now, and the
/// report of `window`.
pub async fn read_log(
    database: &Database,
    window: &ReportWindow,
) -> Result<PeopleFold, StorageError> {
    let mut fold = PeopleFold::new(window.clone());
    read_more(database, &mut fold).await?;
    Ok(fold)
}

/// Folds the events after those `fold` has read (the log only grows, its sequence has no
/// gaps, so a fold goes on where it stopped and ends as if it had read it all at once).
pub async fn read_more(database: &Database, fold: &mut PeopleFold) -> Result<(), StorageError> {
    let mut cursor = fold.through_sequence();
    loop {
        let events = database.events_after(cursor, EVENTS_PER_READ).await?;
        let exhausted = events.len() < EVENTS_PER_READ as usize;
        for event in &events {
            if !fold.takes(event.recorded_at) {
                return Ok(());
            }
            for change in changes_of(event) {
                fold.apply(&change);
            }
            fold.folded_through(event.sequence);
            cursor = event.sequence;
        }
        if exhausted {
            return Ok(());
        }
    }
}
