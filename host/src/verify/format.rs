//! `partnergate policy fmt DIR`: every `*.cedar` file of a policy directory
//! through Cedar's own formatter (`cedar-policy-formatter`, as `cedar
//! format` does), comments kept. `--check` changes nothing and names the
//! files that are not formatted.

use std::path::{Path, PathBuf};

use cedar_policy_formatter::{Config, policies_str_to_pretty};

use crate::error::Error;

/// One policy file and whether formatting changes it.
#[derive(Debug, PartialEq, Eq)]
pub struct Formatted {
    /// The file.
    pub file: PathBuf,
    /// Whether its text is not as the formatter writes it.
    pub changed: bool,
}

/// Formats the `*.cedar` files of `dir`, in name order; with `write`, puts
/// each changed text in place (written beside it, then renamed, so a file is
/// never half written). A file that does not parse is refused before any
/// file is written.
pub fn format_dir(dir: &Path, write: bool) -> Result<Vec<Formatted>, Error> {
    let unreadable = |path: &Path, e: &dyn std::fmt::Display| {
        Error::PolicySource(format!("`{}`: {e}", path.display()))
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| unreadable(dir, &e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|x| x == "cedar"))
        .collect();
    files.sort();
    let config = Config::default();
    let mut formatted = Vec::with_capacity(files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| unreadable(&file, &e))?;
        let pretty = policies_str_to_pretty(&text, &config).map_err(|e| {
            unreadable(
                &file,
                &format!("does not parse, so it cannot be formatted: {e}"),
            )
        })?;
        formatted.push((file, text != pretty, pretty));
    }
    if write {
        for (file, changed, pretty) in &formatted {
            if *changed {
                let partial = file.with_extension("cedar.partial");
                std::fs::write(&partial, pretty).map_err(|e| unreadable(&partial, &e))?;
                std::fs::rename(&partial, file).map_err(|e| unreadable(file, &e))?;
            }
        }
    }
    Ok(formatted
        .into_iter()
        .map(|(file, changed, _)| Formatted { file, changed })
        .collect())
}
