//! Configuration of `partnergate serve` and the CLI: flags, each with an
//! environment variable, all optional (embedded defaults otherwise).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::clock::Clock;
use crate::directory;
use crate::directory::seed::Seed;
use crate::error::Error;
use crate::gate::{Builder, PartnerGate, PluginSource};
use crate::policies::PolicySource;
use crate::pool::Limits;

/// Options shared by every command that starts the host.
#[derive(Args, Clone, Debug)]
pub struct HostOptions {
    /// Directory with the Cedar schema (`*.cedarschema`) and policies
    /// (`*.cedar`); default: the policies built into the binary.
    #[arg(long, env = "PARTNERGATE_POLICIES")]
    pub policies: Option<PathBuf>,

    /// The customer directory: a SQLite file (created and migrated on
    /// start), `:memory:`, or a PostgreSQL URL
    /// (`postgres://user:password@host:5432/database`, migrated on start)
    /// for several nodes.
    #[arg(long, env = "PARTNERGATE_DATABASE", default_value = "partnergate.db")]
    pub database: String,

    /// Connections in the PostgreSQL pool (ignored for SQLite).
    #[arg(long, env = "PARTNERGATE_DATABASE_POOL_SIZE", default_value_t = 16)]
    pub database_pool_size: usize,

    /// PEM file of CA certificates PostgreSQL's certificate may chain to,
    /// besides the public (webpki) roots.
    #[arg(long, env = "PARTNERGATE_DATABASE_CA_FILE")]
    pub database_ca_file: Option<PathBuf>,

    /// Customer records (JSON, see `policies/directory.json`) loaded into the
    /// directory when it is empty.
    #[arg(long, env = "PARTNERGATE_DIRECTORY_SEED")]
    pub directory_seed: Option<PathBuf>,

    /// A plugin component to load instead of the built-in one.
    #[arg(long, env = "PARTNERGATE_PLUGIN")]
    pub plugin: Option<PathBuf>,

    /// Where the compiled plugin is cached; `none` disables the cache.
    /// Default: `$XDG_CACHE_HOME/partnergate` or `~/.cache/partnergate`.
    #[arg(long, env = "PARTNERGATE_CACHE_DIR")]
    pub cache_dir: Option<String>,

    /// Redis for the account-status cache shared by several nodes
    /// (`redis://host:port/db`); without it the cache is in-process, which
    /// is correct for a single node only.
    #[arg(long, env = "PARTNERGATE_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Hard TTL of cached account entries, in seconds.
    #[arg(long, env = "PARTNERGATE_CACHE_TTL_SECS", default_value_t = 300)]
    pub cache_ttl_secs: u64,

    /// Memory one plugin instance may use, in MiB.
    #[arg(long, env = "PARTNERGATE_MEMORY_MIB", default_value_t = 64)]
    pub memory_mib: usize,

    /// Time one plugin call may take, in milliseconds.
    #[arg(long, env = "PARTNERGATE_CALL_TIMEOUT_MS", default_value_t = 250)]
    pub call_timeout_ms: u64,

    /// Time loading a policy set into a plugin instance may take (at
    /// start, on reload), in milliseconds.
    #[arg(
        long,
        env = "PARTNERGATE_POLICY_LOAD_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub policy_load_timeout_ms: u64,

    /// Plugin instances running at once.
    #[arg(long, env = "PARTNERGATE_MAX_INSTANCES", default_value_t = 32)]
    pub max_instances: usize,

    /// Plugin instances warmed at start (a spare is warmed in the
    /// background whenever a call takes the last idle one).
    #[arg(long, env = "PARTNERGATE_MIN_INSTANCES", default_value_t = 1)]
    pub min_instances: usize,

    /// Listings, audit reads and bulk calls running at once (further ones
    /// wait, so that decisions keep the cores); default: half the cores.
    #[arg(long, env = "PARTNERGATE_MAX_LISTINGS")]
    pub max_listings: Option<usize>,

    /// Decisions kept to give again without a plugin call while the records
    /// they rest on keep their stamps (0: every decision is a plugin call).
    #[arg(long, env = "PARTNERGATE_REUSE_DECISIONS", default_value_t = 4096)]
    pub reuse_decisions: usize,
}

