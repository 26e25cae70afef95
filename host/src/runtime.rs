//! The wasmtime engine, compiling the plugin once (with an on-disk cache of
//! the compiled artifact) and the epoch ticker that bounds every call.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use crate::error::Error;

/// How often the epoch advances: the granularity of call deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// An engine configured for PartnerGate: component model, epoch interruption.
pub fn engine() -> Result<Engine, Error> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // `perf` names the plugin's functions when asked to (a file per
    // process under /tmp, so off by default).
    if std::env::var_os("PARTNERGATE_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let engine =
        Engine::new(&config).map_err(|e| Error::Engine(format!("cannot create engine: {e}")))?;
    start_epoch_ticker(&engine);
    Ok(engine)
}

/// Advances `engine`'s epoch every [`EPOCH_TICK`] until the engine is dropped.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("partnergate-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawn epoch thread");
}

/// Where a component came from on this start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Artifact {
    /// Loaded precompiled from the cache file.
    Cached(PathBuf),
    /// Compiled now and stored in the cache file.
    Compiled(PathBuf),
    /// Compiled now; no cache directory configured.
    CompiledUncached,
}

/// Compiles `wasm`, or loads it precompiled from `cache_dir`. The cache file
/// is keyed by the component's SHA-256 and the engine's compatibility hash,
/// so a different plugin, wasmtime version or configuration never loads a
/// stale artifact. A corrupt or incompatible file is replaced.
pub fn load_component(
    engine: &Engine,
    wasm: &[u8],
    cache_dir: Option<&Path>,
) -> Result<(Component, Artifact), Error> {
    let compile = || {
        Component::new(engine, wasm)
            .map_err(|e| Error::Engine(format!("cannot compile the plugin: {e:?}")))
    };
    let Some(dir) = cache_dir else {
        return Ok((compile()?, Artifact::CompiledUncached));
    };
    let path = dir.join(artifact_name(engine, wasm));
    // Read into memory rather than map the file: a file truncated under a
    // mapping would crash the process (SIGBUS) instead of failing cleanly.
    if let Ok(bytes) = std::fs::read(&path) {
        // SAFETY: the file is written only by this function, from
        // `Component::serialize` of the same engine configuration (its name
        // carries the compatibility hash) into a directory the operator owns;
        // wasmtime checks the header and rejects incompatible artifacts.
        match unsafe { Component::deserialize(engine, &bytes) } {
            Ok(component) => return Ok((component, Artifact::Cached(path))),
            Err(err) => {
                tracing::warn!(path = %path.display(), "discarding unusable compiled plugin: {err}")
            }
        }
    }
    let component = compile()?;
    match store_artifact(&component, dir, &path) {
        Ok(()) => Ok((component, Artifact::Compiled(path))),
        Err(err) => {
            tracing::warn!(path = %path.display(), "cannot cache the compiled plugin: {err}");
            Ok((component, Artifact::CompiledUncached))
        }
    }
}

fn artifact_name(engine: &Engine, wasm: &[u8]) -> String {
    let digest = Sha256::digest(wasm);
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!(
        "plugin-{}-{:016x}.cwasm",
        hex::encode(&digest[..16]),
        hasher.finish()
    )
}

/// Writes the artifact next to its final name and renames it into place, so
/// a crash never leaves a half-written file under the final name.
fn store_artifact(component: &Component, dir: &Path, path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let bytes = component.serialize().map_err(std::io::Error::other)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_name_follows_the_component_bytes() {
        let engine = Engine::default();
        assert_eq!(artifact_name(&engine, b"a"), artifact_name(&engine, b"a"));
        assert_ne!(artifact_name(&engine, b"a"), artifact_name(&engine, b"b"));
    }
}
