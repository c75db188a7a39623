//! Builds the hostile plugin (`tests/hostile`) for the containment tests, as the host's
//! build script builds the real one, and hands its path to the tests through the
//! `PRIVACY_GUARD_HOSTILE_COMPONENT` compile-time variable; and the same plugin against
//! the frozen previous contract (`PRIVACY_GUARD_FROZEN_0_3_0_COMPONENT`).

use std::env;
use std::path::PathBuf;

#[path = "../host/build/component.rs"]
mod component;

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir
        .parent()
        .expect("the tests crate lives inside the workspace");
    println!("cargo:rerun-if-env-changed=PRIVACY_GUARD_COMPONENT_DEBUG");
    for watched in ["tests/hostile", "wit", "Cargo.lock", "host/build"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    let component = component::build(workspace, "privacy-guard-hostile", "privacy_guard_hostile");
    println!(
        "cargo:rustc-env=PRIVACY_GUARD_HOSTILE_COMPONENT={}",
        component.display()
    );
    // The same guest against the frozen copy of the previous released contract.
    let frozen = component::build_with_features(
        workspace,
        "privacy-guard-hostile",
        "privacy_guard_hostile",
        &["frozen-0-3-0"],
    );
    println!(
        "cargo:rustc-env=PRIVACY_GUARD_FROZEN_0_3_0_COMPONENT={}",
        frozen.display()
    );
}
