//! Signed packages: how a plugin reaches a host it cannot be trusted blindly by.
//!
//! A package (`.pgpkg`) is a tar archive of three files, in this order:
//!
//! - `manifest.json` — what the package is ([`Manifest`]): its id and version, the
//!   publisher's key id, the contract (WIT package and version) it implements, the host
//!   versions it supports, the capabilities (imports) it uses, and the SHA-256 and size of
//!   the component;
//! - `manifest.sig` — the Ed25519 signature of `manifest.json`'s bytes, in base64;
//! - `component.wasm` — the component.
//!
//! [`verify`] checks all of it before a byte of the component is compiled: the signature
//! against a trusted publisher's key ([`TrustStore`]), the component against the hash and
//! size the signature covers, the contract (this host's, or an earlier compatible version)
//! and host version against this host's, and the
//! component's actual imports and exports (read from its bytes) against the manifest and
//! against what this host grants. Each way a package can be wrong is a [`PackageError`].

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use self::interface::{ComponentInterface, compatible, granted, speaks};
pub use self::trust::{TrustStore, key_id};
use crate::contract::CONTRACT;

mod interface;
pub mod trust;

const MANIFEST: &str = "manifest.json";
const SIGNATURE: &str = "manifest.sig";
const COMPONENT: &str = "component.wasm";
/// The manifest's format; a host refuses formats it does not know.
const FORMAT: u32 = 1;
/// Largest package a host reads (the component is ~8 MiB).
const LARGEST: u64 = 256 << 20;

/// What a package says it is; signed by its publisher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    /// The plugin's id, e.g. `privacy-guard`.
    pub id: String,
    /// The plugin's version (semver).
    pub version: String,
    /// The id of the key that signed the manifest ([`trust::key_id`]).
    pub publisher_key_id: String,
    /// The contract the component implements, `privacy-guard:consent@0.3.0`.
    pub contract: String,
    /// The host versions the package supports, a semver requirement (`>=0.1, <0.2`).
    pub hosts: String,
    /// The component's imports, every one it has.
    pub capabilities: Vec<String>,
    pub component: ComponentDigest,
}

/// The component's hash and size, as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentDigest {
    /// SHA-256, lower-case hex.
    pub sha256: String,
    pub size: u64,
}

/// Why a package was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    #[error("not a Privacy Guard package: {0}")]
    Malformed(String),
    #[error("the package is not signed (it has no {SIGNATURE}): only signed packages are loaded")]
    Unsigned,
    #[error(
        "the package is signed by key {key_id}, which the trust store does not list: add its publisher's key if you trust them"
    )]
    UntrustedKey { key_id: String },
    #[error(
        "the manifest's signature does not verify with the key of {publisher}: the manifest was changed after signing"
    )]
    BadSignature { publisher: String },
    #[error(
        "the component does not match its signed manifest (sha256 {actual}, size {actual_size}; signed: sha256 {expected}, size {expected_size}): it was changed after signing"
    )]
    HashMismatch {
        expected: String,
        expected_size: u64,
        actual: String,
        actual_size: u64,
    },
    #[error("the component imports what its manifest does not declare: {}", .0.join(", "))]
    UndeclaredImports(Vec<String>),
    #[error("the package asks for capabilities this host does not grant: {}", .0.join(", "))]
    NotGranted(Vec<String>),
    #[error("the package implements {found}, this host speaks {CONTRACT} (and earlier compatible versions){}", missing_text(.missing))]
    WrongWorld { found: String, missing: Vec<String> },
    #[error("the package supports hosts {requirement}, this host is {host}")]
    UnsupportedHost { requirement: String, host: String },
}

fn missing_text(missing: &[String]) -> String {
    if missing.is_empty() {
        String::new()
    } else {
        format!(" (it does not export {})", missing.join(", "))
    }
}

