//! What a component imports and exports, read from its bytes without compiling it, and
//! what this host grants.

use crate::contract::CONTRACT;

/// The top-level imports and exports of a component, by name
/// (`privacy-guard:consent/store@0.3.0`, `wasi:io/streams@0.2.6`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInterface {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

/// The interfaces of the contract a Privacy Guard component exports.
pub const EXPORTED_INTERFACES: [&str; 8] = [
    "configuration",
    "records",
    "sending",
    "tracking",
    "jobs",
    "deduplication",
    "preferences",
    "subjects",
];

/// The contract's own interfaces a component may import.
const CONTRACT_IMPORTS: [&str; 7] = ["types", "crm", "store", "mail", "clock", "keys", "log"];

/// WASI 0.2 packages this host links, granting nothing through them (no preopened
/// folders, environment, arguments or network): what Rust's standard library imports.
const GRANTED_WASI: [&str; 4] = ["wasi:io/", "wasi:cli/", "wasi:clocks/", "wasi:random/"];

impl ComponentInterface {
    /// Reads the names from the component's import and export sections (its own, not
    /// those of the modules and components nested in it).
    pub fn read(component: &[u8]) -> Result<ComponentInterface, String> {
        use wasmparser::{Encoding, Parser, Payload};
        let mut interface = ComponentInterface {
            imports: Vec::new(),
            exports: Vec::new(),
        };
        let mut depth = 0usize;
        for payload in Parser::new(0).parse_all(component) {
            let payload = payload.map_err(|error| format!("not a valid component: {error}"))?;
            match payload {
                Payload::Version { encoding, .. } => {
                    if depth == 0 && encoding != Encoding::Component {
                        return Err("a core WebAssembly module, not a component".into());
                    }
                    depth += 1;
                }
                Payload::End(_) => depth = depth.saturating_sub(1),
                Payload::ComponentImportSection(reader) if depth == 1 => {
                    for import in reader {
                        let import =
                            import.map_err(|error| format!("not a valid component: {error}"))?;
                        interface.imports.push(import.name.name.to_owned());
                    }
                }
                Payload::ComponentExportSection(reader) if depth == 1 => {
                    for export in reader {
                        let export =
                            export.map_err(|error| format!("not a valid component: {error}"))?;
                        interface.exports.push(export.name.name.to_owned());
                    }
                }
                _ => {}
            }
        }
        interface.imports.sort();
        interface.exports.sort();
        Ok(interface)
    }

    /// The contract versions the component exports the world's interfaces at
    /// (`privacy-guard:consent@0.3.0`), one per version found.
    pub fn contracts(&self) -> Vec<String> {
        let mut found: Vec<String> = self
            .exports
            .iter()
            .filter_map(|name| {
                let (package, rest) = name.split_once('/')?;
                let (_, version) = rest.split_once('@')?;
                Some(format!("{package}@{version}"))
            })
            .collect();
        found.sort();
        found.dedup();
        found
    }

    /// The world's exports the component lacks at a version this host can call (see
    /// [`compatible`]), named at this host's contract.
    pub fn missing_exports(&self) -> Vec<String> {
        EXPORTED_INTERFACES
            .iter()
            .filter(|name| {
                !self
                    .exports
                    .iter()
                    .any(|export| contract_interface(export) == Some(name))
            })
            .map(|name| format!("{}/{name}@{}", contract_package(), contract_version()))
            .collect()
    }
}

fn contract_package() -> &'static str {
    CONTRACT
        .split_once('@')
        .map_or(CONTRACT, |(package, _)| package)
}

fn contract_version() -> &'static str {
    CONTRACT.split_once('@').map_or("", |(_, version)| version)
}

/// The interface's name when `name` is an interface of this host's contract at a
/// compatible version (`privacy-guard:consent/store@0.3.0` to a 0.3.1 host: `store`).
fn contract_interface(name: &str) -> Option<&str> {
    let (package, rest) = name.split_once('/')?;
    let (interface, version) = rest.split_once('@')?;
    (package == contract_package() && compatible(version)).then_some(interface)
}

/// Whether a component built against contract `version` runs on this host: semver as the
/// component model has it (the same major version, or for 0.x the same minor), and not
/// newer than the host's.
pub fn compatible(version: &str) -> bool {
    let (Ok(theirs), Ok(ours)) = (
        semver::Version::parse(version),
        semver::Version::parse(contract_version()),
    ) else {
        return false;
    };
    let same_line = if ours.major == 0 {
        theirs.major == 0 && theirs.minor == ours.minor
    } else {
        theirs.major == ours.major
    };
    same_line && theirs <= ours
}

/// Whether a contract (`privacy-guard:consent@0.3.0`) is one this host speaks.
pub fn speaks(contract: &str) -> bool {
    contract
        .split_once('@')
        .is_some_and(|(package, version)| package == contract_package() && compatible(version))
}

/// Whether this host grants a capability: the contract's imports at a compatible version,
/// and the WASI interfaces it links with nothing behind them.
pub fn granted(capability: &str) -> bool {
    contract_interface(capability).is_some_and(|name| CONTRACT_IMPORTS.contains(&name))
        || GRANTED_WASI
            .iter()
            .any(|prefix| capability.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_plugin_exports_the_world_and_imports_only_what_is_granted() {
        let interface = ComponentInterface::read(crate::EMBEDDED_COMPONENT).unwrap();
        assert_eq!(interface.contracts(), vec![CONTRACT.to_owned()]);
        assert!(interface.missing_exports().is_empty(), "{interface:?}");
        assert!(interface.imports.contains(&format!(
            "privacy-guard:consent/store@{}",
            contract_version()
        )));
        for import in &interface.imports {
            assert!(granted(import), "{import}");
        }
    }

    #[test]
    fn the_network_and_files_are_not_granted_nor_another_contract() {
        assert!(!granted("wasi:sockets/tcp@0.2.6"));
        assert!(!granted("wasi:http/outgoing-handler@0.2.6"));
        assert!(!granted("wasi:filesystem/preopens@0.2.6"));
        assert!(!granted("privacy-guard:consent/store@0.2.0"));
        assert!(!granted("privacy-guard:consent/store@0.4.0"));
        assert!(!granted("privacy-guard:consent/sending@0.3.0"), "an export");
        assert!(granted("privacy-guard:consent/store@0.3.0"));
        assert!(granted("wasi:io/streams@0.2.6"));
    }

    #[test]
    fn components_of_earlier_patch_versions_of_the_contract_are_compatible() {
        assert!(compatible("0.3.0"));
        assert!(compatible(contract_version()));
        assert!(!compatible("0.2.9"));
        assert!(!compatible("0.3.99"), "newer than the host");
        assert!(!compatible("1.3.0"));
        assert!(!compatible("nonsense"));
        assert!(speaks("privacy-guard:consent@0.3.0"));
        assert!(!speaks("other:consent@0.3.0"));
    }

    #[test]
    fn a_core_module_or_garbage_is_not_a_component() {
        // A core module: the magic number and version 1.
        let module = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
        assert!(
            ComponentInterface::read(&module)
                .unwrap_err()
                .contains("core WebAssembly module")
        );
        assert!(
            ComponentInterface::read(b"PK\x03\x04")
                .unwrap_err()
                .contains("not a valid component")
        );
    }
}
