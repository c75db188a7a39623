//! Building a component of this workspace from a build script: a nested
//! `cargo build --release --target wasm32-wasip2` with its own target directory beside the
//! outer one, so it never waits on the outer build's lock. The host's build script builds
//! the plugin with it; the tests' build script builds their hostile plugin.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Builds `package` of the workspace at `workspace` and returns the path of its component
/// (`<artifact>.wasm`). Panics with what to run by hand when the build fails.
pub fn build(workspace: &Path, package: &str, artifact: &str) -> PathBuf {
    build_with_features(workspace, package, artifact, &[])
}

/// [`build`] with cargo features of `package` on. Each set of features gets a target
/// directory of its own, so building one set never rebuilds (or overwrites) another's.
pub fn build_with_features(
    workspace: &Path,
    package: &str,
    artifact: &str,
    features: &[&str],
) -> PathBuf {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // OUT_DIR is <target>/<profile>/build/<crate>-<hash>/out: share one nested target
    // directory across profiles and crates so dev, test and release builds compile each
    // component once. The directory is named after the workspace's path: checkouts sharing
    // one target directory (git worktrees) must not overwrite each other's components.
    let checkout = {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        workspace.hash(&mut hasher);
        format!("plugin-component-{:016x}", hasher.finish())
    };
    let checkout = if features.is_empty() {
        checkout
    } else {
        format!("{checkout}-{}", features.join("-"))
    };
    let nested_target = out_dir.ancestors().nth(4).map_or_else(
        || out_dir.join("plugin-target"),
        |target| target.join(&checkout),
    );

    ensure_wasm_target();

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--locked",
            "--release",
            "--package",
            package,
            "--target",
            WASM_TARGET,
        ])
        .arg("--target-dir")
        .arg(&nested_target);
    if !features.is_empty() {
        command.arg("--features").arg(features.join(","));
    }
    // What ships carries no debug info (it was 87 % of the component), only the names
    // section, so traps still name their functions. PRIVACY_GUARD_COMPONENT_DEBUG=1 builds
    // it with line tables, for profiling the guest.
    let (debug, strip) = match env::var_os("PRIVACY_GUARD_COMPONENT_DEBUG") {
        Some(_) => ("line-tables-only", "none"),
        None => ("false", "debuginfo"),
    };
    command
        .env("CARGO_PROFILE_RELEASE_DEBUG", debug)
        .env("CARGO_PROFILE_RELEASE_STRIP", strip);
    // Flags meant for the outer build (its target, clippy's wrapper, coverage) must not
    // leak into the guest build.
    for variable in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_LLVM_COV",
        "LLVM_PROFILE_FILE",
    ] {
        command.env_remove(variable);
    }
    let status = command
        .status()
        .unwrap_or_else(|error| panic!("could not start cargo to build {package}: {error}"));
    assert!(
        status.success(),
        "building the component {package} (features: {features:?}) failed: run `cargo build -p {package} --release --target {WASM_TARGET}` to see why"
    );

    let component = nested_target
        .join(WASM_TARGET)
        .join("release")
        .join(format!("{artifact}.wasm"));
    assert!(
        component.exists(),
        "the build of {package} succeeded but {} is missing",
        component.display()
    );
    component
}

/// Installs the wasm32-wasip2 target with rustup when the toolchain lacks it.
///
/// rust-toolchain.toml names the target, but rustup only adds targets when it installs the
/// toolchain itself; a machine that already had the pinned toolchain would otherwise fail
/// here with "can't find crate for `core`".
fn ensure_wasm_target() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let installed =
        sysroot.is_some_and(|sysroot| sysroot.join("lib/rustlib").join(WASM_TARGET).exists());
    if installed {
        return;
    }
    println!(
        "cargo:warning=installing the {WASM_TARGET} target with rustup (needed to build components)"
    );
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", WASM_TARGET]);
    if let Some(toolchain) = env::var_os("RUSTUP_TOOLCHAIN") {
        rustup.arg("--toolchain").arg(toolchain);
    }
    match rustup.status() {
        Ok(status) if status.success() => {}
        _ => panic!(
            "the {WASM_TARGET} target is missing and `rustup target add {WASM_TARGET}` failed: install it by hand, then build again"
        ),
    }
}