impl PackageError {
    /// The refusal's kind as a word, for `--json` and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            PackageError::Malformed(_) => "malformed",
            PackageError::Unsigned => "unsigned",
            PackageError::UntrustedKey { .. } => "untrusted-key",
            PackageError::BadSignature { .. } => "bad-signature",
            PackageError::HashMismatch { .. } => "hash-mismatch",
            PackageError::UndeclaredImports(_) => "undeclared-imports",
            PackageError::NotGranted(_) => "not-granted",
            PackageError::WrongWorld { .. } => "wrong-world",
            PackageError::UnsupportedHost { .. } => "unsupported-host",
        }
    }
}

/// A package that passed [`verify`]: the component may be compiled.
#[derive(Debug, Clone)]
pub struct VerifiedPackage {
    pub manifest: Manifest,
    /// The trusted publisher's name.
    pub publisher: String,
    pub component: Vec<u8>,
}

/// The manifest of `component` as its publisher would sign it: its imports are its
/// capabilities, its exports name the contract.
pub fn manifest_for(
    component: &[u8],
    id: &str,
    version: &str,
    hosts: &str,
    key: &SigningKey,
) -> Result<Manifest, PackageError> {
    let interface = ComponentInterface::read(component).map_err(PackageError::Malformed)?;
    let contract = match interface.contracts().as_slice() {
        [one] => one.clone(),
        other => {
            return Err(PackageError::Malformed(format!(
                "the component exports {} contract versions ({}); a package holds one",
                other.len(),
                other.join(", ")
            )));
        }
    };
    semver::Version::parse(version)
        .map_err(|error| PackageError::Malformed(format!("version `{version}`: {error}")))?;
    semver::VersionReq::parse(hosts)
        .map_err(|error| PackageError::Malformed(format!("hosts `{hosts}`: {error}")))?;
    Ok(Manifest {
        format: FORMAT,
        id: id.to_owned(),
        version: version.to_owned(),
        publisher_key_id: key_id(&key.verifying_key()),
        contract,
        hosts: hosts.to_owned(),
        capabilities: interface.imports,
        component: ComponentDigest {
            sha256: hex::encode(Sha256::digest(component)),
            size: component.len() as u64,
        },
    })
}

/// The package of `component` under `manifest`, signed with `key` (or unsigned, for tests
/// of the refusal, when `key` is `None`).
pub fn write(manifest: &Manifest, component: &[u8], key: Option<&SigningKey>) -> Vec<u8> {
    let manifest_bytes = serde_json::to_vec_pretty(manifest).unwrap_or_default();
    let mut archive = tar::Builder::new(Vec::new());
    let mut add = |name: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        // Writing into a Vec cannot fail.
        let _written = archive.append_data(&mut header, name, bytes);
    };
    add(MANIFEST, &manifest_bytes);
    if let Some(key) = key {
        let signature = key.sign(&manifest_bytes);
        add(SIGNATURE, BASE64.encode(signature.to_bytes()).as_bytes());
    }
    add(COMPONENT, component);
    archive.into_inner().unwrap_or_default()
}

