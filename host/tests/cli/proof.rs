//! Proof a third party can check, from the command line: the published key, a checkpoint
//! written to a file and verified as the log grows, a receipt written to a file and
//! verified offline (no database opened) with the key alone, and every refusal saying why.

use super::*;

#[test]
fn checkpoints_and_receipts_are_made_and_verified_from_the_command_line() {
    let cli = Cli::new();
    cli.settings(&[]);
    cli.add_news_consent();
    cli.ok(&["enable", "--confirm-deduplication"]);
    let people = cli.write("people.csv", "firstname,email\nAda,ada@example.com\n");
    cli.ok(&["import", &people]);
    cli.ok(&[
        "--actor",
        "alice",
        "record-decision",
        "contacts/1",
        "--consent",
        "news",
        "--grant",
        "--evidence",
        "signed paper form",
    ]);

    let key = cli.ok(&["proof-key"]).trim().to_owned();
    assert!(key.starts_with("privacy-guard-"), "{key}");
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["proof-key", "--json"])).expect("JSON");
    assert_eq!(json["verifier_key"], key.as_str());

    let checkpoint = cli.folder.path().join("checkpoint.txt");
    let checkpoint = checkpoint.to_str().expect("a UTF-8 path");
    cli.ok(&["checkpoint", "--output", checkpoint]);
    let note = std::fs::read_to_string(checkpoint).expect("the checkpoint file");
    assert_eq!(
        note,
        cli.ok(&["checkpoint"]),
        "the same log, the same checkpoint"
    );
    let verified = cli.ok(&["verify-log", "--checkpoint", checkpoint, "--key", &key]);
    assert!(verified.contains("consistent"), "{verified}");
    let granted = cli.write("granted.jws", &cli.ok(&["receipt", "contacts/1"]));
    // The log grows; the old checkpoint still verifies (with the tenant's own key too).
    cli.ok(&[
        "record-decision",
        "contacts/1",
        "--consent",
        "news",
        "--refuse",
        "--evidence",
        "phoned to withdraw",
    ]);
    cli.ok(&["verify-log", "--checkpoint", checkpoint]);
    // Without --checkpoint, against the latest one kept (the one just signed).
    let latest = cli.ok(&["verify-log"]);
    assert!(latest.contains("consistent"), "{latest}");
    // A changed checkpoint is refused, naming why.
    let changed = cli.write("changed.txt", &note.replacen("/events\n", "/events\n1", 1));
    let (code, refused) = cli.fails(&["verify-log", "--checkpoint", &changed, "--key", &key]);
    assert_eq!(code, 1);
    assert!(refused.contains("does not verify"), "{refused}");

    let receipt = cli.folder.path().join("ada.jws");
    let receipt = receipt.to_str().expect("a UTF-8 path");
    cli.ok(&["receipt", "contacts/1", "--output", receipt]);
    // Verified by a process that opens no database: another, empty folder.
    let auditor = tempfile::tempdir().expect("temp dir");
    let verify = |file: &str, key: &str| {
        Command::new(env!("CARGO_BIN_EXE_privacy-guard"))
            .arg("--data-dir")
            .arg(auditor.path())
            .args(["verify-receipt", file, "--key", key])
            .output()
            .expect("the binary runs")
    };
    let output = verify(receipt, &key);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(shown["privacyGuard"]["consent"]["answer"], "withdrawn");
    assert_eq!(
        shown["privacyGuard"]["collection"]["actor"],
        "test-operator"
    );
    assert_eq!(
        std::fs::read_dir(auditor.path()).expect("folder").count(),
        0,
        "verify-receipt made no database"
    );
    // The earlier grant by its event (the same receipt as before), and a changed byte
    // refused.
    let output = verify(&granted, &key);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(shown["privacyGuard"]["consent"]["answer"], "granted");
    assert_eq!(shown["privacyGuard"]["collection"]["actor"], "alice");
    let grant = shown["privacyGuard"]["event"]["sequence"]
        .as_u64()
        .expect("a sequence");
    let earlier = cli.ok(&["receipt", "contacts/1", "--event", &grant.to_string()]);
    assert_eq!(earlier, std::fs::read_to_string(&granted).expect("read"));
    let mut bytes = earlier.clone().into_bytes();
    bytes[earlier.len() / 2] ^= 0x01;
    let tampered = cli.folder.path().join("tampered.jws");
    std::fs::write(&tampered, &bytes).expect("write");
    let output = verify(tampered.to_str().expect("UTF-8"), &key);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("does not verify"),
        "{}",
        text(&output.stderr)
    );
    let (code, refused) = cli.fails(&["receipt", "contacts/1", "--event", "1"]);
    assert_eq!(code, 1);
    assert!(refused.contains("is not an answer"), "{refused}");
    let (_, refused) = cli.fails(&["verify-receipt", receipt, "--key", "not-a-key"]);
    assert!(refused.contains("name+id+base64"), "{refused}");
}
