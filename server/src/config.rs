//! Every setting of the server, in one place: each is a command-line flag and an
//! environment variable (the flag wins), listed by `server --help` and in the README's
//! configuration table. The environment names are fixed because deployments and test
//! harnesses start the server with them.
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::builder::{BoolishValueParser, RangedU64ValueParser};
use clap::Args;

use crate::approvals::RefundThresholds;
use crate::attempts::retention::Retention;
use crate::db::{DatabaseSettings, WriterConfig};
use crate::domain::CurrencyTable;
use crate::reconcile::{Schedule, Thresholds};
use crate::staff::StaffConfig;
use crate::wallet::rate_limit::KeyRateLimit;

/// The first admin's password in [`Config::for_tests`].
pub const TEST_ADMIN_PASSWORD: &str = "test-admin-password";

/// How the reconciliation job runs: on the server's schedule, from the console, from
/// `server reconcile`.
#[derive(Clone, Args)]
#[command(next_help_heading = "Reconciliation")]
pub struct ScheduleSettings {
    /// How often the internal reconciliation runs; 0 turns the schedule off
    #[arg(
        long,
        env = "WALLET_RECONCILE_INTERVAL_SECS",
        value_name = "SECS",
        default_value_t = crate::reconcile::DEFAULT_INTERVAL_SECS
    )]
    pub reconcile_interval_secs: u64,
    /// A committed bet in an open round older than this is a pending rollback (also the age
    /// for unclaimed tombstones)
    #[arg(
        long,
        env = "WALLET_ORPHAN_AFTER_SECS",
        value_name = "SECS",
        default_value_t = crate::reconcile::DEFAULT_ORPHAN_AFTER_SECS
    )]
    pub orphan_after_secs: u32,
    /// A round open longer than this is reported as stale
    #[arg(
        long,
        env = "WALLET_STALE_ROUND_AFTER_SECS",
        value_name = "SECS",
        default_value_t = crate::reconcile::DEFAULT_STALE_ROUND_AFTER_SECS
    )]
    pub stale_round_after_secs: u32,
    /// Every this many runs the ledger hash chains are re-walked from the start; 0: only the
    /// first run and forced ones
    #[arg(
        long,
        env = "WALLET_TRAIL_FULL_EVERY_RUNS",
        value_name = "RUNS",
        default_value_t = crate::reconcile::DEFAULT_FULL_EVERY_RUNS
    )]
    pub trail_full_every_runs: u32,
}

impl ScheduleSettings {
    pub fn schedule(&self) -> Schedule {
        Schedule {
            interval: (self.reconcile_interval_secs > 0)
                .then(|| Duration::from_secs(self.reconcile_interval_secs)),
            thresholds: Thresholds {
                orphan_after: chrono::Duration::seconds(self.orphan_after_secs.into()),
                stale_round_after: chrono::Duration::seconds(self.stale_round_after_secs.into()),
            },
            trail_full_every_runs: self.trail_full_every_runs,
        }
    }
}

