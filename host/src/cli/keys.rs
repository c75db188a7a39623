//! `api-key`, `rotate-link-key`, `rotate-field-key`, `verify-events`: keys and the proof
//! the event log is intact.

use std::process::ExitCode;

use anyhow::{Context, bail};
use privacy_guard_host::guard::Guard;
use privacy_guard_host::storage::LedgerCheck;
use privacy_guard_host::tenants::{ApiKey, KeyDigest, Scopes};

pub(super) fn new_api_key(name: Option<&str>, scopes: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut secret = [0_u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
    let key = format!("pgk_{}", hex::encode(secret));
    let digest = KeyDigest::of_key(&key).to_text();
    let mut named = match name {
        Some(name) => ApiKey::parse(&format!("{name}={digest}")),
        None => ApiKey::parse(&digest),
    }
    .context("--name")?;
    if let Some(scopes) = scopes {
        named.scopes = Scopes::parse(scopes).context("--scopes")?;
    }
    println!("API key (give it to the CRM; it is not stored): {key}");
    println!(
        "digest (for api_keys or --api-key-digest): {}",
        named.to_text()
    );
    println!("scopes: {}", named.scopes);
    Ok(ExitCode::SUCCESS)
}

pub(super) fn rotate_field_key(guard: &Guard) -> anyhow::Result<ExitCode> {
    let id = guard.rotate_field_key()?;
    println!("new field key {id} created; values encrypted with older keys keep decrypting");
    Ok(ExitCode::SUCCESS)
}

pub(super) fn rotate_link_key(guard: &Guard) -> anyhow::Result<ExitCode> {
    let id = guard.rotate_link_key()?;
    println!(
        "new link key {id} created; running hosts sign with it within 30 s, links signed with older keys keep working"
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn verify_events(guard: &Guard) -> anyhow::Result<ExitCode> {
    match guard.verify_ledger()? {
        LedgerCheck::Intact { events } => {
            println!("the event log is intact: {events} event(s), hash chain verified");
            Ok(ExitCode::SUCCESS)
        }
        LedgerCheck::Broken { sequence } => {
            bail!("the event log was changed: the hash chain breaks at event {sequence}")
        }
    }
}
