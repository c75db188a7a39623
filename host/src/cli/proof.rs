//! `proof-key`, `checkpoint`, `verify-log`, `receipt`, `verify-receipt`: proof a third
//! party can check (`docs/proof.md`). `verify-receipt` opens no host: an auditor runs it
//! with the receipt and the public key alone.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use privacy_guard_host::guard::Guard;
use privacy_guard_host::proof::{self, VerifierKey};

use super::people::parse_person;

pub(super) fn proof_key(guard: &Guard, json: bool) -> anyhow::Result<ExitCode> {
    let verifier = guard.proof_verifier_key()?;
    if json {
        let shown = serde_json::json!({
            "verifier_key": verifier.text(),
            "name": verifier.name(),
            "origin": proof::origin_of(&verifier),
        });
        println!("{shown}");
    } else {
        println!("{}", verifier.text());
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn checkpoint(guard: &Guard, output: Option<&Path>) -> anyhow::Result<ExitCode> {
    let signed = guard.sign_checkpoint()?;
    match output {
        Some(path) => {
            std::fs::write(path, &signed.note)
                .with_context(|| format!("could not write the checkpoint to {}", path.display()))?;
            eprintln!(
                "checkpoint of {} event(s) signed and written to {}",
                signed.checkpoint.size,
                path.display()
            );
        }
        None => print!("{}", signed.note),
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn verify_log(
    guard: &Guard,
    checkpoint: Option<&Path>,
    key: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let (note, named) = match checkpoint {
        Some(path) => (
            std::fs::read_to_string(path).with_context(|| {
                format!(
                    "could not read the checkpoint {} (written by `privacy-guard checkpoint --output FILE`)",
                    path.display()
                )
            })?,
            path.display().to_string(),
        ),
        None => (
            guard.latest_checkpoint()?.context(
                "no checkpoint was signed yet: sign one with `privacy-guard checkpoint --output FILE` (the daily run signs one too), or name one with --checkpoint",
            )?,
            "the latest checkpoint kept".to_owned(),
        ),
    };
    let verifier = key.map(VerifierKey::parse).transpose().context("--key")?;
    match guard.verify_log(&note, verifier.as_ref())? {
        Ok(consistent) => {
            println!(
                "the event log is consistent with the checkpoint: its first {} event(s) hash to the signed hash, and it has only grown since (now {} event(s)); the whole chain verifies",
                consistent.checkpoint.size, consistent.log_size
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(problem) => bail!("{named} does not verify: {problem}"),
    }
}

pub(super) fn receipt(
    guard: &Guard,
    person: &str,
    event: Option<u64>,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let reference = parse_person(person)?;
    let receipt = guard.receipt(&reference, event)??;
    match output {
        Some(path) => {
            std::fs::write(path, &receipt.jws)
                .with_context(|| format!("could not write the receipt to {}", path.display()))?;
            eprintln!(
                "receipt of event {} ({} {}) written to {}",
                receipt.sequence,
                receipt.consent,
                receipt.answer,
                path.display()
            );
        }
        None => print!("{}", receipt.jws),
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn verify_receipt(file: &Path, key: &str) -> anyhow::Result<ExitCode> {
    let verifier = VerifierKey::parse(key).context("--key")?;
    let bytes = std::fs::read(file)
        .with_context(|| format!("could not read the receipt {}", file.display()))?;
    let receipt = proof::verify_receipt(&bytes, &verifier)
        .map_err(|problem| anyhow::anyhow!("{} does not verify: {problem}", file.display()))?;
    println!("{}", serde_json::to_string_pretty(&receipt)?);
    eprintln!(
        "the receipt verifies: signed by {} and its event hashes to the chain hash it states",
        verifier.name()
    );
    Ok(ExitCode::SUCCESS)
}