impl HostOptions {
    /// The policy source these options name.
    pub fn policy_source(&self) -> PolicySource {
        self.policies
            .clone()
            .map_or(PolicySource::Embedded, PolicySource::Dir)
    }

    /// The plugin these options name.
    pub fn plugin_source(&self) -> PluginSource {
        self.plugin
            .clone()
            .map_or(PluginSource::Embedded, PluginSource::File)
    }

    /// The compiled-artifact cache directory, if enabled.
    pub fn artifact_dir(&self) -> Option<PathBuf> {
        match self.cache_dir.as_deref() {
            Some("none") => None,
            Some(dir) => Some(PathBuf::from(dir)),
            None => std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
                .map(|base| base.join("partnergate")),
        }
    }

    /// `--database` without a password, for messages and logs.
    pub fn redacted_database(&self) -> String {
        match url::Url::parse(&self.database) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("***"));
                url.to_string()
            }
            _ => self.database.clone(),
        }
    }

    /// A builder configured by these options: opens (and seeds) the database.
    pub async fn builder(&self) -> Result<Builder, Error> {
        if self.memory_mib == 0
            || self.call_timeout_ms == 0
            || self.policy_load_timeout_ms == 0
            || self.max_instances == 0
            || self.max_listings == Some(0)
        {
            return Err(Error::Config(
                "memory, call timeout, policy load timeout, instances and listings must be greater than zero".into(),
            ));
        }
        let mut builder = PartnerGate::builder()
            .plugin(self.plugin_source())
            .policies(self.policy_source())
            .limits(Limits {
                memory_bytes: self.memory_mib << 20,
                call_timeout: Duration::from_millis(self.call_timeout_ms),
                load_timeout: Duration::from_millis(self.policy_load_timeout_ms),
                max_instances: self.max_instances,
                min_instances: self.min_instances,
                max_listings: self
                    .max_listings
                    .unwrap_or_else(crate::pool::half_the_cores),
                reuse_decisions: self.reuse_decisions,
            });
        if let Some(dir) = self.artifact_dir() {
            builder = builder.artifact_cache(dir);
        }
        let clock = Clock::system();
        let options = directory::postgres::PostgresOptions {
            pool_size: self.database_pool_size,
            ca_file: self.database_ca_file.clone(),
        };
        let directory = directory::open(&self.database, &options, clock.clone())
            .await
            .map_err(|e| {
                Error::misconfigured(format!("database `{}`", self.redacted_database()), e)
            })?;
        if let Some(path) = &self.directory_seed
            && directory.is_empty().await?
        {
            let seed =
                Seed::from_file(path).map_err(|e| Error::misconfigured("--directory-seed", e))?;
            seed.load_into(&*directory)
                .await
                .map_err(|e| Error::misconfigured(format!("`{}`", path.display()), e))?;
        }
        let builder = builder.clock(clock).directory(directory);
        Ok(match &self.redis_url {
            Some(url) => {
                let mut config = crate::cache::redis::RedisCacheConfig::new(url.clone());
                config.entry_ttl = Duration::from_secs(self.cache_ttl_secs.max(1));
                let cache = crate::cache::redis::RedisCache::connect(config)
                    .await
                    .map_err(|e| Error::misconfigured("--redis-url", e))?;
                if !cache.wait_ready(Duration::from_secs(2)).await {
                    tracing::warn!(
                        "Redis at `{url}` is not reachable yet: reading the directory until it is"
                    );
                }
                // One Redis for the status cache and for sign-in state and
                // sessions, so that every node sees both.
                let cache = Arc::new(cache);
                builder.cache(cache.clone()).ephemeral(cache)
            }
            None => {
                let cache = Arc::new(crate::cache::memory::MemoryCache::new(Duration::from_secs(
                    self.cache_ttl_secs.max(1),
                )));
                builder.cache(cache.clone()).ephemeral(cache)
            }
        })
    }
}

/// Options of `partnergate serve`.
#[derive(Args, Clone, Debug)]
pub struct ServeOptions {
    /// Address to listen on.
    #[arg(long, env = "PARTNERGATE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Bearer token storefront services must send; required when listening
    /// on anything but loopback.
    #[arg(long, env = "PARTNERGATE_SERVICE_TOKEN", hide_env_values = true)]
    pub service_token: Option<String>,

