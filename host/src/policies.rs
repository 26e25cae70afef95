//! Where the policy set comes from: a directory of `*.cedar` files and one
//! `*.cedarschema`, or the defaults built into the binary.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::model::PolicyFile;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/default_policies.rs"));
}

/// A policy set's source.
#[derive(Clone, Debug)]
pub enum PolicySource {
    /// The default policies compiled into this binary (`policies/`).
    Embedded,
    /// A directory holding one `*.cedarschema` and any number of `*.cedar`.
    Dir(PathBuf),
}

impl PolicySource {
    /// What this is, for logs and errors.
    pub fn describe(&self) -> String {
        match self {
            Self::Embedded => "built-in default policies".into(),
            Self::Dir(dir) => format!("policy directory `{}`", dir.display()),
        }
    }

    /// Reads the schema and the policy files, sorted by name.
    pub fn read(&self) -> Result<(PolicyFile, Vec<PolicyFile>), Error> {
        match self {
            Self::Embedded => {
                let file = |(name, text): &(&str, &str)| PolicyFile {
                    name: name.to_string(),
                    text: text.to_string(),
                };
                Ok((
                    file(&embedded::SCHEMA),
                    embedded::POLICIES.iter().map(file).collect(),
                ))
            }
            Self::Dir(dir) => read_dir(dir),
        }
    }
}

fn read_dir(dir: &Path) -> Result<(PolicyFile, Vec<PolicyFile>), Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Error::PolicySource(format!(
            "cannot read policy directory `{}`: {e}",
            dir.display()
        ))
    })?;
    let mut schemas = Vec::new();
    let mut policies = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| Error::PolicySource(format!("`{}`: {e}", dir.display())))?
            .path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let list = match path.extension().and_then(|e| e.to_str()) {
            Some("cedarschema") => &mut schemas,
            Some("cedar") => &mut policies,
            _ => continue,
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::PolicySource(format!("cannot read `{}`: {e}", path.display())))?;
        list.push(PolicyFile { name, text });
    }
    policies.sort_by(|a, b| a.name.cmp(&b.name));
    let schema = match schemas.len() {
        1 => schemas.pop().expect("one schema"),
        0 => {
            return Err(Error::PolicySource(format!(
                "no `*.cedarschema` file in `{}`",
                dir.display()
            )));
        }
        _ => {
            return Err(Error::PolicySource(format!(
                "more than one `*.cedarschema` file in `{}`: keep exactly one",
                dir.display()
            )));
        }
    };
    if policies.is_empty() {
        return Err(Error::PolicySource(format!(
            "no `*.cedar` policy files in `{}`",
            dir.display()
        )));
    }
    Ok((schema, policies))
}
