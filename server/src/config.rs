//! Configuration from the environment. The names are fixed because test harnesses and
//! deployments start the server with them.
use std::path::PathBuf;

use anyhow::Context;

use crate::db::WriterConfig;
use crate::domain::CurrencyTable;

#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`: `sqlite://…` (default `sqlite://data/oncewallet.db?mode=rwc`) or
    /// `postgres://…`.
    pub database_url: String,
    /// `LEPTOS_SITE_ADDR`: where to listen (default `127.0.0.1:3000`; port 0 picks one).
    pub site_addr: String,
    /// `LEPTOS_SITE_ROOT`: the built site assets (default `target/site`).
    pub site_root: PathBuf,
    /// `WALLET_OPERATOR_TOKEN`: the operator API's bearer token; generated when unset.
    pub operator_token: String,
    /// Whether the operator token was generated (and so must be printed).
    pub operator_token_generated: bool,
    /// `WALLET_DEMO`: run the provider simulator in-process against this server (default
    /// on; `0`, `false`, `off` or `no` turn it off). Tests never run it.
    pub demo: bool,
    /// `WALLET_CURRENCY_SCALES`: extra or overridden currencies, `CODE=SCALE,…`.
    pub currencies: CurrencyTable,
    /// `LOG_FORMAT=json` switches logs to JSON lines.
    pub log_json: bool,
    pub writer: WriterConfig,
    /// The console's sign-in settings (`WALLET_COOKIE_SECURE`, `WALLET_SESSION_*`,
    /// `WALLET_TRUST_PROXY`, `WALLET_ADMIN_PASSWORD`).
    pub staff: crate::staff::StaffConfig,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/oncewallet.db?mode=rwc";
/// The first admin's password in [`Config::for_tests`].
pub const TEST_ADMIN_PASSWORD: &str = "test-admin-password";

impl Config {
    pub fn from_env() -> anyhow::Result<Config> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let (operator_token, operator_token_generated) = match var("WALLET_OPERATOR_TOKEN") {
            Some(token) => (token, false),
            None => (generate_token(), true),
        };
        let currencies = match var("WALLET_CURRENCY_SCALES") {
            Some(spec) => CurrencyTable::default()
                .with_overrides(&spec)
                .map_err(anyhow::Error::msg)
                .context("WALLET_CURRENCY_SCALES")?,
            None => CurrencyTable::default(),
        };
        Ok(Config {
            database_url: var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            site_addr: var("LEPTOS_SITE_ADDR").unwrap_or_else(|| "127.0.0.1:3000".to_owned()),
            site_root: var("LEPTOS_SITE_ROOT")
                .unwrap_or_else(|| "target/site".to_owned())
                .into(),
            operator_token,
            operator_token_generated,
            demo: var("WALLET_DEMO").is_none_or(|v| !is_off(&v)),
            currencies,
            log_json: var("LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")),
            writer: WriterConfig::default(),
            staff: crate::staff::StaffConfig::from_env()?,
        })
    }

    /// A configuration for tests: the given database, a free port, a fixed token.
    pub fn for_tests(database_url: impl Into<String>) -> Config {
        Config {
            database_url: database_url.into(),
            site_addr: "127.0.0.1:0".to_owned(),
            site_root: "target/site".into(),
            operator_token: "test-operator-token".to_owned(),
            operator_token_generated: false,
            demo: false,
            currencies: CurrencyTable::default(),
            log_json: false,
            writer: WriterConfig::default(),
            staff: crate::staff::StaffConfig {
                admin_password: Some(TEST_ADMIN_PASSWORD.to_owned()),
                ..Default::default()
            },
        }
    }
}

/// A switch turned off.
fn is_off(value: &str) -> bool {
    ["0", "false", "off", "no"]
        .iter()
        .any(|off| value.trim().eq_ignore_ascii_case(off))
}

fn generate_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("ow_{}", hex::encode(bytes))
}
