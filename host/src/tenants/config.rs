//! The host's configuration file (TOML): the tenants one host serves.
//!
//! ```toml
//! [[tenants]]
//! id = "acme"                                   # 1-40 of a-z, 0-9, -
//! api_keys = ["crm-production=sha256:9f86d08…"] # named digests from `privacy-guard api-key --name`
//! database_url = "postgres://…/acme"            # default: DATA_DIR/acme/privacy-guard.db
//! run_at = "10:00"                              # default: the host's --run-at
//! time_zone = "Europe/Berlin"                   # default: the host's --time-zone
//! smtp_url = "smtp://acme@mail.acme.example"     # default: the host's --smtp-url
//! smtp_password_env = "ACME_SMTP_PASSWORD"       # the variable holding smtp_url's password
//! webhooks = [{ url = "https://crm.acme.example/privacy-guard", secret_env = "ACME_WEBHOOK_SECRET" }]
//!                                               # the change feed pushed, signed with the secret in that variable
//!
//! [tenants.plugin]                              # the tenant's sandbox; default: the host's --plugin-*
//! instances = 4                                 # calls in the plugin at once
//! memory_mib = 128                              # memory of one instance
//! timeout_seconds = 10                          # wall-clock time of one call
//! fuel = 5_000_000_000                          # instructions of one call (fuel mode)
//! budget = { mails = 10000, log-bytes = 1048576 } # what one call may make the host hold
//!
//! [tenants.retention]                           # days people are kept, or "off"; default: the host's --retention
//! unanswered = 90                               # asked, never answered
//! withdrawn = 30                                # every consent refused or withdrawn
//! bounced = 30                                  # the address bounced
//! inactive = "off"                              # no grant, answer or request
//! ```
//!
//! Everything not in the file comes from the command line or its `PRIVACY_GUARD_*`
//! environment variables, which also set what the file leaves out.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ApiKey, KeyError, TenantError, is_tenant_id};
use crate::mail::smtp::{SmtpSettings, SmtpSettingsError};
use crate::runtime::SandboxLimits;
use crate::webhooks::{WebhookEndpoint, WebhookSecret};

/// What is wrong with a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<ConfigError>,
    },
    #[error("{0}")]
    Syntax(#[from] toml::de::Error),
    #[error("no tenant is configured: add a [[tenants]] table")]
    NoTenant,
    #[error(transparent)]
    Tenant(#[from] TenantError),
    #[error("tenant `{tenant}`: {source}")]
    Key {
        tenant: String,
        #[source]
        source: KeyError,
    },
    #[error("tenant `{0}`: smtp_password_env is set but smtp_url is not")]
    PasswordWithoutServer(String),
    #[error("tenant `{0}`: smtp_password_env must name an environment variable")]
    PasswordVariable(String),
    #[error("tenant `{tenant}`: smtp_url: {source}")]
    Smtp {
        tenant: String,
        #[source]
        source: SmtpSettingsError,
    },
    #[error("tenant `{tenant}`: [tenants.plugin]: {problem}")]
    Plugin { tenant: String, problem: String },
    #[error("tenant `{tenant}`: webhooks: {problem}")]
    Webhook { tenant: String, problem: String },
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
}

/// One tenant as the file describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub id: String,
    #[serde(default)]
    pub api_keys: Vec<String>,
    pub database_url: Option<String>,
    pub run_at: Option<String>,
    pub time_zone: Option<String>,
    /// The tenant's own SMTP server (`smtp://...`, as --smtp-url) instead of the host's.
    pub smtp_url: Option<String>,
    /// The name of the environment variable holding the password of `smtp_url`'s user
    /// (the password itself is never in the file).
    pub smtp_password_env: Option<String>,
    /// The tenant's sandbox, over the host's.
    #[serde(default)]
    pub plugin: PluginLimits,
    /// Where the tenant's change feed is pushed (instead of the host's --webhook-url).
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    /// How long each retention class keeps the tenant's people, over the host's
    /// --retention (`[tenants.retention]`, e.g. `unanswered = 60`, `inactive = "off"`).
    #[serde(default)]
    pub retention: crate::retention::RetentionPatch,
    /// The Maildir the tenant's returned mail (bounces, complaints, unsubscribe mails)
    /// arrives in, read by `serve` (`[tenants.feedback]`: `maildir`, `return_path`,
    /// `poll_seconds`).
    #[serde(default)]
    pub feedback: Option<crate::guard::IntakeConfig>,
}

