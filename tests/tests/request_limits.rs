//! Consent requests that could be unwanted mail (issue 14, part 2): at most one request
//! mail to an address per `request-interval-hours`, whatever the number of records holding
//! it over time, a request held back going with a later run; and the double opt-in's
//! evidence, the seconds between the request mail and the person's confirmation on the page.

use privacy_guard_host::guard::{Guard, SafeguardSettings};
use privacy_guard_tests::scenario::{contact, history_of, import_csv};
use privacy_guard_tests::{TestHost, configure, http_post_form, served_host};

const ADA: &str = "ada@example.com";

fn mails_to(host: &TestHost, address: &str) -> usize {
    host.mails()
        .iter()
        .filter(|mail| mail.to.iter().any(|to| to == address))
        .count()
}

fn run(guard: &Guard, period: &str) {
    let report = guard.run_daily(period, &|_| {}).expect("daily run");
    assert!(report.ran, "{period} ran");
}

/// Whether the record was ever sent a request (a consent went to waiting by the daily run).
fn requested(guard: &Guard, id: &str) -> bool {
    history_of(guard, &contact(id)).iter().any(|event| {
        event["kind"] == "consent-changed"
            && event["to"] == "waiting"
            && event["source"] == "daily-run"
    })
}

#[test]
fn five_records_of_one_address_get_one_request_and_the_next_holder_waits_out_the_interval() {
    // Under the default interval (24 hours) the second holder of the address is held back a
    // day; with the limit off (0) it is asked at once: the limit, not chance, holds it.
    for (interval_hours, held) in [(None, true), (Some(0), false)] {
        let host = TestHost::new("2026-12-01T09:00:00Z");
        let guard = host.open().expect("host");
        configure(&guard, "https://crm.example.org/preferences/");
        if let Some(hours) = interval_hours {
            let settings = SafeguardSettings {
                request_interval_hours: hours,
                ..guard.safeguard_settings().expect("settings")
            };
            guard
                .set_safeguard_settings(&settings)
                .expect("call")
                .expect("settings accepted");
        }
        import_csv(
            &guard,
            "contacts",
            &format!(
                "id,name,email\n1,Ada,{ADA}\n2,Ada L.,{ADA}\n3,A. Lovelace,{ADA}\n4,Ada,{ADA}\n5,Ada,{ADA}\n6,Bob,bob@example.com\n"
            ),
        );
        host.set_now("2026-12-01T10:00:00Z");
        run(&guard, "2026-12-01");
        assert_eq!(mails_to(&host, ADA), 1, "five records, one request");
        assert_eq!(mails_to(&host, "bob@example.com"), 1);
        assert!(requested(&guard, "1"));

        // The first record gives the address up; the next one seen with it holds it now,
        // and is due a request of its own 22 hours after the address got one.
        host.set_now("2026-12-01T12:00:00Z");
        guard
            .edit_record(
                &contact("1"),
                &[("email".to_owned(), "ada.lovelace@example.net".to_owned())],
            )
            .expect("call")
            .expect("edit saved");
        host.set_now("2026-12-02T08:00:00Z");
        run(&guard, "2026-12-02");
        if held {
            assert_eq!(mails_to(&host, ADA), 1, "held back within 24 hours");
            assert!(!requested(&guard, "2"));
        } else {
            assert_eq!(mails_to(&host, ADA), 2, "no limit: asked at once");
            assert!(requested(&guard, "2"));
        }

        // Past the interval the held request goes: nothing was lost, nothing sent twice.
        host.set_now("2026-12-03T08:00:00Z");
        run(&guard, "2026-12-03");
        assert_eq!(mails_to(&host, ADA), 2);
        assert!(requested(&guard, "2"));
        for id in ["3", "4", "5"] {
            assert!(!requested(&guard, id), "contacts/{id} is kept apart");
        }
        host.set_now("2026-12-04T08:00:00Z");
        run(&guard, "2026-12-04");
        assert_eq!(mails_to(&host, ADA), 2);
    }
}

#[test]
fn a_confirmation_on_the_page_records_the_seconds_since_the_request_mail() {
    let (host, guard, server) = served_host("2026-12-01T09:00:00Z");
    configure(&guard, &server.preferences_url());
    import_csv(&guard, "contacts", &format!("id,name,email\n1,Ada,{ADA}\n"));
    host.set_now("2026-12-01T10:00:00Z");
    run(&guard, "2026-12-01");
    let link = host.mails()[0]
        .link(&server.preferences_url())
        .expect("link");
    host.set_now("2026-12-01T13:30:00Z");
    let granted = http_post_form(&link, &[("email-marketing", "grant")]).expect("POST");
    assert_eq!(granted.status, 200, "{}", granted.body);
    let history = history_of(&guard, &contact("1"));
    let grant = history
        .iter()
        .find(|event| event["to"] == "granted")
        .expect("the grant");
    assert_eq!(grant["source"], "preferences-page");
    assert_eq!(grant["evidence"]["seconds-since-request"], 3 * 3600 + 1800);
    // A refusal records no interval: it confirms nothing.
    host.set_now("2026-12-01T14:00:00Z");
    let refused = http_post_form(&link, &[("email-marketing", "refuse")]).expect("POST");
    assert_eq!(refused.status, 200, "{}", refused.body);
    let history = history_of(&guard, &contact("1"));
    let refusal = history.last().expect("the refusal");
    assert_eq!(refusal["to"], "not-granted");
    assert!(
        refusal["evidence"].get("seconds-since-request").is_none(),
        "{refusal}"
    );
}
