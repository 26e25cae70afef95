//! Test-only support shared by the host's integration tests and benchmarks:
//! launchers of the real services the tests start for themselves (Redis,
//! the SMTP servers, the OpenID provider), each on a free loopback port and
//! stopped when dropped; the sample fixtures; and small helpers.
//!
//! Nothing here is used outside tests and benchmarks.
#![allow(missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use partnergate::directory::Directory;
use partnergate::model::Target;

/// The repository's root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The repository's `policies/` directory.
pub fn policies_dir() -> PathBuf {
    repo_root().join("policies")
}

/// The sample directory beside the default policies.
pub fn sample_seed() -> PathBuf {
    policies_dir().join("directory.json")
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A person's membership version as the directory holds it now.
pub async fn version(dir: &dyn Directory, person: &str) -> u64 {
    dir.get_account(person)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no person `{person}`"))
        .membership
        .unwrap_or_else(|| panic!("`{person}` has no membership"))
        .version
}

/// A lifecycle target for `person` at the version the directory holds now.
pub async fn target(dir: &dyn Directory, person: &str) -> Target {
    Target::person(person, version(dir, person).await)
}

/// A `redis-server` of the test's own, on a free port, without persistence.
pub struct RedisServer {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl RedisServer {
    /// Starts one on a free port.
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self { port, child: None };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it again on the same port (after [`stop`](Self::stop)).
    pub fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start on {}",
                self.port
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Kills it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Python's `aiosmtpd` storing every message in a maildir (plain SMTP).
pub struct SmtpServer(Child);

impl SmtpServer {
    pub fn start(port: u16, maildir: &Path) -> Self {
        let python = std::env::var("PARTNERGATE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let child = Command::new(python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start aiosmtpd (python3 -m pip install -r integration/requirements.txt)");
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not start listening on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self(child)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `integration/smtp/server.py`: STARTTLS or SMTPS, `AUTH` required.
pub struct TlsSmtpServer(Child);

impl TlsSmtpServer {
    pub fn start(
        mode: &str,
        port: u16,
        maildir: &Path,
        cert: &Path,
        key: &Path,
        user: &str,
        password: &str,
    ) -> Self {
        let python = std::env::var("PARTNERGATE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = repo_root().join("integration/smtp/server.py");
        let mut child = Command::new(python)
            .arg(script)
            .args([mode, &port.to_string()])
            .args([maildir, cert, key])
            .args([user, password])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start integration/smtp/server.py (python3 -m pip install -r integration/requirements.txt)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "READY", "the TLS SMTP server did not start");
        Self(child)
    }
}

impl Drop for TlsSmtpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A test CA and a certificate for 127.0.0.1 it signed, made with `openssl`
/// (scripts/test.sh installs it when missing): (ca.pem, cert.pem, key.pem).
pub fn test_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl must be installed (scripts/test.sh installs it)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=PartnerGate test CA",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}

/// The test OpenID provider (`integration/oidc/provider.mjs`).
pub struct Provider {
    child: Child,
    pub issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long the provider may take to start; under a loaded CI machine Node
/// has been seen to stall at start (once in many runs), so a stalled start is
/// retried on a new port rather than hanging the suite.
pub const PROVIDER_START: Duration = Duration::from_secs(20);

pub fn start_provider(redirects: &[String]) -> Provider {
    start_provider_on(None, redirects)
}

/// Starts the provider on `port` (retried there), or on a free port.
pub fn start_provider_on(port: Option<u16>, redirects: &[String]) -> Provider {
    let mut failures = Vec::new();
    for _ in 0..3 {
        match try_start_provider(port.unwrap_or_else(free_port), redirects) {
            Ok(provider) => return provider,
            Err(err) => {
                eprintln!("the test OpenID provider did not start, retrying: {err}");
                failures.push(err);
            }
        }
    }
    panic!("the test OpenID provider did not start: {failures:?}");
}

pub fn try_start_provider(port: u16, redirects: &[String]) -> Result<Provider, String> {
    let dir = repo_root().join("integration/oidc");
    let mut child = Command::new("node")
        .arg(dir.join("provider.mjs"))
        .arg(port.to_string())
        .arg(redirects.join(","))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node must be installed; scripts/test.sh runs `npm ci` in integration/oidc");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (ready, first_line) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let _ = ready.send(line);
        // Keep draining its output so that it never writes into a closed pipe.
        std::io::copy(&mut out, &mut std::io::sink())
    });
    // Killed on drop when it does not start.
    let mut provider = Provider {
        child,
        issuer: String::new(),
    };
    match first_line.recv_timeout(PROVIDER_START) {
        Ok(line) if line.starts_with("READY ") => {
            provider.issuer = line.trim_start_matches("READY ").trim().to_string();
            Ok(provider)
        }
        Ok(line) => Err(format!("port {port}: it printed {line:?}")),
        Err(_) => Err(format!("port {port}: not ready within {PROVIDER_START:?}")),
    }
}

/// A PostgreSQL server of the test's own: `initdb` into a temporary
/// directory, the server on a free loopback port, without durability
/// (`fsync=off`), stopped and removed when dropped. Run as root, it runs
/// the server as the `postgres` user (which `initdb` requires); the
/// database cluster uses `C.UTF-8`, so `lower()` folds Unicode.
pub struct PostgresServer {
    pub port: u16,
    data: PathBuf,
    bin: PathBuf,
    databases: std::sync::atomic::AtomicUsize,
    /// Server options beyond the port and durability ones (TLS).
    options: String,
}

/// Where Debian's PostgreSQL programs are (`PG_BINDIR` overrides): the
/// newest `/usr/lib/postgresql/<major>/bin`.
fn postgres_bindir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PG_BINDIR") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL must be installed (scripts/test.sh installs Debian's `postgresql`)")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            Some((major, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .expect("no /usr/lib/postgresql/<major>/bin/initdb: install Debian's `postgresql`")
}

/// Runs a PostgreSQL program, as `postgres` when this process is root.
fn postgres_command(program: &Path) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

impl PostgresServer {
    /// Initialises a cluster and starts it on a free port.
    pub fn start() -> Self {
        Self::start_with(|_| String::new())
    }

    /// [`Self::start`] with TLS on, its certificate for 127.0.0.1 signed by
    /// a test CA: the server and the CA's PEM file.
    pub fn start_with_tls() -> (Self, PathBuf) {
        let mut ca = PathBuf::new();
        let server = Self::start_with(|data| {
            let (ca_pem, cert, key) = test_certificates(data);
            // The server refuses a key others may read.
            let _ = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&key)
                .arg(&cert)
                .status();
            let _ = Command::new("chmod").arg("600").arg(&key).status();
            ca = ca_pem;
            format!(
                "-c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                cert.display(),
                key.display()
            )
        });
        (server, ca)
    }

    /// Starts a cluster with the options `options` returns, given the
    /// server's directory.
    fn start_with(options: impl FnOnce(&Path) -> String) -> Self {
        let bin = postgres_bindir();
        let data = std::env::temp_dir().join(format!(
            "partnergate-pg-{}-{}",
            std::process::id(),
            NEXT_SERVER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).unwrap();
        // The server's user must own its directory (and reach it).
        let _ = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&data)
            .status();
        let out = postgres_command(&bin.join("initdb"))
            .arg("-D")
            .arg(data.join("cluster"))
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ])
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let options = options(&data);
        let server = Self {
            port,
            data,
            bin,
            databases: Default::default(),
            options,
        };
        server.restart();
        server
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    /// The URL of database `name` on this server.
    pub fn url_of(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates a new empty database and returns its URL.
    pub fn new_database(&self) -> String {
        let n = self
            .databases
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("t{n}");
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .args([
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                &format!("CREATE DATABASE {name}"),
            ])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "CREATE DATABASE failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.url_of(&name)
    }

    /// Stops the server (fast shutdown).
    pub fn stop(&self) {
        let _ = postgres_command(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data.join("cluster"))
            .args(["-w", "-m", "fast", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Starts the server on its port (again, after [`stop`](Self::stop)).
    pub fn restart(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 {}",
            self.port,
            self.data.display(),
            self.options
        );
        let out = postgres_command(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data.join("cluster"))
            .args(["-w", "-t", "30", "-o", &options, "-l"])
            .arg(self.data.join("log"))
            .arg("start")
            .output()
            .expect("pg_ctl runs");
        assert!(
            out.status.success(),
            "PostgreSQL did not start: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.data.join("log")).unwrap_or_default()
        );
    }
}

static NEXT_SERVER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

pub use fantoccini;

/// Debian's ChromeDriver (`chromium-driver`, installed by `scripts/test.sh`)
/// on a free port, driving Debian's headless Chromium; stopped when
/// dropped. Each [`Chromedriver::browser`] is a new browser with its own
/// profile (cookies, storage).
pub struct Chromedriver {
    child: Child,
    url: String,
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Chromium Debian installs.
pub const CHROMIUM: &str = "/usr/bin/chromium";

impl Chromedriver {
    pub fn start() -> Self {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "chromedriver must be installed: scripts/test.sh installs Debian's chromium-driver",
            );
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }

    /// A new headless browser, 1280×900, English.
    pub async fn browser(&self) -> fantoccini::Client {
        self.browser_with(&[]).await
    }

    /// [`Self::browser`] with JavaScript switched off.
    pub async fn browser_without_script(&self) -> fantoccini::Client {
        self.browser_with(&["--blink-settings=scriptEnabled=false"])
            .await
    }

    async fn browser_with(&self, extra: &[&str]) -> fantoccini::Client {
        let mut args = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
            "--lang=en-US",
        ];
        args.extend_from_slice(extra);
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": args,
            }),
        );
        let mut failures = Vec::new();
        // A loaded machine has been seen to time out a first session.
        for _ in 0..3 {
            // Plain HTTP to the local chromedriver: no TLS stack needed.
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match fantoccini::ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&self.url)
                .await
            {
                Ok(client) => return client,
                Err(err) => failures.push(err.to_string()),
            }
        }
        panic!("chromium did not start through chromedriver: {failures:?}");
    }
}