/// The console's sign-in settings.
#[derive(Clone, Args)]
#[command(next_help_heading = "Console sign-in")]
pub struct StaffSettings {
    /// The first admin's (`admin`) password, at least 12 characters; used only while no admin
    /// exists; prefer the variable, since flags show in the process list [default: generated
    /// and printed once]
    #[arg(
        long,
        env = "WALLET_ADMIN_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub admin_password: Option<String>,
    /// 1 behind HTTPS: the session cookie gets `Secure` and the console's own origin is
    /// https:// (off so that http://localhost works)
    #[arg(long, env = "WALLET_COOKIE_SECURE", value_name = "BOOL", default_value = "0",
          value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "1")]
    pub cookie_secure: bool,
    /// A console session unused this long ends
    #[arg(long, env = "WALLET_SESSION_IDLE_MINUTES", value_name = "MINUTES", default_value_t = crate::staff::DEFAULT_IDLE_MINUTES,
          value_parser = RangedU64ValueParser::<u64>::new().range(1..=24 * 60))]
    pub session_idle_minutes: u64,
    /// A console session ends this long after sign-in, however active
    #[arg(long, env = "WALLET_SESSION_MAX_HOURS", value_name = "HOURS", default_value_t = crate::staff::DEFAULT_MAX_SESSION_HOURS,
          value_parser = RangedU64ValueParser::<u64>::new().range(1..=7 * 24))]
    pub session_max_hours: u64,
    /// 1 when one reverse proxy stands in front: believe its X-Forwarded-For (sign-in rate
    /// limit) and X-Forwarded-Proto (CSRF origin check)
    #[arg(long, env = "WALLET_TRUST_PROXY", value_name = "BOOL", default_value = "0",
          value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "1")]
    pub trust_proxy: bool,
    /// Console refunds above this amount wait for a second operator's approval, per
    /// currency in major units: `EUR=100.00,USD=100.00` [default: none wait]
    #[arg(
        long,
        env = "WALLET_REFUND_APPROVAL_ABOVE",
        value_name = "CODE=AMOUNT,…"
    )]
    pub refund_approval_above: Option<String>,
    /// Operators and admins must set up a second factor (an authenticator app) before
    /// using the console; 0 makes it each user's choice
    #[arg(long, env = "WALLET_MFA_REQUIRED", value_name = "BOOL", default_value = "1",
          value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "1")]
    pub mfa_required: bool,
}

impl StaffSettings {
    pub fn staff_config(&self) -> StaffConfig {
        StaffConfig {
            cookie_secure: self.cookie_secure,
            idle_timeout: Duration::from_secs(self.session_idle_minutes * 60),
            max_session_age: Duration::from_secs(self.session_max_hours * 3600),
            trust_proxy: self.trust_proxy,
            admin_password: self.admin_password.clone(),
            mfa_required: self.mfa_required,
            ..StaffConfig::default()
        }
    }
}

