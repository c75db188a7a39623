//! Builds the Privacy Guard component so that building the host builds the plugin too.
//!
//! Runs a nested `cargo build` of `privacy-guard-plugin` for `wasm32-wasip2` (always in
//! release mode: the component is what ships; see `build/component.rs`) and hands the
//! component's path to the host through the `PRIVACY_GUARD_EMBEDDED_COMPONENT_PATH`
//! compile-time variable. Not `PRIVACY_GUARD_COMPONENT`: cargo sets such variables for the
//! test binaries it runs too, and that one is the CLI's `--component`, which would make
//! every command the tests start load an unverified file.

use std::env;
use std::path::{Path, PathBuf};

#[path = "build/component.rs"]
mod component;

const PLUGIN_PACKAGE: &str = "privacy-guard-plugin";

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir
        .parent()
        .expect("the host crate lives inside the workspace");
    println!("cargo:rerun-if-env-changed=PRIVACY_GUARD_COMPONENT_DEBUG");
    for watched in [
        "plugin/core/src",
        "plugin/core/Cargo.toml",
        "plugin/component/src",
        "plugin/component/Cargo.toml",
        "wit",
        "Cargo.lock",
        "host/build",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    println!("cargo:rerun-if-env-changed=PRIVACY_GUARD_COMPONENT_OVERRIDE");

    // A packager can hand over a component built elsewhere.
    let component = match env::var_os("PRIVACY_GUARD_COMPONENT_OVERRIDE") {
        Some(path) => PathBuf::from(path),
        None => component::build(workspace, PLUGIN_PACKAGE, "privacy_guard_plugin"),
    };
    embed(&component);
}

/// Hands the component to the host: its path, and its SHA-256, which names its compiled
/// artifact in the cache (hashed here once, not by every process at every start).
fn embed(component: &Path) {
    let bytes = std::fs::read(component).unwrap_or_else(|error| {
        panic!("cannot read the component {}: {error}", component.display())
    });
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&bytes);
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    println!(
        "cargo:rustc-env=PRIVACY_GUARD_EMBEDDED_COMPONENT_PATH={}",
        component.display()
    );
    println!("cargo:rustc-env=PRIVACY_GUARD_EMBEDDED_COMPONENT_SHA256={hex}");
}
