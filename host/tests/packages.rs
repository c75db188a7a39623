//! `privacy-guard package` as a publisher and an operator use it: a key, a signed
//! package, verifying it, installing it, and `serve` refusing what is not verified.

use std::path::Path;
use std::process::{Command, Output};

fn run(folder: &Path, arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_privacy-guard"))
        .arg("--data-dir")
        .arg(folder.join("data"))
        .args(["--now", "2026-12-01T09:00:00Z"])
        .args(arguments)
        .env_remove("PRIVACY_GUARD_COMPONENT")
        .env_remove("PRIVACY_GUARD_PACKAGE")
        .env_remove("PRIVACY_GUARD_TRUST_STORE")
        .output()
        .expect("the binary runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn ok(folder: &Path, arguments: &[&str]) -> String {
    let output = run(folder, arguments);
    assert!(
        output.status.success(),
        "`{}` failed: {}",
        arguments.join(" "),
        text(&output)
    );
    text(&output)
}

/// A publisher's key, and the trust store of a host that trusts it (the data folder's
/// default one).
fn publisher(folder: &Path, name: &str) -> String {
    let key = folder.join(format!("{name}.key"));
    let printed = ok(
        folder,
        &[
            "package",
            "keygen",
            "--out",
            &key.display().to_string(),
            "--name",
            name,
        ],
    );
    let entry = &printed[printed
        .find("[[publishers]]")
        .expect("the entry is printed")..];
    if name == "trusted" {
        std::fs::create_dir_all(folder.join("data")).expect("data folder");
        std::fs::write(folder.join("data/trusted-keys.toml"), entry).expect("trust store");
    }
    key.display().to_string()
}

#[test]
fn a_publisher_signs_a_package_and_an_operator_verifies_and_installs_it() {
    let folder = tempfile::tempdir().expect("temp dir");
    let folder = folder.path();
    let key = publisher(folder, "trusted");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).expect("key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the signing key is private");
    }
    let (_, again) = {
        let output = run(folder, &["package", "keygen", "--out", &key]);
        assert!(!output.status.success());
        ((), text(&output))
    };
    assert!(again.contains("never overwritten"), "{again}");

    let package = folder.join("privacy-guard.pgpkg").display().to_string();
    let built = ok(
        folder,
        &[
            "package",
            "build",
            "--key",
            &key,
            "--out",
            &package,
            "--plugin-version",
            "1.2.3",
        ],
    );
    assert!(
        built.contains("privacy-guard 1.2.3 for privacy-guard:consent@"),
        "{built}"
    );

    let verified = ok(folder, &["package", "verify", &package, "--json"]);
    let answer: serde_json::Value =
        serde_json::from_str(&verified[..verified.rfind('}').expect("json") + 1])
            .expect("verify --json prints JSON");
    assert_eq!(answer["status"], "verified");
    assert_eq!(answer["publisher"], "trusted");
    assert_eq!(answer["manifest"]["version"], "1.2.3");

    // Installed, it is what every command loads, verified each time.
    ok(folder, &["package", "install", &package]);
    assert!(folder.join("data/packages/installed.pgpkg").exists());
    // A newer release installed over it; the one before is kept to roll back to.
    let newer = folder
        .join("privacy-guard-1.2.4.pgpkg")
        .display()
        .to_string();
    ok(
        folder,
        &[
            "package",
            "build",
            "--key",
            &key,
            "--out",
            &newer,
            "--plugin-version",
            "1.2.4",
        ],
    );
    ok(folder, &["package", "install", &newer]);
    let previous = folder
        .join("data/packages/previous.pgpkg")
        .display()
        .to_string();
    let kept = ok(folder, &["package", "verify", &previous, "--json"]);
    assert!(kept.contains("\"version\": \"1.2.3\""), "{kept}");
    let installed = folder
        .join("data/packages/installed.pgpkg")
        .display()
        .to_string();
    let current = ok(folder, &["package", "verify", &installed, "--json"]);
    assert!(current.contains("\"version\": \"1.2.4\""), "{current}");
    let check = run(
        folder,
        &["check", "--class", "ad-hoc", "--to", "ada@example.com"],
    );
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains("loading a verified package"),
        "{}",
        text(&check)
    );

    // A host that no longer trusts the publisher refuses to start on it.
    std::fs::write(folder.join("data/trusted-keys.toml"), "").expect("empty trust store");
    let refused = run(folder, &["outbox"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("trust store does not list"),
        "{}",
        text(&refused)
    );
}

#[test]
fn a_package_from_an_unknown_key_or_changed_after_signing_is_refused_with_its_kind() {
    let folder = tempfile::tempdir().expect("temp dir");
    let folder = folder.path();
    publisher(folder, "trusted");
    let stranger = publisher(folder, "stranger");
    let package = folder.join("theirs.pgpkg").display().to_string();
    ok(
        folder,
        &["package", "build", "--key", &stranger, "--out", &package],
    );
    let output = run(folder, &["package", "install", &package, "--json"]);
    assert_eq!(output.status.code(), Some(5), "{}", text(&output));
    let answer: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("install --json prints JSON");
    assert_eq!(answer["status"], "refused");
    assert_eq!(answer["refusal"], "untrusted-key");
    assert!(!folder.join("data/packages/installed.pgpkg").exists());

    // A trusted publisher's package whose component changed on the way.
    let trusted = folder.join("trusted.key").display().to_string();
    let package = folder.join("ours.pgpkg").display().to_string();
    ok(
        folder,
        &["package", "build", "--key", &trusted, "--out", &package],
    );
    ok(folder, &["package", "verify", &package]);
    let mut bytes = std::fs::read(&package).expect("package");
    // The archive ends with the component, padding and two empty blocks.
    let inside_component = bytes.len() - 4096;
    bytes[inside_component] ^= 0xff;
    std::fs::write(&package, bytes).expect("tampered package");
    let output = run(folder, &["package", "verify", &package, "--json"]);
    assert_eq!(output.status.code(), Some(5), "{}", text(&output));
    let answer: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("verify --json prints JSON");
    assert_eq!(answer["refusal"], "hash-mismatch", "{answer}");
}

#[test]
fn serve_loads_an_unverified_component_only_when_told_to() {
    let folder = tempfile::tempdir().expect("temp dir");
    let folder = folder.path();
    let component = folder.join("plugin.wasm");
    std::fs::write(&component, b"\0asm\x0d\x00\x01\x00").expect("component");
    let output = run(
        folder,
        &[
            "--component",
            &component.display().to_string(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert!(!output.status.success());
    assert!(
        text(&output).contains("serve loads only verified plugins")
            && text(&output).contains("--allow-unverified"),
        "{}",
        text(&output)
    );
    // Other commands load it, warning that it is unverified.
    let output = run(
        folder,
        &["--component", &component.display().to_string(), "outbox"],
    );
    assert!(text(&output).contains("UNVERIFIED"), "{}", text(&output));
}