/// Everything `server serve` reads.
#[derive(Clone, Args)]
pub struct Settings {
    #[command(flatten)]
    pub database: DatabaseSettings,
    /// Where to listen; port 0 picks a free one
    #[arg(
        long,
        env = "LEPTOS_SITE_ADDR",
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:3000"
    )]
    pub site_addr: String,
    /// The built console assets (`pkg/`); the APIs work without them
    #[arg(
        long,
        env = "LEPTOS_SITE_ROOT",
        value_name = "DIR",
        default_value = crate::site::DEFAULT_SITE_ROOT
    )]
    pub site_root: PathBuf,
    /// The operator API's bearer token; prefer the variable, since flags show in the process
    /// list [default: generated and printed at start]
    #[arg(
        long,
        env = "WALLET_OPERATOR_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub operator_token: Option<String>,
    /// `/metrics` only for a scraper sending `Authorization: Bearer <token>`; prefer the
    /// variable, since flags show in the process list [default: open, like the health checks]
    #[arg(
        long,
        env = "WALLET_METRICS_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// Built-in demo traffic from three simulated providers; run it on one process at most,
    /// and never against real money
    #[arg(long, env = "WALLET_DEMO", value_name = "BOOL", default_value = "1",
          value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "1")]
    pub demo: bool,
    /// Extra or overridden currencies, `CODE=SCALE,…` (ISO 4217 and BTC 8, USDT 6 are built in)
    #[arg(long, env = "WALLET_CURRENCY_SCALES", value_name = "CODE=SCALE,…")]
    pub currency_scales: Option<String>,
    /// Days the attempt log and its counters are kept; money data is kept forever
    #[arg(long, env = "WALLET_ATTEMPT_RETENTION_DAYS", value_name = "DAYS",
          default_value_t = crate::attempts::retention::DEFAULT_RETENTION_DAYS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub attempt_retention_days: u32,
    /// Requests a second each signing key may send to the wallet API (per process),
    /// `RATE` or `RATE/BURST`; past it 429 RATE_LIMITED [default: off]
    #[arg(long, env = "WALLET_RATE_LIMIT_PER_KEY", value_name = "RATE[/BURST]")]
    pub rate_limit_per_key: Option<String>,
    /// PostgreSQL only: money operations commit in this many group-commit lanes (at most
    /// 16), each player always in the same lane; 0 gives each operation its own transaction
    #[arg(long, env = "WALLET_PG_WRITE_LANES", value_name = "N",
          default_value_t = crate::db::PG_WRITE_LANES,
          value_parser = clap::value_parser!(u16).range(0..=crate::db::MAX_PG_WRITE_LANES as i64))]
    pub pg_write_lanes: u16,
    /// SQLite only: money operations answer 503 once the database file would grow past
    /// this many MB, leaving the rest of the disk for the WAL, backups and logs [default: no
    /// cap, until the disk is full]
    #[arg(
        long,
        env = "WALLET_SQLITE_MAX_SIZE_MB",
        value_name = "MB",
        default_value_t = 0
    )]
    pub sqlite_max_size_mb: u32,
    /// How long an event a webhook receiver refuses is retried before it is dead (shown in
    /// the console, redeliverable) [default: 72 hours]
    #[arg(long, env = "WALLET_WEBHOOK_DEAD_AFTER_SECS", value_name = "SECS",
          default_value_t = crate::events::delivery::DEFAULT_DEAD_AFTER.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    pub webhook_dead_after_secs: u64,
    /// The wait before a refused event is tried the second time; each later wait doubles,
    /// up to 10 minutes [default: 1000]
    #[arg(long, env = "WALLET_WEBHOOK_FIRST_RETRY_MS", value_name = "MS",
          default_value_t = crate::events::delivery::DEFAULT_FIRST_RETRY.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub webhook_first_retry_ms: u64,
    /// How long an event is kept once every subscription has it (delivered or skipped; a
    /// dead or retried one stays until it is delivered); 0 deletes it at once
    /// [default: 24 hours]
    #[arg(long, env = "WALLET_OUTBOX_RETENTION_SECS", value_name = "SECS",
          default_value_t = crate::events::delivery::DEFAULT_OUTBOX_RETENTION.as_secs())]
    pub outbox_retention_secs: u64,
    /// The PAM API for the Valkyrie aggregator (`/pam/valkyrie`, docs/PAM.md): the bearer
    /// token Valkyrie sends (its `pam.api_key`); prefer the variable, since flags show in
    /// the process list [default: the PAM API is off]
    #[arg(
        long,
        env = "WALLET_VALKYRIE_API_KEY",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub valkyrie_api_key: Option<String>,
    /// The country PAM sessions answer for players whose country the operator API never
    /// set: ISO 3166-1 alpha-2, upper case
    #[arg(long, env = "WALLET_DEFAULT_COUNTRY", value_name = "CC",
          default_value = crate::pam::account::DEFAULT_COUNTRY)]
    pub default_country: String,
    /// The language PAM sessions answer for players whose language the operator API never
    /// set: ISO 639-1
    #[arg(long, env = "WALLET_DEFAULT_LANGUAGE", value_name = "LL",
          default_value = crate::pam::account::DEFAULT_LANGUAGE)]
    pub default_language: String,
    #[command(flatten)]
    pub log: LogSettings,
    #[command(flatten)]
    pub staff: StaffSettings,
    #[command(flatten)]
    pub schedule: ScheduleSettings,
    #[command(flatten)]
    pub seal: SealSettings,
}

