//! `partnergate`: serve the HTTP API, decide one request, validate and test
//! policies. Argument parsing and printing results; the work, including
//! the wiring of `serve` ([`partnergate::app::run`]), is in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use partnergate::config::{HostOptions, ServeOptions};
use partnergate::policies::PolicySource;
use partnergate::verify::check::Outcome;
use partnergate::verify::{PolicyDir, Solver};
use partnergate::{AuthorizeRequest, Error, policy_cases};

/// mimalloc rather than glibc's malloc: with glibc, each thread that
/// contends for the heap gets an arena of its own, and memory freed in
/// them is kept apart, so `serve`'s resident size grew with the number of
/// decisions (see `Cargo.toml`). A library user chooses their own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "partnergate",
    version,
    about = "B2B access for storefronts: organization users, sign-in, Cedar decisions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (see /v1/openapi.json).
    Serve(ServeOptions),
    /// Decide one request and print the decision and the deciding policies.
    /// Exits 0 on allow, 1 on deny, 2 when no decision could be made.
    Authorize {
        /// `customer:<id>` or `staff:<id>`.
        #[arg(long)]
        principal: String,
        /// A Cedar action of the schema, e.g. `placeOrder`.
        #[arg(long)]
        action: String,
        /// `store:<id>`, `organization:<id>`, `customer:<id>` or `onboarding:<id>`.
        #[arg(long)]
        resource: String,
        /// The context as a JSON object, e.g. '{"orderTotal": 12000}'.
        #[arg(long, default_value = "{}")]
        context: String,
        #[command(flatten)]
        host: HostOptions,
    },
    /// Policy work: validate, test, compare and prove policy directories.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate a policy directory against its schema; print every problem
    /// with file and line; exit 1 on any.
    Validate {
        /// The policy directory.
        #[arg(default_value = "policies")]
        dir: PathBuf,
        #[command(flatten)]
        host: HostOptions,
    },
    /// Compare two policy directories: the policies added, removed and
    /// changed, and for every request environment whether the new set is
    /// equivalent, more or less permissive, with counterexamples (needs the
    /// cvc5 solver; without it only the textual comparison). Exits 0 when
    /// nothing became more permissive (or with --allow-more), 1 when
    /// something did, 2 when no comparison could be made.
    Diff {
        /// The policy directory in use.
        old: PathBuf,
        /// The candidate.
        new: PathBuf,
        /// Exit 0 even when the new set allows more.
        #[arg(long)]
        allow_more: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Format every `*.cedar` file of a policy directory with Cedar's
    /// formatter; with --check, change nothing and exit 1 when a file is not
    /// formatted.
    Fmt {
        /// The policy directory.
        #[arg(default_value = "policies")]
        dir: PathBuf,
        /// Only report the files that are not formatted.
        #[arg(long)]
        check: bool,
    },
    /// Prove the properties in `<DIR>/properties.json` for every request
    /// (needs the cvc5 solver); print each violation's counterexample.
    /// Exits 0 when all hold, 1 on a violation, 2 when it could not check.
    Check {
        /// The policy directory.
        #[arg(default_value = "policies")]
        dir: PathBuf,
    },
    /// Run the policy tests in `<DIR>/tests/*.json` against `<DIR>`; exit 1
    /// on any failure.
    Test {
        /// The policy directory.
        #[arg(default_value = "policies")]
        dir: PathBuf,
        #[command(flatten)]
        host: HostOptions,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PARTNERGATE_LOG")
                .unwrap_or_else(|_| "partnergate=info,plugin=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(options) => {
            options.check()?;
            let listener = tokio::net::TcpListener::bind(options.listen)
                .await
                .with_context(|| format!("cannot listen on {}", options.listen))?;
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            partnergate::app::run(listener, options, shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Authorize {
            principal,
            action,
            resource,
            context,
            host,
        } => {
            let context: serde_json::Value =
                serde_json::from_str(&context).context("--context is not valid JSON")?;
            let gate = host.builder().await?.build().await?;
            let request = AuthorizeRequest {
                principal,
                action,
                resource,
                context,
                organization: None,
            };
            match gate.authorize(&request).await {
                Ok(decision) => {
                    let verdict = if decision.is_allowed() {
                        "ALLOW"
                    } else {
                        "DENY"
                    };
                    if decision.policies.is_empty() {
                        println!("{verdict} (no policy permits this request)");
                    } else {
                        println!("{verdict} by {}", decision.policies.join(", "));
                    }
                    for error in &decision.errors {
                        println!("  error: {error}");
                    }
                    Ok(if decision.is_allowed() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    })
                }
                Err(err) => {
                    println!("DENY (no decision: {err})");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Policy {
            command: PolicyCommand::Validate { dir, mut host },
        } => {
            host.database = ":memory:".into();
            let gate = host.builder().await?.build().await?;
            match gate
                .validate_policies(&PolicySource::Dir(dir.clone()))
                .await
            {
                Ok(summary) => {
                    println!(
                        "{}: valid ({} policies: {} permit, {} forbid; version {})",
                        dir.display(),
                        summary.policies,
                        summary.permits,
                        summary.forbids,
                        summary.version
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(Error::InvalidPolicies(problems)) => {
                    for problem in &problems {
                        println!("{}", display_problem(&dir, problem));
                    }
                    println!("{} problem(s) found", problems.len());
                    Ok(ExitCode::from(1))
                }
                Err(err) => Err(err.into()),
            }
        }
        Command::Policy {
            command:
                PolicyCommand::Diff {
                    old,
                    new,
                    allow_more,
                    json,
                },
        } => {
            let (old, new) = (PolicyDir::load(&old)?, PolicyDir::load(&new)?);
            let diff = partnergate::verify::diff::diff(&old, &new, &Solver::from_env()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&diff)?);
            } else {
                print_diff(&diff);
            }
            Ok(match (&diff.semantic, diff.more_permissive()) {
                (None, _) => ExitCode::from(2),
                (Some(_), true) if !allow_more => ExitCode::from(1),
                _ => ExitCode::SUCCESS,
            })
        }
        Command::Policy {
            command: PolicyCommand::Fmt { dir, check },
        } => {
            let files = partnergate::verify::format::format_dir(&dir, !check)?;
            let changed: Vec<_> = files.iter().filter(|f| f.changed).collect();
            for file in &changed {
                let verb = if check { "not formatted" } else { "formatted" };
                println!("{verb}: {}", file.file.display());
            }
            if changed.is_empty() {
                println!("{} file(s) already formatted", files.len());
            }
            Ok(if check && !changed.is_empty() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Policy {
            command: PolicyCommand::Check { dir },
        } => {
            let policies = PolicyDir::load(&dir)?;
            let properties = partnergate::verify::check::read(&dir)?;
            let outcomes =
                partnergate::verify::check::check(&policies, &properties, &Solver::from_env())
                    .await?;
            let mut violated = 0;
            for (property, outcome) in properties.properties.iter().zip(&outcomes) {
                match outcome {
                    Outcome::Holds => println!("holds      {}", property.name),
                    Outcome::NotApplicable(opt_in) => println!(
                        "n/a        {} (the opt-in policy `{opt_in}` is on)",
                        property.name
                    ),
                    Outcome::Violated(examples) => {
                        violated += 1;
                        println!("VIOLATED   {}", property.name);
                        for example in examples {
                            println!("  counterexample: {}", example.replace('\n', "\n    "));
                        }
                    }
                }
            }
            println!("{} of {} hold", outcomes.len() - violated, outcomes.len());
            Ok(if violated == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Policy {
            command: PolicyCommand::Test { dir, host },
        } => {
            let source = PolicySource::Dir(dir.clone());
            let results = policy_cases::run_dir(
                &dir.join("tests"),
                &source,
                &host.plugin_source(),
                host.artifact_dir().as_deref(),
            )
            .await?;
            let failed = results.iter().filter(|r| r.failure.is_some()).count();
            for result in &results {
                let file = result
                    .file
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy();
                match &result.failure {
                    None => println!("ok    {file}: {}", result.name),
                    Some(why) => println!("FAIL  {file}: {}\n      {why}", result.name),
                }
            }
            println!("{} passed, {failed} failed", results.len() - failed);
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn print_diff(diff: &partnergate::verify::diff::PolicyDiff) {
    use partnergate::verify::diff::Relation;
    let t = &diff.textual;
    if t.is_empty() {
        println!("policies: no policy added, removed or changed");
    }
    for (what, ids) in [
        ("added", &t.added),
        ("removed", &t.removed),
        ("changed", &t.changed),
    ] {
        for id in ids {
            println!("policy {what:<8} {id}");
        }
    }
    if diff.schema_changed {
        println!("schema changed: both sets are compared under the new schema");
    }
    let Some(environments) = &diff.semantic else {
        println!(
            "no semantic comparison: {}",
            diff.semantic_unavailable.as_deref().unwrap_or("unknown")
        );
        return;
    };
    let mut equivalent = 0;
    for e in environments {
        let relation = match e.relation {
            Relation::Equivalent => {
                equivalent += 1;
                continue;
            }
            Relation::MorePermissive => "MORE PERMISSIVE",
            Relation::LessPermissive => "less permissive",
            Relation::Both => "MORE AND LESS PERMISSIVE",
        };
        println!(
            "\n{} × {} × {}: {relation}",
            e.principal, e.action, e.resource
        );
        if let Some(example) = &e.newly_allowed {
            println!(
                "  now allowed, denied before:\n    {}",
                example.replace('\n', "\n    ")
            );
        }
        if let Some(example) = &e.newly_denied {
            println!(
                "  now denied, allowed before:\n    {}",
                example.replace('\n', "\n    ")
            );
        }
    }
    println!(
        "\n{} request environments: {equivalent} equivalent, {} changed",
        environments.len(),
        environments.len() - equivalent
    );
}

fn display_problem(dir: &std::path::Path, p: &partnergate::Problem) -> String {
    let file = dir.join(&p.file);
    if p.line == 0 {
        format!("{}: {}", file.display(), p.message)
    } else {
        format!("{}:{}:{}: {}", file.display(), p.line, p.column, p.message)
    }
}