    /// SMTP server for notifications: `smtp://host:port` (plain, for a
    /// local relay), `smtp://host:port?tls=starttls` (STARTTLS required) or
    /// `smtps://host:port` (implicit TLS); without it they are appended to
    /// `--outbox-file`.
    #[arg(long, env = "PARTNERGATE_SMTP_URL")]
    pub smtp_url: Option<String>,

    /// A PEM file of CA certificates the SMTP server's certificate may chain
    /// to, besides the public roots.
    #[arg(long, env = "PARTNERGATE_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,

    /// Sender address of notifications.
    #[arg(
        long,
        env = "PARTNERGATE_SMTP_FROM",
        default_value = "partnergate@localhost"
    )]
    pub smtp_from: String,

    /// Where notifications are written when no SMTP server is configured.
    #[arg(
        long,
        env = "PARTNERGATE_OUTBOX_FILE",
        default_value = "partnergate-outbox.jsonl"
    )]
    pub outbox_file: PathBuf,

    /// OpenID providers for browser sign-in: a JSON array of
    /// `{name, issuer, client_id, client_secret, redirect_uri, scopes,
    /// subject_claim, email_claim, name_claim, emails_verified_by_provider, tenant_id,
    /// trusted, post_logout_redirect_uri}` (see the README's Sign-in).
    #[arg(long, env = "PARTNERGATE_OIDC_PROVIDERS")]
    pub oidc_providers: Option<PathBuf>,

    /// Where the "Organization users" page is served (with sign-in): a path
    /// the storefront mounts or proxies.
    #[arg(
        long,
        env = "PARTNERGATE_PAGE_PREFIX",
        default_value = crate::server::page::DEFAULT_PREFIX
    )]
    pub page_prefix: String,

    /// More locales for the page: a folder with `<tag>/page.ftl` files
    /// (e.g. `de/page.ftl`); English is built in.
    #[arg(long, env = "PARTNERGATE_PAGE_LOCALES")]
    pub page_locales: Option<PathBuf>,

    /// A stylesheet served after the page's own, overriding its `--pg-*`
    /// custom properties to theme it.
    #[arg(long, env = "PARTNERGATE_PAGE_THEME_CSS")]
    pub page_theme_css: Option<PathBuf>,

    /// The store's currency (ISO 4217 code, or `CODE:digits`): the
    /// directory holds spending limits in its minor units, and the page
    /// shows them as amounts in it, written as each language writes them.
    #[arg(long, env = "PARTNERGATE_STORE_CURRENCY", default_value = "USD")]
    pub store_currency: String,

    /// Where the prospect's form (a company asks to trade as a business
    /// partner) is served, beside the page.
    #[arg(
        long,
        env = "PARTNERGATE_ONBOARDING_PATH",
        default_value = crate::server::page::DEFAULT_ONBOARDING_PATH
    )]
    pub onboarding_path: String,

    /// Where the staff's back office (the onboarding queue, the audit
    /// trail) is served, beside the page. Staff sign in through providers
    /// marked `"staff": true`.
    #[arg(
        long,
        env = "PARTNERGATE_BACK_OFFICE_PATH",
        default_value = crate::server::page::DEFAULT_BACK_OFFICE_PATH
    )]
    pub back_office_path: String,

    /// Do not serve the page (nor the prospect's form).
    #[arg(long, env = "PARTNERGATE_NO_PAGE")]
    pub no_page: bool,

    /// A candidate policy directory that decides every request beside the
    /// set in use without changing any answer; `GET /v1/shadow` reports
    /// agreements and disagreements.
    #[arg(long, env = "PARTNERGATE_SHADOW_POLICIES")]
    pub shadow_policies: Option<PathBuf>,

    /// Write a JSON line per decision of `POST /v1/authorize` to this file
    /// (appended), or to standard output with `-`.
    #[arg(long, env = "PARTNERGATE_DECISION_LOG")]
    pub decision_log: Option<PathBuf>,

    /// The share of decisions the decision log writes, from 0 to 1.
    #[arg(long, env = "PARTNERGATE_DECISION_LOG_SAMPLE", default_value_t = 1.0)]
    pub decision_log_sample: f64,

    /// Host options.
    #[command(flatten)]
    pub host: HostOptions,
}