/// Verifies a package for this host (see the module's documentation): on success the
/// component may be compiled.
pub fn verify(package: &[u8], trust: &TrustStore) -> Result<VerifiedPackage, PackageError> {
    let files = read_archive(package)?;
    let manifest_bytes = files
        .manifest
        .ok_or_else(|| PackageError::Malformed(format!("the archive has no {MANIFEST}")))?;
    let component = files
        .component
        .ok_or_else(|| PackageError::Malformed(format!("the archive has no {COMPONENT}")))?;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|error| PackageError::Malformed(format!("{MANIFEST}: {error}")))?;
    if manifest.format != FORMAT {
        return Err(PackageError::Malformed(format!(
            "manifest format {} (this host reads format {FORMAT})",
            manifest.format
        )));
    }

    // The signature first: nothing the manifest says counts before it verifies.
    let signature = files.signature.ok_or(PackageError::Unsigned)?;
    let publisher =
        trust
            .publisher(&manifest.publisher_key_id)
            .ok_or_else(|| PackageError::UntrustedKey {
                key_id: manifest.publisher_key_id.clone(),
            })?;
    let bad_signature = || PackageError::BadSignature {
        publisher: publisher.name.clone(),
    };
    let signature = BASE64
        .decode(signature.trim_ascii())
        .ok()
        .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
        .map(|bytes| Signature::from_bytes(&bytes))
        .ok_or_else(bad_signature)?;
    publisher
        .key
        .verify_strict(&manifest_bytes, &signature)
        .map_err(|_| bad_signature())?;

    let actual = hex::encode(Sha256::digest(&component));
    if actual != manifest.component.sha256 || component.len() as u64 != manifest.component.size {
        return Err(PackageError::HashMismatch {
            expected: manifest.component.sha256.clone(),
            expected_size: manifest.component.size,
            actual,
            actual_size: component.len() as u64,
        });
    }

    let host = env!("CARGO_PKG_VERSION");
    let supported = semver::VersionReq::parse(&manifest.hosts)
        .map_err(|error| PackageError::Malformed(format!("hosts `{}`: {error}", manifest.hosts)))?;
    let host_version = semver::Version::parse(host)
        .map_err(|error| PackageError::Malformed(format!("this host's version: {error}")))?;
    if !supported.matches(&host_version) {
        return Err(PackageError::UnsupportedHost {
            requirement: manifest.hosts.clone(),
            host: host.to_owned(),
        });
    }

    let interface = ComponentInterface::read(&component).map_err(PackageError::Malformed)?;
    let missing = interface.missing_exports();
    if !speaks(&manifest.contract)
        || !interface.contracts().contains(&manifest.contract)
        || !missing.is_empty()
    {
        return Err(PackageError::WrongWorld {
            found: interface.contracts().join(", "),
            missing,
        });
    }
    let undeclared: Vec<String> = interface
        .imports
        .iter()
        .filter(|import| !manifest.capabilities.contains(import))
        .cloned()
        .collect();
    if !undeclared.is_empty() {
        return Err(PackageError::UndeclaredImports(undeclared));
    }
    let not_granted: Vec<String> = manifest
        .capabilities
        .iter()
        .filter(|capability| !granted(capability))
        .cloned()
        .collect();
    if !not_granted.is_empty() {
        return Err(PackageError::NotGranted(not_granted));
    }
    Ok(VerifiedPackage {
        manifest,
        publisher: publisher.name.clone(),
        component,
    })
}

#[derive(Default)]
struct ArchiveFiles {
    manifest: Option<Vec<u8>>,
    signature: Option<Vec<u8>>,
    component: Option<Vec<u8>>,
}

fn read_archive(package: &[u8]) -> Result<ArchiveFiles, PackageError> {
    let malformed =
        |error: std::io::Error| PackageError::Malformed(format!("not a tar archive: {error}"));
    let mut files = ArchiveFiles::default();
    let mut archive = tar::Archive::new(package);
    for entry in archive.entries().map_err(malformed)? {
        let mut entry = entry.map_err(malformed)?;
        let name = entry
            .path()
            .map_err(malformed)?
            .to_string_lossy()
            .into_owned();
        let slot = match name.as_str() {
            MANIFEST => &mut files.manifest,
            SIGNATURE => &mut files.signature,
            COMPONENT => &mut files.component,
            other => {
                return Err(PackageError::Malformed(format!(
                    "unexpected file `{other}` in the archive (a package holds {MANIFEST}, {SIGNATURE} and {COMPONENT})"
                )));
            }
        };
        if slot.is_some() {
            return Err(PackageError::Malformed(format!(
                "`{name}` is in the archive twice"
            )));
        }
        if entry.size() > LARGEST {
            return Err(PackageError::Malformed(format!(
                "`{name}` is larger than {LARGEST} bytes"
            )));
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes).map_err(malformed)?;
        *slot = Some(bytes);
    }
    Ok(files)
}
