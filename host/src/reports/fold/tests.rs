use super::*;
use crate::changes::PersonRef;
use crate::contract::subjects::PersonStatus;
use crate::contract::types::ConsentValue;
use crate::wire::Wire;

const DAY: i64 = 86_400_000;
/// 2026-12-01T00:00:00Z.
const DECEMBER_FIRST: i64 = 1_796_083_200_000;

fn change(
    kind: ChangeKind,
    id: &str,
    consent: &str,
    value: &str,
    version: u64,
    day: i64,
) -> Change {
    Change {
        sequence: 0,
        kind,
        person: (!id.is_empty()).then(|| PersonRef {
            module: "contacts".into(),
            id: id.into(),
        }),
        consent: (!consent.is_empty()).then(|| consent.to_owned()),
        value: (!value.is_empty()).then(|| value.to_owned()),
        previous: None,
        purpose_version: Some(version),
        source: None,
        primary: None,
        recorded_at: DECEMBER_FIRST + day * DAY + 3_600_000,
    }
}

#[test]
fn the_values_counted_are_the_wire_tables_plus_outdated_grants() {
    let mut values: Vec<String> = ConsentValue::TABLE
        .iter()
        .map(|(value, _, _)| value.api_text())
        .collect();
    values.push(GRANTED_OUTDATED.to_owned());
    values.sort();
    let mut counted: Vec<String> = CONSENT_VALUES
        .iter()
        .map(|text| (*text).to_owned())
        .collect();
    counted.sort();
    assert_eq!(counted, values);
    let statuses: Vec<String> = PersonStatus::TABLE
        .iter()
        .map(|(status, _, _)| status.api_text())
        .collect();
    assert_eq!(statuses, STATUSES.map(str::to_owned).to_vec());
}

#[test]
fn changes_fold_into_counts_now_and_at_the_end_of_each_day() {
    use ChangeKind::*;
    let mut fold = PeopleFold::new(ReportWindow::default());
    for change in [
        change(ConsentApplicable, "1", "news", "applicable", 1, 0),
        change(ConsentApplicable, "2", "news", "applicable", 1, 0),
        change(ConsentApplicable, "3", "news", "applicable", 1, 0),
        change(ConsentRequested, "1", "news", "waiting", 1, 1),
        change(ConsentGranted, "1", "news", "granted", 1, 2),
        change(ConsentGranted, "2", "news", "granted", 1, 2),
        change(ProcessingRestricted, "3", "", "restricted", 1, 2),
        change(PurposeOutdated, "", "news", "", 2, 4),
        change(ConsentGranted, "2", "news", "granted", 2, 5),
    ] {
        fold.apply(&change);
    }
    let report = fold.report();
    let news = &report.totals.consents["news"];
    assert_eq!(news.get("granted"), Some(&1));
    assert_eq!(news.get(GRANTED_OUTDATED), Some(&1));
    assert_eq!(news.get("applicable"), Some(&1));
    assert_eq!(report.totals.people, 3);
    assert_eq!(report.totals.statuses.get("active"), Some(&2));
    assert_eq!(report.totals.statuses.get("restricted"), Some(&1));
    let days: Vec<&str> = report
        .periods
        .iter()
        .map(|period| period.period.as_str())
        .collect();
    assert_eq!(
        days,
        [
            "2026-12-01",
            "2026-12-02",
            "2026-12-03",
            "2026-12-05",
            "2026-12-06"
        ]
    );
    let third = &report.periods[2];
    assert_eq!(third.changes["consent_granted"]["news"], 2);
    assert_eq!(third.changes["processing_restricted"][""], 1);
    assert_eq!(third.at_end.consents["news"]["granted"], 2);
    assert_eq!(
        report.periods[3].at_end.consents["news"][GRANTED_OUTDATED],
        2
    );
}

#[test]
fn a_window_lists_its_periods_and_counts_at_its_end() {
    use ChangeKind::*;
    let window = ReportWindow {
        from: NaiveDate::from_ymd_opt(2026, 12, 2),
        to: NaiveDate::from_ymd_opt(2026, 12, 2),
        period: Period::Day,
    };
    let mut fold = PeopleFold::new(window);
    for change in [
        change(ConsentApplicable, "1", "news", "applicable", 1, 0),
        change(ConsentGranted, "1", "news", "granted", 1, 1),
        change(ConsentWithdrawn, "1", "news", "not_granted", 1, 2),
    ] {
        if fold.takes(change.recorded_at) {
            fold.apply(&change);
        }
    }
    let report = fold.report();
    assert_eq!(report.periods.len(), 1);
    assert_eq!(report.periods[0].period, "2026-12-02");
    assert_eq!(report.totals.consents["news"]["granted"], 1);
    assert_eq!(Period::Week.name_of(DECEMBER_FIRST), "2026-W49");
    assert_eq!(Period::Month.name_of(DECEMBER_FIRST), "2026-12");
}

#[test]
fn a_list_pages_across_modules_in_order_and_skips_people_without_the_consent() {
    use ChangeKind::*;
    let mut fold = PeopleFold::new(ReportWindow::default());
    let in_module = |module: &str, id: &str, value: &str| Change {
        person: Some(PersonRef {
            module: module.into(),
            id: id.into(),
        }),
        ..change(ConsentApplicable, id, "news", value, 1, 0)
    };
    for change in [
        in_module("leads", "1", "applicable"),
        in_module("contacts", "2", "applicable"),
        in_module("contacts", "10", "granted"),
        in_module("leads", "3", "applicable"),
        Change {
            consent: Some("calls".into()),
            ..in_module("accounts", "9", "applicable")
        },
    ] {
        fold.apply(&change);
    }
    let filter = crate::reports::PeopleFilter::new(Some("news"), Some("applicable"), None, None)
        .expect("filter");
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = fold.people_page(&filter, after.as_ref(), 2);
        assert_eq!(page.matching, 3);
        seen.extend(
            page.people
                .iter()
                .map(|row| format!("{}/{}", row.module, row.id)),
        );
        match page.next {
            Some(next) => after = Some(crate::reports::parse_person_cursor(&next).expect("cursor")),
            None => break,
        }
    }
    assert_eq!(seen, ["contacts/2", "leads/1", "leads/3"]);
    let nobody =
        crate::reports::PeopleFilter::new(Some("unknown"), None, None, None).expect("filter");
    assert_eq!(fold.people_page(&nobody, None, 10).matching, 0);
}