impl ServeOptions {
    /// Discovers the configured OpenID providers, if any.
    pub async fn sign_in(
        &self,
        gate: &crate::gate::PartnerGate,
    ) -> Result<Option<Arc<crate::oidc::SignInService>>, Error> {
        let Some(path) = &self.oidc_providers else {
            return Ok(None);
        };
        let providers = crate::oidc::ProviderConfig::from_file(path)?;
        let store = gate.ephemeral().clone();
        Ok(Some(Arc::new(
            crate::oidc::SignInService::discover(providers, store).await?,
        )))
    }

    /// `builder` with the shadow policy set and the decision log these
    /// options name.
    pub fn observe(
        &self,
        mut builder: crate::gate::Builder,
    ) -> Result<crate::gate::Builder, Error> {
        if let Some(dir) = &self.shadow_policies {
            builder = builder.shadow_policies(crate::policies::PolicySource::Dir(dir.clone()));
        }
        if let Some(path) = &self.decision_log {
            if !(0.0..=1.0).contains(&self.decision_log_sample) {
                return Err(Error::Config(format!(
                    "--decision-log-sample {}: give a share from 0 to 1",
                    self.decision_log_sample
                )));
            }
            let sink: Box<dyn std::io::Write + Send> = if path.as_os_str() == "-" {
                Box::new(std::io::stdout())
            } else {
                Box::new(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .map_err(|e| {
                            Error::Config(format!("decision log `{}`: {e}", path.display()))
                        })?,
                )
            };
            builder = builder.decision_log(crate::telemetry::DecisionLog::new(
                sink,
                self.decision_log_sample,
            ));
        }
        Ok(builder)
    }

    /// The page as these options configure it; `None` with `--no-page`.
    pub fn page(&self) -> Result<Option<crate::server::page::PageConfig>, Error> {
        if self.no_page {
            return Ok(None);
        }
        crate::server::page::PageConfig::load(
            &self.page_prefix,
            self.page_locales.as_deref(),
            self.page_theme_css.as_ref(),
        )
        .and_then(|page| {
            page.with_currency(self.store_currency.parse()?)
                .with_onboarding_path(&self.onboarding_path)?
                .with_back_office_path(&self.back_office_path)
        })
        .map(Some)
    }

    /// The mailer these options name.
    pub fn mailer(&self) -> Result<Arc<dyn crate::notify::Mailer>, Error> {
        Ok(match &self.smtp_url {
            Some(url) => {
                // Credentials only from the environment: a flag would show
                // in the process list.
                let settings = crate::notify::SmtpSettings {
                    url: url.clone(),
                    from: self.smtp_from.clone(),
                    username: std::env::var("PARTNERGATE_SMTP_USERNAME").ok(),
                    password: std::env::var("PARTNERGATE_SMTP_PASSWORD").ok(),
                    ca_file: self.smtp_ca_file.clone(),
                };
                Arc::new(
                    crate::notify::SmtpMailer::with_settings(&settings).map_err(Error::Config)?,
                )
            }
            None => Arc::new(crate::notify::FileMailer::new(self.outbox_file.clone())),
        })
    }

    /// Refuses an open service on a non-loopback address.
    pub fn check(&self) -> Result<(), Error> {
        self.check_address(self.listen)
    }

    /// Refuses an open service on `address` unless it is loopback.
    pub fn check_address(&self, address: SocketAddr) -> Result<(), Error> {
        if !address.ip().is_loopback() && self.service_token.is_none() {
            return Err(Error::Config(format!(
                "refusing to listen on `{address}` without a service token: set PARTNERGATE_SERVICE_TOKEN"
            )));
        }
        Ok(())
    }

    /// The options `partnergate serve` reads from `args` (flags only, no
    /// program or command name) and the environment: for embedding the
    /// service and for tests.
    pub fn from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        #[derive(clap::Parser)]
        struct Serve {
            #[command(flatten)]
            options: ServeOptions,
        }
        let args = std::iter::once(std::ffi::OsString::from("serve"))
            .chain(args.into_iter().map(Into::into));
        <Serve as clap::Parser>::try_parse_from(args).map(|s| s.options)
    }
}
