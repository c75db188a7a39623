//! Opening the host a command works on: the tenant, its database, clock, schedule and mail
//! transport, and the staff member acting.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use privacy_guard_host::clock::Clock;
use privacy_guard_host::contract::subjects::{StaffActor, StaffChannel};
use privacy_guard_host::guard::{ComponentSource, Guard, GuardError, GuardOptions};
use privacy_guard_host::mail::smtp::SmtpSettings;
use privacy_guard_host::mail::{RetryPolicy, Transport};
use privacy_guard_host::runtime::SandboxLimits;
use privacy_guard_host::schedule::DailySchedule;
use privacy_guard_host::tenants::config::{HostConfig, TenantConfig};
use privacy_guard_host::tenants::{Tenant, TenantGuard, Tenants};
use privacy_guard_host::webhooks::{WebhookEndpoint, WebhookSecret, Webhooks};

use super::Arguments;

/// The tenant of the configuration file a command works on: `--tenant`, or the only one.
pub(super) fn select_tenant<'c>(
    arguments: &Arguments,
    config: &'c HostConfig,
) -> anyhow::Result<&'c TenantConfig> {
    let names = || {
        config
            .tenants
            .iter()
            .map(|tenant| tenant.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &arguments.tenant {
        Some(id) => config.tenant(id).with_context(|| {
            format!(
                "no tenant `{id}` in the configuration; there are: {}",
                names()
            )
        }),
        None if config.tenants.len() == 1 => Ok(&config.tenants[0]),
        None => bail!("name the tenant with --tenant (one of: {})", names()),
    }
}

/// Every tenant of the configuration file, each opened on first use (a request, or the
/// scheduler's first check), except those with webhooks, which are opened now so their
/// webhook worker can start. What can be checked without opening (settings, secrets in
/// the environment, the schedule) is checked now, so a mistake stops the start.
pub(super) fn open_tenants(arguments: &Arguments, config: &HostConfig) -> anyhow::Result<Tenants> {
    let component = component_source(arguments)?;
    let mut tenants = Tenants::default();
    for tenant in &config.tenants {
        let prepared = prepare(arguments, Some(tenant), component.clone())
            .with_context(|| format!("tenant `{}` could not be opened", tenant.id))?;
        // A tenant with a Maildir of returned mail is opened now too, for its reader.
        let guard = if prepared.endpoints.is_empty() && prepared.feedback.is_none() {
            let id = tenant.id.clone();
            TenantGuard::lazy(move || {
                let guard = prepared.clone().open().map_err(|error| {
                    GuardError::Open(format!("tenant `{id}` could not be opened: {error:#}"))
                })?;
                tracing::info!(tenant = %id, "tenant opened");
                Ok(guard)
            })
        } else {
            let guard = prepared
                .open()
                .with_context(|| format!("tenant `{}` could not be opened", tenant.id))?;
            tracing::info!(tenant = %tenant.id, "tenant opened");
            TenantGuard::opened(Arc::new(guard))
        };
        let digests = tenant.key_digests()?;
        tenants.add(Tenant::with_guard(tenant.id.clone(), guard, digests))?;
    }
    tracing::info!(tenants = tenants.len(), "tenants configured");
    Ok(tenants)
}

/// The staff member a command acts as: --actor, else the operating system's user (from
/// the environment, else `id -un`).
pub(super) fn staff_actor(actor: &Option<String>) -> anyhow::Result<StaffActor> {
    let os_user = || {
        ["USER", "LOGNAME", "USERNAME"]
            .into_iter()
            .find_map(|variable| std::env::var(variable).ok())
            .filter(|name| !name.trim().is_empty())
            .or_else(|| {
                std::process::Command::new("id")
                    .arg("-un")
                    .output()
                    .ok()
                    .filter(|output| output.status.success())
                    .and_then(|output| String::from_utf8(output.stdout).ok())
                    .map(|name| name.trim().to_owned())
            })
    };
    let name = actor
        .clone()
        .or_else(os_user)
        .filter(|name| !name.trim().is_empty())
        .context("say who is acting with --actor NAME (or PRIVACY_GUARD_ACTOR): every staff action names its actor")?;
    Ok(StaffActor {
        channel: StaffChannel::Admin,
        name,
    })
}

/// Opens the host: the single tenant of the command line, or `tenant` of the configuration
/// file in its own folder (`DATA_DIR/tenants/<id>`), with its own schedule.
pub(super) fn open(arguments: &Arguments, tenant: Option<&TenantConfig>) -> anyhow::Result<Guard> {
    prepare(arguments, tenant, component_source(arguments)?)?.open()
}

/// A host ready to open: everything read from the command line, the configuration file and
/// the environment, checked.
#[derive(Clone)]
struct PreparedHost {
    data_dir: std::path::PathBuf,
    options: GuardOptions,
    kv_cache_budget: usize,
    endpoints: Vec<WebhookEndpoint>,
    webhook_retry: RetryPolicy,
    retention: privacy_guard_host::retention::RetentionSettings,
    feedback: Option<privacy_guard_host::feedback::IntakeConfig>,
}

impl PreparedHost {
    /// Opens the database (creating its folder), the keys and the plugin.
    fn open(self) -> anyhow::Result<Guard> {
        std::fs::create_dir_all(&self.data_dir).with_context(|| {
            format!(
                "could not create the data folder {}",
                self.data_dir.display()
            )
        })?;
        let guard = Guard::open(self.options).context("could not open the host")?;
        guard.database().set_kv_cache_budget(self.kv_cache_budget);
        guard.set_retention(self.retention)?;
        if let Some(feedback) = self.feedback {
            guard.set_feedback_intake(feedback)?;
        }
        if !self.endpoints.is_empty() {
            guard.set_webhooks(Webhooks::new(self.endpoints, self.webhook_retry)?)?;
        }
        Ok(guard)
    }
}

/// What [`open`] opens, read and checked but not opened.
fn prepare(
    arguments: &Arguments,
    tenant: Option<&TenantConfig>,
    component: ComponentSource,
) -> anyhow::Result<PreparedHost> {
    let data_dir = match tenant {
        Some(tenant) => tenant.folder(&arguments.data_dir),
        None => arguments.data_dir.clone(),
    };
    let database_url = tenant
        .and_then(|tenant| tenant.database_url.clone())
        .or_else(|| {
            // --database-url names one database: it serves the single tenant only.
            tenant
                .is_none()
                .then(|| arguments.database_url.clone())
                .flatten()
        })
        .unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("privacy-guard.db").display()
            )
        });
    let clock = match &arguments.now {
        Some(now) => Clock::starting_at(
            chrono::DateTime::parse_from_rfc3339(now)
                .with_context(|| {
                    format!(
                        "--now `{now}` is not an RFC 3339 instant such as 2026-12-01T10:00:00+01:00"
                    )
                })?
                .to_utc(),
        ),
        None => Clock::system(),
    };
    let run_at = tenant
        .and_then(|tenant| tenant.run_at.as_deref())
        .unwrap_or(&arguments.run_at);
    let time_zone = tenant
        .and_then(|tenant| tenant.time_zone.as_deref())
        .unwrap_or(&arguments.time_zone);
    let schedule = DailySchedule::parse(run_at, time_zone)?;
    let options = GuardOptions {
        database_url,
        cache_dir: Some(arguments.data_dir.join("cache")),
        component,
        clock,
        limits: sandbox_limits(arguments, tenant)?,
        transport: transport(arguments, &data_dir, tenant)?,
        retry: RetryPolicy {
            attempts: arguments.delivery_attempts,
            ..RetryPolicy::default()
        },
        schedule,
    };
    Ok(PreparedHost {
        data_dir,
        options,
        kv_cache_budget: (arguments.state_cache_mib as usize) << 20,
        endpoints: webhook_endpoints(arguments, tenant)?,
        webhook_retry: RetryPolicy {
            attempts: arguments.delivery_attempts,
            ..RetryPolicy::default()
        },
        retention: privacy_guard_host::retention::RetentionSettings::default()
            .with(&arguments.retention.unwrap_or_default())
            .with(&tenant.map(|tenant| tenant.retention).unwrap_or_default()),
        feedback: match tenant {
            Some(tenant) => tenant.feedback.clone(),
            None => arguments.feedback_maildir.clone().map(|maildir| {
                privacy_guard_host::feedback::IntakeConfig {
                    maildir,
                    return_path: arguments.feedback_return_path.clone(),
                    poll_seconds: arguments.feedback_poll_seconds,
                }
            }),
        },
    })
}

