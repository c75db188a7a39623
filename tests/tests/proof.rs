//! Proof a third party can check, through the real component in the real host (SQLite, and
//! PostgreSQL when `PRIVACY_GUARD_TEST_POSTGRES_URL` names a server): signed checkpoints of
//! the event log verify, keep verifying while the log grows, and catch a past rewritten with
//! every later chain hash recomputed; signed consent receipts of page answers, one-click
//! unsubscriptions and staff decisions verify offline with the public key alone and fail on
//! any changed byte or another key; the page serves a link only its own receipts.

use privacy_guard_host::guard::Guard;
use privacy_guard_host::import::read_records;
use privacy_guard_host::proof::{self, ProofError, ProofKey, VerifierKey};
use privacy_guard_host::storage::LedgerCheck;
use privacy_guard_host::storage::proof::event_chain_hash;
use privacy_guard_tests::scenario::{block_on, contact};
use privacy_guard_tests::{
    TestHost, WebServer, configure, email_marketing_consent, http_get, http_post_form, operator,
    served_host,
};
use sha2::{Digest, Sha256};
use sqlx::Row;

/// A served host with Ada and Grace imported and asked (a request mail each).
fn asked() -> (TestHost, std::sync::Arc<Guard>, WebServer) {
    let (host, guard, server) = served_host("2026-12-01T09:00:00Z");
    configure(&guard, &server.preferences_url());
    guard
        .import_records(
            "contacts",
            read_records("name,email\nAda,ada@example.com\nGrace,grace@example.com\n".as_bytes())
                .expect("CSV"),
            &|_| {},
        )
        .expect("import");
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    (host, guard, server)
}

/// The preferences link mailed to `address`.
fn link_of(host: &TestHost, server: &WebServer, address: &str) -> String {
    host.mails()
        .iter()
        .find(|mail| mail.to.iter().any(|to| to.contains(address)))
        .and_then(|mail| mail.link(&server.preferences_url()))
        .unwrap_or_else(|| panic!("no link mailed to {address}"))
}

fn verifier(guard: &Guard) -> VerifierKey {
    let text = guard.proof_verifier_key().expect("key").text();
    VerifierKey::parse(&text).expect("the published key reads back")
}

#[test]
fn a_checkpoint_verifies_and_keeps_verifying_while_the_log_grows() {
    let (host, guard, server) = asked();
    // The daily run signed one of its own when it finished.
    let after_run = guard
        .latest_checkpoint()
        .expect("latest")
        .expect("the daily run signed a checkpoint");
    let head = block_on(guard.database().log_head()).expect("head");
    assert!(head.size > 0);
    assert_eq!(
        after_run.lines().nth(1),
        Some(head.size.to_string().as_str()),
        "{after_run}"
    );
    guard
        .verify_log(&after_run, Some(&verifier(&guard)))
        .expect("check")
        .expect("the daily run's checkpoint verifies");
    let ada = link_of(&host, &server, "ada@example.com");
    let answered = http_post_form(&ada, &[("email-marketing", "grant")]).expect("POST");
    assert_eq!(answered.status, 200, "{}", answered.body);

    let signed = guard.sign_checkpoint().expect("checkpoint");
    let head = block_on(guard.database().log_head()).expect("head");
    assert_eq!(signed.checkpoint.size, head.size);
    assert_eq!(signed.checkpoint.hash, head.hash);
    assert_eq!(
        guard.latest_checkpoint().expect("latest"),
        Some(signed.note.clone())
    );
    let lines: Vec<&str> = signed.note.lines().collect();
    assert_eq!(lines[0], proof::origin_of(&verifier(&guard)));
    assert_eq!(lines[1], head.size.to_string());
    assert_eq!(lines[3], "", "a blank line before the signature");
    assert!(
        lines[4].starts_with("\u{2014} privacy-guard-"),
        "{}",
        lines[4]
    );

    let consistent = guard
        .verify_log(&signed.note, Some(&verifier(&guard)))
        .expect("check")
        .expect("the log is consistent with its own checkpoint");
    assert_eq!(consistent.log_size, head.size);

    // More answers: the old checkpoint still verifies, and the log has grown past it.
    let grace = link_of(&host, &server, "grace@example.com");
    let answered = http_post_form(&grace, &[("email-marketing", "refuse")]).expect("POST");
    assert_eq!(answered.status, 200, "{}", answered.body);
    guard
        .record_decision(
            &contact("1"),
            "email-marketing",
            false,
            &operator(),
            "asked by phone",
        )
        .expect("call")
        .expect("recorded");
    let grown = guard
        .verify_log(&signed.note, None)
        .expect("check")
        .expect("a grown log is consistent with an older checkpoint");
    assert!(grown.log_size > signed.checkpoint.size, "{grown:?}");
    let newer = guard.sign_checkpoint().expect("checkpoint");
    assert_eq!(newer.checkpoint.size, grown.log_size);
    assert_eq!(
        guard.latest_checkpoint().expect("latest"),
        Some(newer.note.clone())
    );
    // The same key after a restart: the key is kept, not made again.
    let before = guard.proof_verifier_key().expect("key");
    drop(server);
    drop(guard);
    let reopened = host.open().expect("reopen");
    assert_eq!(reopened.proof_verifier_key().expect("key"), before);
    reopened
        .verify_log(&signed.note, Some(&before))
        .expect("check")
        .expect("still consistent after a restart");
}