/// A webhook endpoint of a tenant: its URL and the environment variable holding its
/// signing secret (the secret itself is never in the file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    pub secret_env: String,
}

/// A tenant's sandbox limits (`[tenants.plugin]`); what it leaves out comes from the host.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginLimits {
    pub instances: Option<u16>,
    pub memory_mib: Option<u32>,
    pub timeout_seconds: Option<u32>,
    pub fuel: Option<u64>,
    /// Per-call budget by name (`store-bytes`, `events`, `mails`, `mail-bytes`,
    /// `log-bytes`).
    #[serde(default)]
    pub budget: std::collections::BTreeMap<String, u64>,
}

impl PluginLimits {
    /// `host`'s limits with this tenant's over them; the error names the wrong value.
    pub fn over(&self, host: &SandboxLimits) -> Result<SandboxLimits, String> {
        let mut limits = host.clone();
        if let Some(instances) = self.instances {
            if !(1..=256).contains(&instances) {
                return Err(format!("instances = {instances}: use 1 to 256"));
            }
            limits.max_instances = usize::from(instances);
        }
        if let Some(memory_mib) = self.memory_mib {
            if !(16..=4096).contains(&memory_mib) {
                return Err(format!("memory_mib = {memory_mib}: use 16 to 4096"));
            }
            limits.memory_bytes = (memory_mib as usize) << 20;
        }
        if let Some(seconds) = self.timeout_seconds {
            if !(1..=3600).contains(&seconds) {
                return Err(format!("timeout_seconds = {seconds}: use 1 to 3600"));
            }
            limits.call_timeout = std::time::Duration::from_secs(u64::from(seconds));
        }
        if let Some(fuel) = self.fuel {
            if fuel == 0 {
                return Err(
                    "fuel = 0: a call needs some fuel; leave it out to turn fuel off".into(),
                );
            }
            limits.fuel = Some(fuel);
        }
        for (name, limit) in &self.budget {
            limits
                .budget
                .set(name, *limit)
                .map_err(|problem| format!("budget: {problem}"))?;
        }
        Ok(limits)
    }
}

impl TenantConfig {
    /// The tenant's API keys (named digests), checked.
    pub fn key_digests(&self) -> Result<Vec<ApiKey>, ConfigError> {
        self.api_keys
            .iter()
            .map(|key| {
                ApiKey::parse(key).map_err(|source| ConfigError::Key {
                    tenant: self.id.clone(),
                    source,
                })
            })
            .collect()
    }

    /// Checks the SMTP settings as far as they can be without the password: the URL, and
    /// that a password variable goes with a URL naming a user.
    fn check_smtp(&self) -> Result<(), ConfigError> {
        match (&self.smtp_url, &self.smtp_password_env) {
            (None, None) => Ok(()),
            (None, Some(_)) => Err(ConfigError::PasswordWithoutServer(self.id.clone())),
            (Some(url), variable) => {
                if variable.as_ref().is_some_and(|name| name.trim().is_empty()) {
                    return Err(ConfigError::PasswordVariable(self.id.clone()));
                }
                // A stand-in password: only whether there is one matters here.
                SmtpSettings::from_url(url, variable.as_ref().map(|_| String::from("-")))
                    .map(drop)
                    .map_err(|source| ConfigError::Smtp {
                        tenant: self.id.clone(),
                        source,
                    })
            }
        }
    }

