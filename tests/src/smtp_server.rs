//! A real SMTP server for the tests: aiosmtpd as a child process on a free loopback port,
//! storing what it accepts in a Maildir that the tests read back with a MIME parser.
//!
//! aiosmtpd must be installed (Debian's python3-aiosmtpd or PyPI's aiosmtpd 1.4.6;
//! `./scripts/test.sh` installs it when missing). Without it the tests fail and say so:
//! they never pass without having talked to a server.

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use privacy_guard_host::mail::Transport;
use privacy_guard_host::mail::smtp::SmtpSettings;

use crate::{Mail, parse_mail};

/// How long a starting server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// An aiosmtpd server, killed when dropped. Its Maildir outlives stops and restarts.
pub struct SmtpServer {
    pub port: u16,
    folder: tempfile::TempDir,
    python: OsString,
    handler_class: String,
    extra_arguments: Vec<OsString>,
    child: Option<Child>,
}

impl SmtpServer {
    /// A server that accepts every mail (aiosmtpd's `Mailbox` handler).
    pub fn start() -> anyhow::Result<SmtpServer> {
        SmtpServer::prepare("aiosmtpd.handlers.Mailbox", None, Vec::new())?.started()
    }

    /// A server with a handler of the test's own: `source` is written as the module
    /// `test_handler.py` and `class` (a class in it) handles the SMTP session. The class
    /// gets the Maildir as its only argument, as `aiosmtpd.handlers.Mailbox` does.
    pub fn start_with_handler(source: &str, class: &str) -> anyhow::Result<SmtpServer> {
        SmtpServer::prepare(&format!("test_handler.{class}"), Some(source), Vec::new())?.started()
    }

    /// A server with `aiosmtpd` options of the test's own (e.g. `--tlscert`), written
    /// before the handler's arguments.
    pub fn start_with_arguments(arguments: Vec<OsString>) -> anyhow::Result<SmtpServer> {
        SmtpServer::prepare("aiosmtpd.handlers.Mailbox", None, arguments)?.started()
    }

    fn prepare(
        handler_class: &str,
        handler_source: Option<&str>,
        extra_arguments: Vec<OsString>,
    ) -> anyhow::Result<SmtpServer> {
        let python = python_with_aiosmtpd()?;
        let folder = tempfile::tempdir().context("a folder for the SMTP server")?;
        if let Some(source) = handler_source {
            std::fs::write(folder.path().join("test_handler.py"), source)
                .context("writing the test's SMTP handler")?;
        }
        Ok(SmtpServer {
            port: free_port()?,
            folder,
            python,
            handler_class: handler_class.to_owned(),
            extra_arguments,
            child: None,
        })
    }

    fn started(mut self) -> anyhow::Result<SmtpServer> {
        self.restart()?;
        Ok(self)
    }

    /// Adds `aiosmtpd` options (e.g. `--tlscert`) for the next [`SmtpServer::restart`].
    pub fn add_arguments(&mut self, arguments: Vec<OsString>) {
        self.extra_arguments.extend(arguments);
    }

    /// The folder the server runs in (for certificates and the like).
    pub fn folder(&self) -> &Path {
        self.folder.path()
    }

    /// The Maildir the server stores accepted mail in.
    pub fn maildir(&self) -> PathBuf {
        self.folder.path().join("Maildir")
    }

    /// The URL for `--smtp-url`: plain SMTP on the loopback port, short timeouts.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?security=none&timeout=5", self.port)
    }

    /// The host's transport to this server.
    pub fn transport(&self) -> Transport {
        Transport::Smtp(
            SmtpSettings::from_url(&self.url(), None)
                .unwrap_or_else(|error| panic!("the test server's URL: {error}")),
        )
    }

    /// Stops the server (connections are then refused); the Maildir stays.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Err(error) = child.kill() {
                panic!("could not stop the SMTP server: {error}");
            }
            if let Err(error) = child.wait() {
                panic!("could not wait for the SMTP server to stop: {error}");
            }
        }
    }

    /// Starts the server (again) on its port and waits until it accepts connections.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        let log_path = self.folder.path().join("aiosmtpd.log");
        let log = std::fs::File::create(&log_path).context("the SMTP server's log")?;
        let child = Command::new(&self.python)
            .current_dir(self.folder.path())
            .env("PYTHONPATH", self.folder.path())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(&self.extra_arguments)
            .arg("-c")
            .arg(&self.handler_class)
            .arg(self.maildir())
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("the SMTP server's log")?)
            .stderr(log)
            .spawn()
            .with_context(|| {
                format!(
                    "could not start `{} -m aiosmtpd`",
                    self.python.to_string_lossy()
                )
            })?;
        self.child = Some(child);
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait().context("watching the SMTP server")?
            {
                self.child = None;
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                bail!("the SMTP server exited at start ({status}):\n{log}");
            }
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                bail!(
                    "the SMTP server did not accept connections on {address} within {START_TIMEOUT:?}:\n{log}"
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every mail the server stored, parsed, in the order received.
    pub fn mails(&self) -> Vec<Mail> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = ["new", "cur"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(self.maildir().join(sub)).ok())
            .flatten()
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let modified = entry.metadata().ok()?.modified().ok()?;
                Some((modified, entry.path()))
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, file)| parse_mail(&file))
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Best effort while dropping: the process may already be gone.
            if child.kill().is_ok() {
                let _status = child.wait();
            }
        }
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The first Python that can import aiosmtpd: `PRIVACY_GUARD_TEST_PYTHON`, `python3` on
/// the PATH, then Debian's `/usr/bin/python3` (where python3-aiosmtpd installs).
fn python_with_aiosmtpd() -> anyhow::Result<OsString> {
    static FOUND: OnceLock<Result<OsString, String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let candidates: Vec<OsString> = std::env::var_os("PRIVACY_GUARD_TEST_PYTHON")
                .into_iter()
                .chain(["python3".into(), "/usr/bin/python3".into()])
                .collect();
            for python in &candidates {
                let imports = Command::new(python)
                    .args(["-c", "import aiosmtpd"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success());
                if imports {
                    return Ok(python.clone());
                }
            }
            let tried: Vec<String> = candidates
                .iter()
                .map(|python| python.to_string_lossy().into_owned())
                .collect();
            Err(format!(
                "no Python with aiosmtpd was found (tried {}): the SMTP tests need a real aiosmtpd server. Install it with `apt-get install python3-aiosmtpd` or `python3 -m pip install aiosmtpd==1.4.6` (./scripts/smtp-test-tools.sh does it, and ./scripts/test.sh runs that), or point PRIVACY_GUARD_TEST_PYTHON at a Python that has it",
                tried.join(", ")
            ))
        })
        .clone()
        .map_err(anyhow::Error::msg)
}