/// Sealing the trail (docs/TRAIL.md).
#[derive(Clone, Args)]
pub struct SealSettings {
    /// The trail's Ed25519 seal key, made by `server seal-key generate`; keep it outside the
    /// database's backups [default: no seals]
    #[arg(long, env = "WALLET_SEAL_KEY", value_name = "PATH")]
    pub seal_key: Option<PathBuf>,
    /// The file each seal is appended to [default: `oncewallet-seals.jsonl` beside the key]
    #[arg(
        long,
        env = "WALLET_SEAL_FILE",
        value_name = "PATH",
        requires = "seal_key"
    )]
    pub seal_file: Option<PathBuf>,
    /// How often the trail is sealed; 0: only on demand (`POST /operator/v1/trail/seals`)
    #[arg(long, env = "WALLET_SEAL_INTERVAL_SECS", value_name = "SECS",
          default_value_t = crate::seal::DEFAULT_INTERVAL_SECS)]
    pub seal_interval_secs: u64,
}

impl SealSettings {
    /// The sealing configuration, with the key loaded; `None` without a key.
    pub fn sealing(&self) -> anyhow::Result<Option<crate::seal::Sealing>> {
        let Some(key_path) = &self.seal_key else {
            return Ok(None);
        };
        let key = crate::seal::SealKey::load(key_path).context("WALLET_SEAL_KEY (--seal-key)")?;
        let file = self.seal_file.clone().unwrap_or_else(|| {
            key_path
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join("oncewallet-seals.jsonl")
        });
        let interval =
            (self.seal_interval_secs > 0).then(|| Duration::from_secs(self.seal_interval_secs));
        Ok(Some(crate::seal::Sealing::new(key, file, interval)))
    }
}

/// How the process logs.
#[derive(Clone, Args)]
pub struct LogSettings {
    /// `text` or `json` (one JSON object per line)
    #[arg(long, env = "LOG_FORMAT", value_name = "FORMAT", default_value = "text",
          value_parser = ["text", "json"], ignore_case = true)]
    pub log_format: String,
    /// Which events to log, in tracing's env-filter syntax (`info,server::http=warn`)
    /// [default: info, with the database drivers at warn]
    #[arg(long, env = "RUST_LOG", value_name = "FILTER")]
    pub log_filter: Option<String>,
}

impl LogSettings {
    pub fn json(&self) -> bool {
        self.log_format.eq_ignore_ascii_case("json")
    }
}

/// No `Debug`: the operator token and the admin password are in it, and must never reach a
/// log by way of a debug print.
#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub site_addr: String,
    pub site_root: PathBuf,
    pub operator_token: String,
    /// `/metrics`'s bearer token; open when `None`.
    pub metrics_token: Option<String>,
    /// Whether the operator token was generated (and so must be printed).
    pub operator_token_generated: bool,
    /// Run the provider simulator in-process against this server. Tests never run it.
    pub demo: bool,
    pub currencies: CurrencyTable,
    pub writer: WriterConfig,
    pub staff: StaffConfig,
    pub schedule: Schedule,
    pub retention: Retention,
    /// The wallet API's per-key rate limit, off when `None`.
    pub wallet_rate_limit: Option<KeyRateLimit>,
    /// Sealing the trail; off when `None`.
    pub sealing: Option<crate::seal::Sealing>,
    /// Webhook deliveries.
    pub delivery: crate::events::DeliveryConfig,
    /// The PAM API.
    pub pam: PamConfig,
}

/// The PAM API's settings (docs/PAM.md).
#[derive(Clone, Default)]
pub struct PamConfig {
    /// The aggregator's bearer token; the PAM API is off when `None`.
    pub api_key: Option<String>,
    pub locale_defaults: crate::pam::account::LocaleDefaults,
}

