//! Builds the WebAssembly guests (the plugin and the hostile test guest) with
//! their own target directory, as wasmtime's test-programs crate does, and
//! embeds the default policies.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const WASM_TARGET: &str = "wasm32-wasip2";
const WASM_PROFILE: &str = "wasm";
/// Compiler flags of the guest build. Every function the guest enters
/// and every loop it repeats checks the call's deadline (wasmtime's epoch
/// interruption: 12-13 % of a decision in the component, measured
/// 2026-12-07, seventh session), so a guest that calls less decides
/// faster: LLVM inlines more than its default threshold (225) allows. In
/// alternating runs of the authorize bench, new decisions went from 1.47x
/// and 1.53x native to 1.38x and 1.43x; the component grows from 6.9 to
/// 9.3 MB (compiled once, then loaded from the artifact cache). A
/// threshold of 2000 was slower (1.45x against 1.41x, 12.7 MB).
const WASM_RUSTFLAGS: &str = "-Cllvm-args=-inline-threshold=800";
const GUESTS: &[(&str, &str)] = &[
    ("partnergate-plugin", "partnergate_plugin"),
    ("hostile-guest", "hostile_guest"),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());

    for watched in [
        "plugin/src",
        "plugin/Cargo.toml",
        "wit",
        "tests/hostile-guest",
        "Cargo.lock",
        "policies",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    build_guests(&root, &out_dir);
    embed_policies(&root.join("policies"), &out_dir);
}

/// `<target>/wasm-guests`, beside the host's own profile directories.
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    // OUT_DIR is <target>[/<triple>]/<profile>/build/<pkg>-<hash>/out.
    let profile_dir = out_dir.ancestors().nth(3).expect("OUT_DIR layout");
    profile_dir
        .parent()
        .expect("target dir")
        .join("wasm-guests")
}

/// Adds the guest target through rustup when the toolchain lacks it.
///
/// rustup installs the targets of `rust-toolchain.toml` only when it installs
/// the toolchain itself, not into a toolchain that is already present, so a
/// fresh machine with the right toolchain can still miss the target.
fn ensure_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    let installed = sysroot.as_deref().is_some_and(|root| {
        root.join("lib/rustlib")
            .join(WASM_TARGET)
            .join("lib")
            .is_dir()
    });
    if installed {
        return;
    }
    println!(
        "cargo:warning=the toolchain lacks the `{WASM_TARGET}` target the plugin is built for; adding it with `rustup target add {WASM_TARGET}`"
    );
    // RUSTUP_TOOLCHAIN, set by the cargo proxy, makes rustup add it to the
    // toolchain this build runs with.
    let added = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .status();
    match added {
        Ok(status) if status.success() => {}
        Ok(status) => panic!(
            "`rustup target add {WASM_TARGET}` failed ({status}); add the target by hand and build again"
        ),
        Err(e) => panic!(
            "the toolchain lacks the `{WASM_TARGET}` target and rustup could not be run ({e}); install the target for `{rustc}` and build again"
        ),
    }
}

fn build_guests(root: &Path, out_dir: &Path) {
    ensure_wasm_target();
    let target_dir = guest_target_dir(out_dir);
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .arg("build")
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target")
        .arg(WASM_TARGET)
        .arg("--profile")
        .arg(WASM_PROFILE)
        .arg("--target-dir")
        .arg(&target_dir);
    for (package, _) in GUESTS {
        cmd.arg("-p").arg(package);
    }
    // Settings meant for the host build must not leak into the guest build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    for (key, _) in env::vars() {
        if key.starts_with("CARGO_PROFILE_")
            || key.starts_with("CARGO_CFG_")
            || key.starts_with("CARGO_FEATURE_")
        {
            cmd.env_remove(key);
        }
    }
    cmd.env("CARGO_ENCODED_RUSTFLAGS", WASM_RUSTFLAGS);
    let status = cmd.status().expect("run cargo to build the wasm guests");
    assert!(
        status.success(),
        "building the wasm guests failed: see the compiler's output above (a missing target needs `rustup target add {WASM_TARGET}`)"
    );
    for (_, artifact) in GUESTS {
        let built = target_dir
            .join(WASM_TARGET)
            .join(WASM_PROFILE)
            .join(format!("{artifact}.wasm"));
        let dest = out_dir.join(format!("{artifact}.wasm"));
        fs::copy(&built, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", built.display()));
        println!(
            "cargo:rustc-env={}_WASM={}",
            artifact.to_uppercase(),
            dest.display()
        );
    }
}

fn embed_policies(dir: &Path, out_dir: &Path) {
    let mut schema = None;
    let mut policies: Vec<PathBuf> = Vec::new();
    for entry in fs::read_dir(dir).expect("read policies/") {
        let path = entry.unwrap().path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("cedarschema") => schema = Some(path),
            Some("cedar") => policies.push(path),
            _ => {}
        }
    }
    policies.sort();
    let schema = schema.expect("policies/ holds a *.cedarschema");
    let entry = |path: &Path| {
        format!(
            "({:?}, include_str!({:?}))",
            path.file_name().unwrap().to_str().unwrap(),
            path.display().to_string()
        )
    };
    let mut code = String::new();
    writeln!(code, "/// The default schema.").unwrap();
    writeln!(code, "pub const SCHEMA: (&str, &str) = {};", entry(&schema)).unwrap();
    writeln!(code, "/// The default policy files, sorted by name.").unwrap();
    writeln!(code, "pub const POLICIES: &[(&str, &str)] = &[").unwrap();
    for p in &policies {
        writeln!(code, "    {},", entry(p)).unwrap();
    }
    writeln!(code, "];").unwrap();
    fs::write(out_dir.join("default_policies.rs"), code).unwrap();
}