#[test]
fn a_past_rewritten_with_every_later_chain_hash_recomputed_is_caught_by_the_checkpoint() {
    let (host, guard, server) = asked();
    let ada = link_of(&host, &server, "ada@example.com");
    assert_eq!(
        http_post_form(&ada, &[("email-marketing", "grant")])
            .expect("POST")
            .status,
        200
    );
    let grace = link_of(&host, &server, "grace@example.com");
    assert_eq!(
        http_post_form(&grace, &[("email-marketing", "grant")])
            .expect("POST")
            .status,
        200
    );
    let signed = guard.sign_checkpoint().expect("checkpoint");
    let size = signed.checkpoint.size;
    // Ada's grant, an old event with later events after it: rewritten into a refusal.
    let ada_grant = block_on(proof::answers(guard.database(), "contacts/1"))
        .expect("answers")
        .into_iter()
        .find(|(_, answer)| answer.answer == "granted")
        .map(|(event, _)| event.sequence)
        .expect("Ada's grant");
    assert!(ada_grant < size, "later events follow the rewritten one");
    drop(server);
    drop(guard);

    block_on(async {
        let mut connection = host.database.connect_directly().await.expect("connect");
        let switch_off = if host.database.is_postgres() {
            "ALTER TABLE plugin_events DISABLE TRIGGER plugin_events_are_append_only_update"
        } else {
            "DROP TRIGGER plugin_events_are_append_only_update"
        };
        sqlx::query(switch_off)
            .execute(&mut connection)
            .await
            .expect("switch the trigger off");
        let rows = sqlx::query(
            "SELECT sequence, stream, payload, recorded_at FROM plugin_events ORDER BY sequence",
        )
        .fetch_all(&mut connection)
        .await
        .expect("read the log");
        let mut previous = [0u8; 32];
        for row in rows {
            let sequence: i64 = row.get(0);
            let stream: String = row.get(1);
            let mut payload: String = row.get(2);
            let recorded_at: i64 = row.get(3);
            if sequence as u64 == ada_grant {
                assert!(payload.contains(r#""to":"granted""#), "{payload}");
                payload = payload.replace(r#""to":"granted""#, r#""to":"not-granted""#);
            }
            let hash = event_chain_hash(&previous, &stream, &payload, recorded_at);
            // Every row from the rewritten one on gets a recomputed hash.
            sqlx::query(
                "UPDATE plugin_events SET payload = $1, chain_hash = $2 WHERE sequence = $3",
            )
            .bind(payload)
            .bind(hash.to_vec())
            .bind(sequence)
            .execute(&mut connection)
            .await
            .expect("rewrite");
            previous = hash;
        }
    });

    let guard = host.open().expect("reopen");
    // The chain alone cannot see it: every stored hash is the hash of its row.
    assert!(
        matches!(
            guard.verify_ledger().expect("check"),
            LedgerCheck::Intact { .. }
        ),
        "the rewriter recomputed the chain"
    );
    let verdict = guard
        .verify_log(&signed.note, Some(&verifier(&guard)))
        .expect("check");
    assert!(
        matches!(verdict, Err(ProofError::PastRewritten { size: at }) if at == size),
        "{verdict:?}"
    );
    assert!(
        verdict.unwrap_err().to_string().contains("rewritten"),
        "the message says what happened"
    );
    // Nor does the host sign a new checkpoint over it: the latest one it kept disagrees.
    let refused = guard
        .sign_checkpoint()
        .expect_err("no checkpoint of a rewritten past");
    assert!(refused.to_string().contains("rewritten"), "{refused}");
    assert_eq!(
        guard.latest_checkpoint().expect("latest"),
        Some(signed.note.clone()),
        "the checkpoint signed before the rewrite stays the latest"
    );
}

#[test]
fn a_changed_checkpoint_or_another_key_fails() {
    let (_host, guard, _server) = asked();
    let signed = guard.sign_checkpoint().expect("checkpoint");
    let own = verifier(&guard);
    let mut lines: Vec<String> = signed.note.lines().map(str::to_owned).collect();
    lines[1] = (signed.checkpoint.size - 1).to_string();
    let smaller = format!("{}\n", lines.join("\n"));
    let verdict = guard.verify_log(&smaller, Some(&own)).expect("check");
    assert!(
        matches!(verdict, Err(ProofError::BadSignature { .. })),
        "{verdict:?}"
    );

    let mut hash_changed = signed.note.clone().into_bytes();
    let hash_line = signed.note.find('\n').unwrap() + 1 + lines[1].len() + 1;
    hash_changed[hash_line] = if hash_changed[hash_line] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let verdict = guard
        .verify_log(&String::from_utf8(hash_changed).unwrap(), Some(&own))
        .expect("check");
    assert!(verdict.is_err(), "{verdict:?}");

    let stranger = ProofKey::from_seed(&[42; 32]).verifier();
    let verdict = guard
        .verify_log(&signed.note, Some(&stranger))
        .expect("check");
    assert!(
        matches!(verdict, Err(ProofError::NotSignedByKey { .. })),
        "{verdict:?}"
    );
    // A checkpoint the stranger signed of the same log is not this tenant's.
    let forged = proof::Checkpoint {
        origin: proof::origin_of(&own),
        ..signed.checkpoint.clone()
    }
    .sign(&ProofKey::from_seed(&[42; 32]));
    let verdict = guard.verify_log(&forged, Some(&own)).expect("check");
    assert!(
        matches!(verdict, Err(ProofError::NotSignedByKey { .. })),
        "{verdict:?}"
    );
}

/// Every byte of `receipt` changed in turn (each bit flipped in a sample of positions and
/// the lowest bit everywhere): not one such file verifies.
fn assert_every_changed_byte_fails(receipt: &str, key: &VerifierKey) {
    let bytes = receipt.as_bytes();
    for index in 0..bytes.len() {
        let masks: &[u8] = if index % 97 == 0 {
            &[0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80]
        } else {
            &[0x01]
        };
        for mask in masks {
            let mut changed = bytes.to_vec();
            changed[index] ^= mask;
            assert!(
                proof::verify_receipt(&changed, key).is_err(),
                "the receipt verified with byte {index} xor {mask:#04x}"
            );
        }
    }
    let mut longer = bytes.to_vec();
    longer.push(b'\n');
    assert!(
        proof::verify_receipt(&longer, key).is_err(),
        "an added byte"
    );
    assert!(
        proof::verify_receipt(&bytes[..bytes.len() - 2], key).is_err(),
        "a removed byte"
    );
}

#[test]
fn receipts_of_every_kind_of_answer_verify_offline_and_any_changed_byte_or_another_key_fails() {
    let (host, guard, server) = asked();
    let key = verifier(&guard);
    let ada = link_of(&host, &server, "ada@example.com");
    assert_eq!(
        http_post_form(&ada, &[("email-marketing", "grant")])
            .expect("POST")
            .status,
        200
    );
    let granted = guard
        .receipt(&contact("1"), None)
        .expect("call")
        .expect("Ada's receipt");
    assert_eq!(granted.answer, "granted");
    let receipt = proof::verify_receipt(granted.jws.as_bytes(), &key).expect("verifies");
    let purpose = email_marketing_consent().purpose;
    assert_eq!(receipt["version"], proof::RECEIPT_VERSION);
    assert_eq!(receipt["publicKey"], key.text());
    assert_eq!(receipt["piiPrincipalId"], "contacts/1");
    assert_eq!(receipt["piiControllers"][0]["piiController"], "Example Ltd");
    assert_eq!(receipt["piiControllers"][0]["email"], "privacy@example.org");
    assert_eq!(
        receipt["services"][0]["service"],
        "News and offers by email"
    );
    assert_eq!(
        receipt["services"][0]["purposes"][0]["purpose"],
        purpose.as_str()
    );
    let ours = &receipt["privacyGuard"];
    assert_eq!(ours["consent"]["id"], "email-marketing");
    assert_eq!(ours["consent"]["answer"], "granted");
    assert_eq!(ours["consent"]["purposeVersion"], 1);
    assert_eq!(
        ours["consent"]["purposeSha256"],
        hex::encode(Sha256::digest(purpose.as_bytes()))
    );
    assert_eq!(ours["collection"]["source"], "preferences-page");
    assert_eq!(
        ours["subject"]["addressSha256"],
        hex::encode(Sha256::digest(b"ada@example.com"))
    );
    assert_eq!(ours["event"]["sequence"], granted.sequence);
    assert_eq!(ours["log"]["position"], granted.sequence);
    let event = block_on(guard.database().chained_event(granted.sequence))
        .expect("read")
        .expect("the event");
    assert_eq!(ours["event"]["payload"], event.payload.as_str());
    assert!(receipt["jurisdiction"].as_str().unwrap().contains("GDPR"));
    assert!(receipt["consentReceiptID"].as_str().unwrap().len() == 36);
    assert_every_changed_byte_fails(&granted.jws, &key);
    let stranger = ProofKey::from_seed(&[42; 32]).verifier();
    assert!(matches!(
        proof::verify_receipt(granted.jws.as_bytes(), &stranger),
        Err(ProofError::NotSignedByKey { .. })
    ));

    // One-click unsubscription: a withdrawal, through the same link.
    let unsubscribed = http_post_form(
        &format!("{ada}/unsubscribe/email-marketing"),
        &[("List-Unsubscribe", "One-Click")],
    )
    .expect("POST");
    assert_eq!(unsubscribed.status, 200, "{}", unsubscribed.body);
    let withdrawn = guard
        .receipt(&contact("1"), None)
        .expect("call")
        .expect("receipt");
    assert_eq!(withdrawn.answer, "withdrawn");
    assert!(withdrawn.sequence > granted.sequence);
    proof::verify_receipt(withdrawn.jws.as_bytes(), &key).expect("verifies");

    // A decision staff recorded names its channel and actor.
    guard
        .record_decision(
            &contact("2"),
            "email-marketing",
            true,
            &operator(),
            "asked by phone",
        )
        .expect("call")
        .expect("recorded");
    let staff = guard
        .receipt(&contact("2"), None)
        .expect("call")
        .expect("receipt");
    let receipt = proof::verify_receipt(staff.jws.as_bytes(), &key).expect("verifies");
    assert_eq!(
        receipt["privacyGuard"]["collection"]["actor"],
        "test-operator"
    );
    assert_eq!(receipt["privacyGuard"]["collection"]["source"], "admin");
    assert!(
        receipt["collectionMethod"]
            .as_str()
            .unwrap()
            .contains("test-operator"),
        "{receipt}"
    );
    assert_every_changed_byte_fails(&staff.jws, &key);

    // An earlier answer by its event; a request is no answer; nobody has none.
    let earlier = guard
        .receipt(&contact("1"), Some(granted.sequence))
        .expect("call")
        .expect("receipt");
    assert_eq!(earlier.sequence, granted.sequence);
    let first_event = 1;
    assert!(matches!(
        guard
            .receipt(&contact("1"), Some(first_event))
            .expect("call"),
        Err(ProofError::NotAnAnswer { .. })
    ));
    assert!(matches!(
        guard.receipt(&contact("99"), None).expect("call"),
        Err(ProofError::NoAnswer { .. })
    ));
}

/// The receipt links a page shows: the sequences in its `/receipts/{sequence}` links.
fn receipt_links(page: &str) -> Vec<u64> {
    page.split("/receipts/")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

#[test]
fn the_page_serves_a_link_only_its_own_receipts() {
    let (host, guard, server) = asked();
    let key = verifier(&guard);
    let ada = link_of(&host, &server, "ada@example.com");
    let grace = link_of(&host, &server, "grace@example.com");
    let before = http_get(&ada).expect("GET");
    assert_eq!(before.status, 200);
    assert!(receipt_links(&before.body).is_empty(), "no answer yet");

    let saved = http_post_form(&ada, &[("email-marketing", "grant")]).expect("POST");
    assert_eq!(saved.status, 200, "{}", saved.body);
    let links = receipt_links(&saved.body);
    assert_eq!(links.len(), 1, "{}", saved.body);
    let ada_answer = links[0];
    let download = http_get(&format!("{ada}/receipts/{ada_answer}")).expect("GET");
    assert_eq!(download.status, 200, "{}", download.body);
    assert!(
        download.headers.to_lowercase().contains("attachment"),
        "{}",
        download.headers
    );
    assert!(
        download.headers.to_lowercase().contains("no-store"),
        "{}",
        download.headers
    );
    let receipt = proof::verify_receipt(download.body.as_bytes(), &key).expect("verifies");
    assert_eq!(receipt["piiPrincipalId"], "contacts/1");
    // The page keeps offering it when opened again.
    assert_eq!(receipt_links(&http_get(&ada).expect("GET").body), links);

    // Grace's link reaches none of Ada's receipts, before or after Grace answered.
    assert_eq!(
        http_get(&format!("{grace}/receipts/{ada_answer}"))
            .expect("GET")
            .status,
        404
    );
    let grace_saved = http_post_form(&grace, &[("email-marketing", "refuse")]).expect("POST");
    assert_eq!(grace_saved.status, 200, "{}", grace_saved.body);
    let grace_links = receipt_links(&grace_saved.body);
    assert_eq!(grace_links.len(), 1, "{}", grace_saved.body);
    assert!(!grace_links.contains(&ada_answer));
    assert_eq!(
        http_get(&format!("{grace}/receipts/{ada_answer}"))
            .expect("GET")
            .status,
        404
    );
    assert_eq!(
        http_get(&format!("{ada}/receipts/{}", grace_links[0]))
            .expect("GET")
            .status,
        404
    );
    // Ada's own answer recorded by staff did not come through her link: not served there.
    guard
        .record_decision(
            &contact("1"),
            "email-marketing",
            false,
            &operator(),
            "asked by phone",
        )
        .expect("call")
        .expect("recorded");
    let staff = guard
        .receipt(&contact("1"), None)
        .expect("call")
        .expect("receipt");
    assert_eq!(
        http_get(&format!("{ada}/receipts/{}", staff.sequence))
            .expect("GET")
            .status,
        404
    );
    // A link that is not genuine gets nothing.
    let (prefix, _) = ada.rsplit_once('/').expect("a token");
    assert_eq!(
        http_get(&format!("{prefix}/not-a-token/receipts/{ada_answer}"))
            .expect("GET")
            .status,
        404
    );
    assert_eq!(
        http_get(&format!("{ada}/receipts/not-a-number"))
            .expect("GET")
            .status,
        404
    );
}
