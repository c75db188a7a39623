//! `privacy-guard package`: signing keys, building, verifying and installing packages.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use privacy_guard_host::package::trust::{
    generate_signing_key, key_id, read_signing_key, signing_key_text,
};
use privacy_guard_host::package::{self, Manifest, PackageError, TrustStore, VerifiedPackage};

use super::Arguments;
use super::arguments::PackageCommand;

/// Exit code of `package verify` and `package install` when the package is refused.
const PACKAGE_REFUSED: u8 = 5;

/// Where `package install` puts the package every command loads.
pub(super) fn installed(data_dir: &Path) -> PathBuf {
    data_dir.join("packages").join("installed.pgpkg")
}

/// The trust store packages are verified against: --trust-store, else
/// DATA_DIR/trusted-keys.toml.
pub(super) fn trust_store(arguments: &Arguments) -> anyhow::Result<TrustStore> {
    let path = arguments
        .trust_store
        .clone()
        .unwrap_or_else(|| arguments.data_dir.join("trusted-keys.toml"));
    TrustStore::load(&path).map_err(anyhow::Error::msg)
}

pub(super) fn run(arguments: &Arguments, command: &PackageCommand) -> anyhow::Result<ExitCode> {
    match command {
        PackageCommand::Keygen { out, name } => keygen(out, name),
        PackageCommand::Build {
            key,
            out,
            wasm,
            id,
            plugin_version,
            hosts,
        } => build(
            key,
            out,
            wasm.as_deref(),
            id,
            plugin_version.as_deref(),
            hosts.as_deref(),
        ),
        PackageCommand::Verify { file, json } => {
            let trust = trust_store(arguments)?;
            Ok(match verified(file, &trust)? {
                Ok(verified) => {
                    print_verified(&verified, *json, "verified")?;
                    ExitCode::SUCCESS
                }
                Err(refusal) => refused(file, &refusal, *json),
            })
        }
        PackageCommand::Install { file, json } => {
            let trust = trust_store(arguments)?;
            match verified(file, &trust)? {
                Ok(verified) => {
                    install(&arguments.data_dir, file)?;
                    print_verified(&verified, *json, "installed")?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(refusal) => Ok(refused(file, &refusal, *json)),
            }
        }
    }
}

fn keygen(out: &Path, name: &str) -> anyhow::Result<ExitCode> {
    let key = generate_signing_key();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(out).with_context(|| {
        format!(
            "could not create the signing key {} (an existing key is never overwritten)",
            out.display()
        )
    })?;
    file.write_all(signing_key_text(&key).as_bytes())
        .with_context(|| format!("could not write {}", out.display()))?;
    println!(
        "Signing key {} written to {} (keep it secret).",
        key_id(&key.verifying_key()),
        out.display()
    );
    println!("Add this to the trust store of every host that is to load your packages:\n");
    print!("{}", TrustStore::entry(name, &key.verifying_key()));
    Ok(ExitCode::SUCCESS)
}

fn build(
    key: &Path,
    out: &Path,
    wasm: Option<&Path>,
    id: &str,
    plugin_version: Option<&str>,
    hosts: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let key = read_signing_key(key).map_err(anyhow::Error::msg)?;
    let component = match wasm {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("could not read the component {}", path.display()))?,
        None => privacy_guard_host::EMBEDDED_COMPONENT.to_vec(),
    };
    let host_version = semver::Version::parse(env!("CARGO_PKG_VERSION"))?;
    let version = plugin_version.map_or_else(|| host_version.to_string(), str::to_owned);
    let hosts = hosts.map_or_else(
        || format!("^{}.{}", host_version.major, host_version.minor),
        str::to_owned,
    );
    let manifest = package::manifest_for(&component, id, &version, &hosts, &key)
        .map_err(|refusal| anyhow::anyhow!("cannot package this component: {refusal}"))?;
    let bytes = package::write(&manifest, &component, Some(&key));
    std::fs::write(out, &bytes).with_context(|| format!("could not write {}", out.display()))?;
    println!(
        "{} {} for {} ({} capabilities, component sha256 {}) signed by {}: {}",
        manifest.id,
        manifest.version,
        manifest.contract,
        manifest.capabilities.len(),
        manifest.component.sha256,
        manifest.publisher_key_id,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The package at `file` verified, or why it was refused; an error only when it cannot be
/// read.
fn verified(
    file: &Path,
    trust: &TrustStore,
) -> anyhow::Result<Result<VerifiedPackage, PackageError>> {
    let bytes = std::fs::read(file)
        .with_context(|| format!("could not read the package {}", file.display()))?;
    Ok(package::verify(&bytes, trust))
}

fn install(data_dir: &Path, file: &Path) -> anyhow::Result<()> {
    let target = installed(data_dir);
    let folder = target
        .parent()
        .context("the installed package has a folder")?;
    std::fs::create_dir_all(folder)
        .with_context(|| format!("could not create {}", folder.display()))?;
    let staged = folder.join(format!("installing-{}.pgpkg", std::process::id()));
    std::fs::copy(file, &staged)
        .with_context(|| format!("could not copy the package to {}", staged.display()))?;
    if target.exists() {
        std::fs::rename(&target, folder.join("previous.pgpkg"))
            .context("could not keep the package installed before")?;
    }
    std::fs::rename(&staged, &target)
        .with_context(|| format!("could not install the package as {}", target.display()))?;
    Ok(())
}

fn print_verified(verified: &VerifiedPackage, json: bool, what: &str) -> anyhow::Result<()> {
    let manifest: &Manifest = &verified.manifest;
    if json {
        let answer = serde_json::json!({
            "status": what,
            "publisher": verified.publisher,
            "manifest": manifest,
        });
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        println!(
            "{what}: {} {} for {} by {} (key {})",
            manifest.id,
            manifest.version,
            manifest.contract,
            verified.publisher,
            manifest.publisher_key_id
        );
        println!("hosts: {}", manifest.hosts);
        println!(
            "component: sha256 {}, {} bytes",
            manifest.component.sha256, manifest.component.size
        );
        println!("capabilities:");
        for capability in &manifest.capabilities {
            println!("  {capability}");
        }
    }
    Ok(())
}

fn refused(file: &Path, refusal: &PackageError, json: bool) -> ExitCode {
    if json {
        let answer = serde_json::json!({
            "status": "refused",
            "refusal": refusal.kind(),
            "message": refusal.to_string(),
        });
        println!("{answer:#}");
    } else {
        eprintln!("refused {}: {refusal}", file.display());
    }
    ExitCode::from(PACKAGE_REFUSED)
}
