//! What a policy set allows, proved rather than sampled: `partnergate policy
//! diff` compares two sets, `policy check` proves properties of one. Both
//! compile the policies to SMT with Cedar's symbolic compiler
//! (`cedar-policy-symcc`) for every request environment of the schema
//! (principal type × action × resource type) and ask an SMT solver, cvc5;
//! every difference or violation comes with a counterexample (a request and
//! its entities).
//!
//! # Layout
//! - this module: loading a policy directory exactly as the plugin does,
//!   the solver, the request environments;
//! - [`diff`]: textual and semantic differences of two sets;
//! - [`check`]: properties written as data, proved for one set;
//! - [`format`]: Cedar's formatter over a directory (`policy fmt`).

use std::path::{Path, PathBuf};

use cedar_policy::{PolicySet, RequestEnv, Schema};
use cedar_policy_symcc::solver::LocalSolver;
use cedar_policy_symcc::{CedarSymCompiler, CompiledPolicySet};
use partnergate_plugin::policy_set;

use crate::error::Error;
use crate::policies::PolicySource;

pub mod check;
pub mod diff;
pub mod format;

/// The environment variable naming the cvc5 executable (symcc's own).
pub const SOLVER_VARIABLE: &str = "CVC5";

/// A policy directory, validated against its schema as the plugin would.
pub struct PolicyDir {
    /// The schema's text, to tell whether two schemas differ.
    pub schema_text: String,
    /// The schema.
    pub schema: Schema,
    /// The policies, each under its `@id`.
    pub policies: PolicySet,
}

impl PolicyDir {
    /// Reads and validates `dir`; its problems, located, when it does not.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        Self::from_source(&PolicySource::Dir(dir.to_path_buf()))
    }

    /// Reads and validates the policy set at `source`.
    pub fn from_source(source: &PolicySource) -> Result<Self, Error> {
        let (schema, files) = source.read()?;
        let loaded = policy_set::load(&schema, &files).map_err(Error::InvalidPolicies)?;
        Ok(Self {
            schema_text: schema.text,
            schema: loaded.schema,
            policies: loaded.policies,
        })
    }
}

/// One request environment, written `Customer × addUser × Organization`.
pub fn describe(env: &RequestEnv) -> (String, String, String) {
    let last = |name: String| name.rsplit("::").next().unwrap_or(&name).to_string();
    (
        last(env.principal().to_string()),
        env.action().id().escaped().to_string(),
        last(env.resource().to_string()),
    )
}

/// Which solver executable to run: one that speaks SMT-LIB on its standard
/// input as `cvc5 --lang smt` does.
#[derive(Clone, Debug)]
pub struct Solver(PathBuf);

impl Solver {
    /// The executable `CVC5` names, or `cvc5` on `PATH`.
    pub fn from_env() -> Self {
        Self(
            std::env::var_os(SOLVER_VARIABLE)
                .map(PathBuf::from)
                .unwrap_or_else(|| "cvc5".into()),
        )
    }

    /// The executable at `path`.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self(path.into())
    }
}

/// Each solver query may take this long before it answers `unknown`.
pub const SOLVER_TIME_LIMIT_MS: u32 = 60_000;

/// A solver session.
pub struct Prover {
    compiler: CedarSymCompiler<LocalSolver>,
}

impl Prover {
    /// Starts `solver`; a clear error when there is none.
    pub fn start(solver: &Solver) -> Result<Self, Error> {
        let missing = |e: &dyn std::fmt::Display| {
            Error::Config(format!(
                "no SMT solver at `{}`: {e}. Install cvc5 1.3 or later and put it on PATH (or set {SOLVER_VARIABLE} to it), \
                 or `pip install cvc5` and set {SOLVER_VARIABLE}=scripts/cvc5 (see the README's Policy workflow)",
                solver.0.display()
            ))
        };
        let solver = LocalSolver::from_command(
            tokio::process::Command::new(&solver.0)
                .arg("--lang")
                .arg("smt")
                .arg(format!("--tlimit={SOLVER_TIME_LIMIT_MS}")),
        )
        .map_err(|e| missing(&e))?;
        let compiler = CedarSymCompiler::new(solver).map_err(|e| missing(&e))?;
        Ok(Self { compiler })
    }

    /// The symbolic compiler.
    pub(crate) fn compiler(&mut self) -> &mut CedarSymCompiler<LocalSolver> {
        &mut self.compiler
    }
}

/// `set` compiled for `env` of `schema`.
pub(crate) fn compile(
    set: &PolicySet,
    env: &RequestEnv,
    schema: &Schema,
) -> Result<CompiledPolicySet, Error> {
    CompiledPolicySet::compile(set, env, schema)
        .map_err(|e| Error::Engine(format!("symbolic compilation failed: {e}")))
}

/// A counterexample written for a reader: the request, then the entities
/// it involves (the schema's action entities, always the same, left out),
/// attributes sorted.
pub(crate) fn counterexample(found: &cedar_policy_symcc::Env) -> String {
    let request = &found.request;
    let show = |uid: Option<&cedar_policy::EntityUid>| {
        uid.map_or_else(|| "unknown".to_string(), ToString::to_string)
    };
    let mut out = format!(
        "principal {}, action {}, resource {}",
        show(request.principal()),
        show(request.action()),
        show(request.resource())
    );
    if let Some(context) = request.context() {
        let context = context.to_string();
        if context != "{}" {
            out.push_str(&format!(", context {context}"));
        }
    }
    let mut entities: Vec<String> = found
        .entities
        .iter()
        .filter(|e| e.uid().type_name().basename() != "Action")
        .map(|e| {
            let (uid, attrs, parents) = e.clone().into_inner();
            let mut line = uid.to_string();
            let mut parents: Vec<String> = parents.iter().map(ToString::to_string).collect();
            parents.sort();
            if !parents.is_empty() {
                line.push_str(&format!(" in [{}]", parents.join(", ")));
            }
            let mut attrs: Vec<String> = attrs
                .keys()
                .map(|k| match e.attr(k) {
                    Some(Ok(value)) => format!("{k}: {value}"),
                    _ => format!("{k}: <unknown>"),
                })
                .collect();
            attrs.sort();
            if !attrs.is_empty() {
                line.push_str(&format!(" {{ {} }}", attrs.join(", ")));
            }
            line
        })
        .collect();
    entities.sort();
    for entity in entities {
        out.push_str("\n  ");
        out.push_str(&entity);
    }
    out
}

/// A solver failure as the library's error.
pub(crate) fn solver_error(e: impl std::fmt::Display) -> Error {
    Error::Engine(format!("the SMT solver failed: {e}"))
}
