//! The daily run in bulk from the command line: a run killed (SIGKILL) while it writes a
//! large page's `.eml` files has recorded as delivered only mail whose file is on disk,
//! and the next run takes its claims over at once, finishes the run and writes every
//! other message exactly once, never a file again.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::process::Stdio;

use super::*;

/// More people than one page of the daily run and one delivery batch hold.
const PEOPLE: usize = 2_500;

impl Cli {
    /// The `.eml` files of the outbox folder by name, with their inode: a file written
    /// again (a new temporary file renamed over it) gets a new one.
    fn eml_inodes(&self) -> BTreeMap<String, u64> {
        let Ok(entries) = std::fs::read_dir(self.folder.path().join("outbox")) else {
            return BTreeMap::new();
        };
        entries
            .filter_map(Result::ok)
            .filter(|entry| entry.path().extension().is_some_and(|e| e == "eml"))
            .filter_map(|entry| {
                let inode = entry.metadata().ok()?.ino();
                Some((entry.file_name().to_string_lossy().into_owned(), inode))
            })
            .collect()
    }

    /// The Message-ID header of every `.eml` file (duplicates kept).
    fn eml_message_ids(&self) -> Vec<String> {
        self.eml_inodes()
            .keys()
            .map(|name| {
                let message = std::fs::read_to_string(self.folder.path().join("outbox").join(name))
                    .expect("an .eml file reads");
                message
                    .lines()
                    .find_map(|line| line.strip_prefix("Message-ID: "))
                    .map(|id| id.trim_matches(['<', '>']).to_owned())
                    .unwrap_or_else(|| panic!("{name} has no Message-ID"))
            })
            .collect()
    }

    /// The ids of the mail the outbox table records as delivered.
    fn recorded_deliveries(&self) -> BTreeSet<String> {
        let url = match &self.postgres {
            Some(postgres) => postgres.url(),
            None => format!(
                "sqlite://{}",
                self.folder.path().join("privacy-guard.db").display()
            ),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            sqlx::any::install_default_drivers();
            let mut connection = sqlx::AnyConnection::connect(&url)
                .await
                .expect("the database opens");
            sqlx::query_scalar::<_, String>(
                "SELECT message_id FROM outbox WHERE delivered_at IS NOT NULL",
            )
            .fetch_all(&mut connection)
            .await
            .expect("the outbox reads")
            .into_iter()
            .collect()
        })
    }
}

#[test]
fn a_run_killed_while_writing_a_page_is_taken_over_at_once_and_every_message_is_written_once() {
    let cli = Cli::new();
    cli.settings(&[]);
    cli.add_news_consent();
    cli.ok(&["enable", "--confirm-deduplication"]);
    let rows: String = (0..PEOPLE)
        .map(|person| format!("P{person},p{person}@example.com\n"))
        .collect();
    let contacts = cli.write("contacts.csv", &format!("firstname,email\n{rows}"));
    cli.ok(&["import", &contacts]);

    let mut command = Command::new(env!("CARGO_BIN_EXE_privacy-guard"));
    command.arg("--data-dir").arg(cli.folder.path());
    if let Some(postgres) = &cli.postgres {
        command.arg("--database-url").arg(postgres.url());
    }
    let mut run = command
        .args(["--now", FIRST_RUN, "run-daily"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    // Killed as soon as the first page's files appear: mid-delivery, before the later
    // pages ran.
    loop {
        if cli.outbox_files() > 0 {
            break;
        }
        if let Some(status) = run.try_wait().expect("the run can be waited for") {
            panic!("the run ended ({status}) before writing any file");
        }
        std::thread::yield_now();
    }
    run.kill().expect("the run is killed");
    let status = run.wait().expect("the killed run is reaped");
    assert_eq!(status.code(), None, "killed by a signal, not finished");

    let written_before = cli.eml_inodes();
    let recorded = cli.recorded_deliveries();
    let on_disk: BTreeSet<String> = cli.eml_message_ids().into_iter().collect();
    assert!(
        recorded.is_subset(&on_disk),
        "only mail whose file is on disk is recorded delivered: {} recorded, {} on disk",
        recorded.len(),
        on_disk.len()
    );
    assert!(
        written_before.len() < PEOPLE,
        "the run was killed before its end ({} files)",
        written_before.len()
    );

    // The next run, at the same instant (the killed claims' lease has not lapsed), takes
    // them over at once and finishes the period.
    cli.set_now(FIRST_RUN);
    let resumed = cli.ok(&["run-daily"]);
    assert!(
        resumed.contains("daily consent run 2026-12-01"),
        "{resumed}"
    );
    let outbox = cli.ok(&["outbox"]);
    assert!(
        outbox.contains("0 message(s) not delivered"),
        "nothing is left held or waiting: {outbox}"
    );
    let message_ids = cli.eml_message_ids();
    let distinct: BTreeSet<&String> = message_ids.iter().collect();
    assert_eq!(message_ids.len(), PEOPLE, "one file per person");
    assert_eq!(distinct.len(), PEOPLE, "one message id per person");
    assert_eq!(
        cli.recorded_deliveries().len(),
        PEOPLE,
        "every mail recorded delivered"
    );
    let written_after = cli.eml_inodes();
    for (name, inode) in &written_before {
        assert_eq!(
            written_after.get(name),
            Some(inode),
            "{name} was on disk before the takeover and is not written again"
        );
    }
    let leftovers: Vec<String> = std::fs::read_dir(cli.folder.path().join("outbox"))
        .expect("the outbox folder")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.ends_with(".eml"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary file is left: {leftovers:?}"
    );
    let again = cli.ok(&["run-daily"]);
    assert!(again.contains("already done, nothing sent"), "{again}");
    assert_eq!(cli.outbox_files(), PEOPLE);
}