    /// Checks the webhooks as far as they can be without their secrets: the URLs, and that
    /// each names the variable of its secret.
    fn check_webhooks(&self) -> Result<(), ConfigError> {
        let problem = |problem: String| ConfigError::Webhook {
            tenant: self.id.clone(),
            problem,
        };
        for webhook in &self.webhooks {
            if webhook.secret_env.trim().is_empty() {
                return Err(problem(format!(
                    "{}: secret_env must name the environment variable holding the secret",
                    webhook.url
                )));
            }
            // A stand-in secret: only the URL is checked here.
            WebhookEndpoint::new(&webhook.url, WebhookSecret::new("-".repeat(16)))
                .map_err(|error| problem(error.to_string()))?;
        }
        Ok(())
    }

    /// The tenant's own folder under the host's data folder: database, outbox, cache.
    pub fn folder(&self, data_dir: &Path) -> PathBuf {
        data_dir.join("tenants").join(&self.id)
    }
}

impl HostConfig {
    /// Reads and checks the file at `path`; the error names the file and what is wrong.
    pub fn load(path: &Path) -> Result<HostConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        HostConfig::parse(&text).map_err(|source| ConfigError::InFile {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// Parses and checks a configuration.
    pub fn parse(text: &str) -> Result<HostConfig, ConfigError> {
        let config: HostConfig = toml::from_str(text)?;
        if config.tenants.is_empty() {
            return Err(ConfigError::NoTenant);
        }
        // A set, not a list: ten thousand tenants checked pairwise took a second.
        let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for tenant in &config.tenants {
            if !is_tenant_id(&tenant.id) {
                return Err(TenantError::Id(tenant.id.clone()).into());
            }
            if !seen.insert(&tenant.id) {
                return Err(TenantError::Twice(tenant.id.clone()).into());
            }
            tenant.key_digests()?;
            tenant.check_smtp()?;
            tenant.check_webhooks()?;
            tenant
                .plugin
                .over(&SandboxLimits::default())
                .map_err(|problem| ConfigError::Plugin {
                    tenant: tenant.id.clone(),
                    problem,
                })?;
        }
        Ok(config)
    }

    pub fn tenant(&self, id: &str) -> Option<&TenantConfig> {
        self.tenants.iter().find(|tenant| tenant.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn a_file_lists_tenants_with_their_keys_and_overrides() {
        let config = HostConfig::parse(&format!(
            "[[tenants]]\nid = \"acme\"\napi_keys = [\"{DIGEST}\"]\ntime_zone = \"Europe/Berlin\"\n\n[[tenants]]\nid = \"globex\"\n"
        ))
        .unwrap();
        assert_eq!(config.tenants.len(), 2);
        let acme = config.tenant("acme").unwrap();
        assert_eq!(acme.key_digests().unwrap().len(), 1);
        assert_eq!(acme.time_zone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(
            acme.folder(Path::new("data")),
            Path::new("data/tenants/acme")
        );
        assert_eq!(acme.smtp_url, None);
    }

    #[test]
    fn a_tenant_may_have_its_own_smtp_server_with_the_password_in_the_environment() {
        let config = HostConfig::parse(
            "[[tenants]]\nid = \"acme\"\nsmtp_url = \"smtp://acme@mail.acme.example:2525\"\nsmtp_password_env = \"ACME_SMTP_PASSWORD\"\n",
        )
        .unwrap();
        let acme = config.tenant("acme").unwrap();
        assert_eq!(
            acme.smtp_url.as_deref(),
            Some("smtp://acme@mail.acme.example:2525")
        );
        assert_eq!(
            acme.smtp_password_env.as_deref(),
            Some("ACME_SMTP_PASSWORD")
        );
    }

    #[test]
    fn a_tenant_may_name_webhooks_with_their_secrets_in_the_environment() {
        let config = HostConfig::parse(
            "[[tenants]]\nid = \"acme\"\nwebhooks = [{ url = \"https://crm.acme.example/hook\", secret_env = \"ACME_WEBHOOK_SECRET\" }]\n",
        )
        .unwrap();
        let acme = config.tenant("acme").unwrap();
        assert_eq!(acme.webhooks.len(), 1);
        assert_eq!(acme.webhooks[0].secret_env, "ACME_WEBHOOK_SECRET");
    }

    #[test]
    fn a_tenant_may_have_a_sandbox_of_its_own_over_the_hosts() {
        let config = HostConfig::parse(
            "[[tenants]]\nid = \"acme\"\n[tenants.plugin]\ninstances = 2\nmemory_mib = 64\ntimeout_seconds = 5\nfuel = 1000000\nbudget = { mails = 10, log-bytes = 4096 }\n\n[[tenants]]\nid = \"globex\"\n",
        )
        .unwrap();
        let host = SandboxLimits {
            max_instances: 3,
            ..SandboxLimits::default()
        };
        let acme = config.tenant("acme").unwrap().plugin.over(&host).unwrap();
        assert_eq!(acme.max_instances, 2);
        assert_eq!(acme.memory_bytes, 64 << 20);
        assert_eq!(acme.call_timeout, std::time::Duration::from_secs(5));
        assert_eq!(acme.fuel, Some(1_000_000));
        assert_eq!((acme.budget.mails, acme.budget.log_bytes), (10, 4096));
        assert_eq!(acme.budget.events, host.budget.events);
        let globex = config.tenant("globex").unwrap().plugin.over(&host).unwrap();
        assert_eq!(globex.max_instances, 3);
        assert_eq!(globex.fuel, None);
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("", "no tenant"),
            ("[[tenants]]\nid = \"Acme\"\n", "not a tenant id"),
            (
                "[[tenants]]\nid = \"a\"\n[[tenants]]\nid = \"a\"\n",
                "twice",
            ),
            (
                "[[tenants]]\nid = \"a\"\napi_keys = [\"secret\"]\n",
                "tenant `a`",
            ),
            ("[[tenants]]\nid = \"a\"\nport = 1\n", "unknown field"),
            (
                "[[tenants]]\nid = \"a\"\n[tenants.plugin]\nbudget = { letters = 1 }\n",
                "tenant `a`: [tenants.plugin]: budget: `letters` is no budget",
            ),
            (
                "[[tenants]]\nid = \"a\"\n[tenants.plugin]\ninstances = 0\n",
                "instances = 0: use 1 to 256",
            ),
            (
                "[[tenants]]\nid = \"a\"\n[tenants.plugin]\nthreads = 2\n",
                "unknown field",
            ),
            (
                "[[tenants]]\nid = \"a\"\nsmtp_password_env = \"A_PASSWORD\"\n",
                "smtp_url is not",
            ),
            (
                "[[tenants]]\nid = \"a\"\nsmtp_url = \"smtp://mail.example\"\nsmtp_password_env = \"A_PASSWORD\"\n",
                "names no user",
            ),
            (
                "[[tenants]]\nid = \"a\"\nsmtp_url = \"smtp://a@mail.example\"\n",
                "no SMTP password",
            ),
            (
                "[[tenants]]\nid = \"a\"\nsmtp_url = \"smtps://mail.example\"\n",
                "security=tls",
            ),
            (
                "[[tenants]]\nid = \"a\"\nwebhooks = [{ url = \"ftp://crm.example/\", secret_env = \"S\" }]\n",
                "tenant `a`: webhooks: the webhook URL `ftp://crm.example/`",
            ),
            (
                "[[tenants]]\nid = \"a\"\nwebhooks = [{ url = \"https://crm.example/\", secret_env = \" \" }]\n",
                "secret_env must name",
            ),
            (
                "[[tenants]]\nid = \"a\"\nwebhooks = [{ url = \"https://crm.example/\", secret = \"x\" }]\n",
                "unknown field",
            ),
        ];
        for (text, expected) in cases {
            let error = HostConfig::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