/// Where `tenant`'s change feed is pushed: the tenant's `webhooks` of the configuration
/// file (each secret from the environment variable its `secret_env` names), else the
/// host's --webhook-url with its secret (PRIVACY_GUARD_WEBHOOK_SECRET or
/// --webhook-secret-file), else nowhere.
fn webhook_endpoints(
    arguments: &Arguments,
    tenant: Option<&TenantConfig>,
) -> anyhow::Result<Vec<WebhookEndpoint>> {
    if let Some(tenant) = tenant
        && !tenant.webhooks.is_empty()
    {
        return tenant
            .webhooks
            .iter()
            .map(|webhook| {
                let secret = std::env::var(&webhook.secret_env)
                    .ok()
                    .filter(|secret| !secret.is_empty())
                    .with_context(|| {
                        format!(
                            "tenant `{}`: the environment variable {} (secret_env of the webhook {}) holds no secret",
                            tenant.id, webhook.secret_env, webhook.url
                        )
                    })?;
                WebhookEndpoint::new(&webhook.url, WebhookSecret::new(secret))
                    .with_context(|| format!("tenant `{}`: webhooks", tenant.id))
            })
            .collect();
    }
    let from_environment = std::env::var("PRIVACY_GUARD_WEBHOOK_SECRET")
        .ok()
        .filter(|secret| !secret.is_empty());
    let from_file = arguments
        .webhook_secret_file
        .as_ref()
        .map(|path| {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("could not read the webhook secret file {}", path.display())
            })?;
            let secret = text.lines().next().unwrap_or_default().to_owned();
            if secret.is_empty() {
                bail!("the webhook secret file {} is empty", path.display());
            }
            Ok(secret)
        })
        .transpose()?;
    let secret = match (from_environment, from_file) {
        (Some(_), Some(_)) => bail!(
            "the webhook secret is given twice: set PRIVACY_GUARD_WEBHOOK_SECRET or --webhook-secret-file, not both"
        ),
        (secret, None) | (None, secret) => secret,
    };
    let Some(url) = &arguments.webhook_url else {
        if secret.is_some() {
            bail!(
                "a webhook secret is given but no endpoint: set --webhook-url (PRIVACY_GUARD_WEBHOOK_URL) too"
            );
        }
        return Ok(Vec::new());
    };
    let secret = secret.context(
        "--webhook-url needs its signing secret: set PRIVACY_GUARD_WEBHOOK_SECRET or --webhook-secret-file (never on the command line)",
    )?;
    Ok(vec![WebhookEndpoint::new(url, WebhookSecret::new(secret))?])
}