impl Config {
    /// The server's configuration from parsed settings: the values clap could not check on
    /// its own (currency and rate-limit specs) are checked here.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Config> {
        let (operator_token, operator_token_generated) = match &settings.operator_token {
            Some(token) if !token.trim().is_empty() => (token.clone(), false),
            _ => (generate_token(), true),
        };
        let currencies = match &settings.currency_scales {
            Some(spec) => CurrencyTable::default()
                .with_overrides(spec)
                .map_err(anyhow::Error::msg)
                .context("WALLET_CURRENCY_SCALES (--currency-scales)")?,
            None => CurrencyTable::default(),
        };
        let wallet_rate_limit = match &settings.rate_limit_per_key {
            Some(spec) => KeyRateLimit::parse(spec).map_err(|error| {
                anyhow::anyhow!(
                    "WALLET_RATE_LIMIT_PER_KEY (--rate-limit-per-key) {spec:?}: {error}"
                )
            })?,
            None => None,
        };
        let locale = crate::operator::service::Locale::parse(
            Some(settings.default_country.clone()),
            Some(settings.default_language.clone()),
        )
        .map_err(|error| {
            anyhow::anyhow!(
                "WALLET_DEFAULT_COUNTRY / WALLET_DEFAULT_LANGUAGE: {}",
                error.message
            )
        })?;
        let pam = PamConfig {
            api_key: settings
                .valkyrie_api_key
                .clone()
                .filter(|key| !key.trim().is_empty()),
            locale_defaults: crate::pam::account::LocaleDefaults {
                country: locale.country.unwrap_or_default(),
                language: locale.language.unwrap_or_default(),
            },
        };
        let staff = StaffConfig {
            refund_approval_above: match &settings.staff.refund_approval_above {
                Some(spec) => RefundThresholds::parse(spec, &currencies).map_err(|error| {
                    anyhow::anyhow!(
                        "WALLET_REFUND_APPROVAL_ABOVE (--refund-approval-above) {spec:?}: \
                         {error}"
                    )
                })?,
                None => RefundThresholds::default(),
            },
            ..settings.staff.staff_config()
        };
        Ok(Config {
            database_url: settings.database.database_url.clone(),
            site_addr: settings.site_addr.clone(),
            site_root: settings.site_root.clone(),
            operator_token,
            metrics_token: settings
                .metrics_token
                .clone()
                .filter(|token| !token.trim().is_empty()),
            operator_token_generated,
            demo: settings.demo,
            currencies,
            writer: WriterConfig {
                pg_write_lanes: settings.pg_write_lanes.into(),
                sqlite_max_size_mb: settings.sqlite_max_size_mb,
                ..WriterConfig::default()
            },
            staff,
            schedule: settings.schedule.schedule(),
            retention: Retention {
                days: settings.attempt_retention_days,
            },
            wallet_rate_limit,
            sealing: settings.seal.sealing()?,
            delivery: crate::events::DeliveryConfig {
                dead_after: Duration::from_secs(settings.webhook_dead_after_secs),
                first_retry: Duration::from_millis(settings.webhook_first_retry_ms),
                outbox_retention: Duration::from_secs(settings.outbox_retention_secs),
            },
            pam,
        })
    }

    /// A configuration for tests: the given database, a free port, a fixed token.
    pub fn for_tests(database_url: impl Into<String>) -> Config {
        Config {
            database_url: database_url.into(),
            site_addr: "127.0.0.1:0".to_owned(),
            site_root: crate::site::DEFAULT_SITE_ROOT.into(),
            operator_token: "test-operator-token".to_owned(),
            metrics_token: None,
            operator_token_generated: false,
            demo: false,
            currencies: CurrencyTable::default(),
            writer: WriterConfig::default(),
            staff: StaffConfig {
                admin_password: Some(TEST_ADMIN_PASSWORD.to_owned()),
                // Tests that need the second factor turn it on themselves.
                mfa_required: false,
                ..Default::default()
            },
            schedule: Schedule::default(),
            retention: Retention::default(),
            wallet_rate_limit: None,
            sealing: None,
            delivery: crate::events::DeliveryConfig::default(),
            pam: PamConfig::default(),
        }
    }
}

fn generate_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("ow_{}", hex::encode(bytes))
}