/// Where the plugin comes from: --component (unverified), else --package, else the
/// installed package, else the component built with this host. A package comes with the
/// trust store it is verified against.
pub(super) fn component_source(arguments: &Arguments) -> anyhow::Result<ComponentSource> {
    if let Some(component) = &arguments.component {
        return Ok(ComponentSource::File(component.clone()));
    }
    let installed = super::package::installed(&arguments.data_dir);
    let Some(path) = arguments
        .package
        .clone()
        .or_else(|| installed.exists().then_some(installed))
    else {
        return Ok(ComponentSource::Embedded);
    };
    let trust = super::package::trust_store(arguments)?;
    Ok(ComponentSource::Package { path, trust })
}

/// The sandbox limits of a tenant: the command line's (`--plugin-*`), with the tenant's
/// `[tenants.plugin]` of the configuration file over them.
fn sandbox_limits(
    arguments: &Arguments,
    tenant: Option<&TenantConfig>,
) -> anyhow::Result<SandboxLimits> {
    let mut limits = SandboxLimits {
        max_instances: usize::from(arguments.plugin_instances),
        memory_bytes: (arguments.plugin_memory_mib as usize) << 20,
        call_timeout: std::time::Duration::from_secs(u64::from(arguments.plugin_timeout_seconds)),
        fuel: arguments.plugin_fuel,
        ..SandboxLimits::default()
    };
    for (name, limit) in &arguments.plugin_budget {
        limits
            .budget
            .set(name, *limit)
            .map_err(|problem| anyhow::anyhow!("--plugin-budget: {problem}"))?;
    }
    match tenant {
        Some(tenant) => tenant.plugin.over(&limits).map_err(|problem| {
            anyhow::anyhow!("tenant `{}`: [tenants.plugin]: {problem}", tenant.id)
        }),
        None => Ok(limits),
    }
}

/// Where `tenant`'s mail goes: the tenant's own SMTP server (`smtp_url` in the
/// configuration file, the password from the environment variable `smtp_password_env`
/// names), else the host's (--smtp-url with its password), else `.eml` files in the
/// tenant's outbox folder (`data_dir/outbox`).
pub(super) fn transport(
    arguments: &Arguments,
    data_dir: &Path,
    tenant: Option<&TenantConfig>,
) -> anyhow::Result<Transport> {
    if let Some(tenant) = tenant
        && let Some(url) = &tenant.smtp_url
    {
        let password = tenant
            .smtp_password_env
            .as_deref()
            .map(|variable| {
                std::env::var(variable)
                    .ok()
                    .filter(|password| !password.is_empty())
                    .with_context(|| {
                        format!(
                            "tenant `{}`: the environment variable {variable} (smtp_password_env) holds no SMTP password",
                            tenant.id
                        )
                    })
            })
            .transpose()?;
        let settings = SmtpSettings::from_url(url, password).with_context(|| {
            format!(
                "tenant `{}`: the SMTP settings (smtp_url, password from smtp_password_env) are not valid",
                tenant.id
            )
        })?;
        tracing::debug!(tenant = %tenant.id, server = %settings.server(), security = ?settings.security, "the tenant's mail goes through its own SMTP server");
        return Ok(Transport::Smtp(settings));
    }
    let from_environment = std::env::var("PRIVACY_GUARD_SMTP_PASSWORD")
        .ok()
        .filter(|password| !password.is_empty());
    let from_file = arguments
        .smtp_password_file
        .as_ref()
        .map(|path| {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("could not read the SMTP password file {}", path.display())
            })?;
            let password = text.lines().next().unwrap_or_default().to_owned();
            if password.is_empty() {
                bail!("the SMTP password file {} is empty", path.display());
            }
            Ok(password)
        })
        .transpose()?;
    let password = match (from_environment, from_file) {
        (Some(_), Some(_)) => bail!(
            "the SMTP password is given twice: set PRIVACY_GUARD_SMTP_PASSWORD or --smtp-password-file, not both"
        ),
        (password, None) | (None, password) => password,
    };
    let Some(url) = &arguments.smtp_url else {
        if password.is_some() {
            bail!(
                "an SMTP password is given but no SMTP server: set --smtp-url (PRIVACY_GUARD_SMTP_URL) too"
            );
        }
        return Ok(Transport::Directory(data_dir.join("outbox")));
    };
    let settings = SmtpSettings::from_url(url, password).context(
        "the SMTP settings (--smtp-url / PRIVACY_GUARD_SMTP_URL, password from PRIVACY_GUARD_SMTP_PASSWORD or --smtp-password-file) are not valid",
    )?;
    tracing::debug!(server = %settings.server(), security = ?settings.security, "mail goes through SMTP");
    Ok(Transport::Smtp(settings))
}
