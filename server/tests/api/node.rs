//! Real server processes for the reliability tests (crash, nodes, outage, secrets): the
//! binary cargo built (`CARGO_BIN_EXE_server`), configured through its environment as a
//! deployment would, killed with SIGKILL when a test says so. Also a provider client that
//! retries every request with the same transaction id until the answer is definitive.
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::{
    create_pg_database, fresh_secret, money, now_ms, sign_request, unique_id,
    verify_response_signature, ApiResponse,
};

pub const OPERATOR_TOKEN: &str = "reliability-operator-token";
/// Every node serves the PAM API (docs/PAM.md) with this key.
pub const PAM_API_KEY: &str = "reliability-pam-key";
pub const ADMIN_PASSWORD: &str = "reliability-admin-password";
/// The longest a node may take from spawn to listening (a debug build, busy cores).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A fresh database for the processes of one test: a SQLite file, or a new PostgreSQL
/// database when `ONCEWALLET_TEST_PG_URL` is set.
pub struct TestDatabase {
    pub url: String,
    sqlite_file: Option<PathBuf>,
}

pub fn pg_admin_url() -> Option<String> {
    std::env::var("ONCEWALLET_TEST_PG_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

impl TestDatabase {
    pub async fn fresh() -> TestDatabase {
        match pg_admin_url() {
            Some(admin) => TestDatabase {
                url: create_pg_database(&admin).await,
                sqlite_file: None,
            },
            None => {
                let path = std::env::temp_dir().join(format!(
                    "oncewallet-rel-{}.db",
                    uuid::Uuid::new_v4().simple()
                ));
                TestDatabase {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    sqlite_file: Some(path),
                }
            }
        }
    }

    pub fn is_sqlite(&self) -> bool {
        self.sqlite_file.is_some()
    }

    /// A connection of the test's own, for the end checks.
    pub async fn connect(&self) -> DatabaseConnection {
        let mut options = ConnectOptions::new(self.url.clone());
        options
            .max_connections(2)
            .min_connections(0)
            .sqlx_logging(false);
        Database::connect(options)
            .await
            .expect("connect the test's own database handle")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(path) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let mut file = path.clone().into_os_string();
                file.push(suffix);
                let _ = std::fs::remove_file(file);
            }
        }
    }
}

/// One running server process.
pub struct Node {
    child: Child,
    pub base_url: String,
    /// Everything the process wrote to stdout and stderr so far.
    output: Arc<Mutex<String>>,
}

impl Node {
    /// Starts the binary on `database_url` with a free port and waits until it listens.
    pub async fn start(database_url: &str, extra_env: &[(&str, &str)]) -> Node {
        let mut command = Command::new(server_binary());
        command
            .env_remove("WALLET_FAILPOINT")
            .env("DATABASE_URL", database_url)
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env("WALLET_OPERATOR_TOKEN", OPERATOR_TOKEN)
            .env("WALLET_VALKYRIE_API_KEY", PAM_API_KEY)
            .env("WALLET_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("WALLET_DEMO", "0")
            // These runs are about money; the console's second factor has its own tests.
            .env("WALLET_MFA_REQUIRED", "0")
            .env("WALLET_RECONCILE_INTERVAL_SECS", "0")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (name, value) in extra_env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the server binary starts");
        let output = Arc::new(Mutex::new(String::new()));
        let (listening, address) = tokio::sync::oneshot::channel();
        // Both pipes are drained for the process's whole life: a full pipe would block it.
        drain(
            child.stdout.take().expect("stdout"),
            output.clone(),
            Some(listening),
        );
        drain(child.stderr.take().expect("stderr"), output.clone(), None);
        let base_url = match tokio::time::timeout(START_TIMEOUT, address).await {
            Ok(Ok(url)) => url,
            _ => {
                let _ = child.start_kill();
                panic!(
                    "the server did not start within {START_TIMEOUT:?}; its output:\n{}",
                    output.lock().unwrap()
                )
            }
        };
        Node {
            child,
            base_url,
            output,
        }
    }

    /// SIGKILL, and wait until the process is gone.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Waits for the process to exit by itself.
    pub async fn exited(&mut self) -> ExitStatus {
        self.child.wait().await.expect("wait for the server")
    }

    /// `true` while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// SIGTERM, and wait for the graceful stop.
    pub async fn terminate(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
            if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
                .await
                .is_err()
            {
                self.kill().await;
            }
        }
    }
}

/// The binary cargo built, or `ONCEWALLET_SERVER_BIN`: a long run can use a copy that
/// a rebuild of the shared target directory cannot replace under it.
fn server_binary() -> String {
    std::env::var("ONCEWALLET_SERVER_BIN")
        .ok()
        .filter(|path| !path.is_empty())
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_server").to_owned())
}

fn drain(
    pipe: impl AsyncRead + Unpin + Send + 'static,
    output: Arc<Mutex<String>>,
    mut listening: Option<tokio::sync::oneshot::Sender<String>>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            // The banner: "  dashboard:      http://127.0.0.1:PORT/   sign in as …".
            let url = line
                .trim_start()
                .strip_prefix("dashboard:")
                .and_then(|rest| rest.split_whitespace().next())
                .map(|url| url.trim_end_matches('/').to_owned());
            if let Some(url) = url {
                if let Some(sender) = listening.take() {
                    let _ = sender.send(url);
                }
            }
            let mut output = output.lock().unwrap();
            // Keep the last few MiB only: a long run must not grow without bound.
            if output.len() > 4 << 20 {
                let cut = output.len() - (2 << 20);
                let cut = (cut..output.len())
                    .find(|i| output.is_char_boundary(*i))
                    .unwrap_or(0);
                output.drain(..cut);
            }
            output.push_str(&line);
            output.push('\n');
        }
    });
}

// ----------------------------------------------------------------------------------
// A retrying provider client
// ----------------------------------------------------------------------------------

/// A provider registered on the wallet, as the reliability tests' clients use it.
#[derive(Clone)]
pub struct Provider {
    pub id: String,
    /// Unique, so that the PAM's `provider` names it (docs/PAM.md).
    pub name: String,
    pub key_id: String,
    pub secret: String,
    pub game_id: String,
    client: reqwest::Client,
}

/// The first definitive answer to a request, and how it was reached.
#[derive(Debug, Clone)]
pub struct Definitive {
    pub status: u16,
    pub body: Value,
    /// Attempts sent, the definitive one included.
    pub attempts: u32,
}

impl Definitive {
    pub fn code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }

    pub fn tx(&self) -> &Value {
        &self.body["transaction"]
    }
}

/// What the retrying clients saw besides definitive answers.
#[derive(Debug, Default)]
pub struct RetryLog {
    /// Retryable answers by `status code` (`503 TEMPORARY_UNAVAILABLE`, …).
    pub retryable: HashMap<String, u64>,
    /// Requests that got no HTTP answer at all (the server was down or died).
    pub transport_errors: u64,
    /// Answers no contract allows while retrying: a 5xx without a retryable contract
    /// code, a retryable flag on a 4xx other than 401 STALE_REQUEST or 429 RATE_LIMITED.
    pub violations: Vec<String>,
    /// `500 INTERNAL_ERROR` answers (outcome unknown) resolved through the status lookup.
    pub unknown_outcomes_looked_up: u64,
}

pub type SharedRetryLog = Arc<Mutex<RetryLog>>;

/// Which server to send the next attempt to.
pub trait Target: Send + Sync {
    fn base_url(&self) -> String;
}

impl Target for String {
    fn base_url(&self) -> String {
        self.clone()
    }
}

/// The address of whichever node is up now, replaced on every restart.
impl Target for tokio::sync::watch::Receiver<String> {
    fn base_url(&self) -> String {
        self.borrow().clone()
    }
}

impl Provider {
    /// Registers a provider with one key through the operator API of `base_url`.
    pub async fn register(base_url: &str) -> Provider {
        let id = unique_id("prov");
        let provider = Provider {
            name: format!("Reliability {id}"),
            id,
            key_id: unique_id("key"),
            secret: fresh_secret(),
            game_id: unique_id("game"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        };
        let body = json!({ "name": provider.name, "keys": [ { "key_id": provider.key_id, "secret": provider.secret } ] });
        let response = operator(
            base_url,
            Method::PUT,
            &format!("/operator/v1/providers/{}", provider.id),
            &body,
        )
        .await;
        assert_eq!(response.status, 200, "{}", response.body);
        provider
    }

    /// The same provider signing with another key.
    pub fn with_key(&self, key_id: &str, secret: &str) -> Provider {
        Provider {
            key_id: key_id.to_owned(),
            secret: secret.to_owned(),
            ..self.clone()
        }
    }

    /// A player with `balance_minor` in EUR and a long session at this provider; its
    /// session token.
    pub async fn player(&self, base_url: &str, player_id: &str, balance_minor: i64) -> String {
        let put = operator(
            base_url,
            Method::PUT,
            &format!("/operator/v1/players/{player_id}"),
            &json!({ "currency": "EUR" }),
        )
        .await;
        assert_eq!(put.status, 200, "{}", put.body);
        if balance_minor > 0 {
            let credit = json!({ "adjustment_id": unique_id("adj"), "direction": "CREDIT",
                                 "amount": money(balance_minor, "EUR"), "reason": "reliability" });
            let adjusted = operator(
                base_url,
                Method::POST,
                &format!("/operator/v1/players/{player_id}/adjustments"),
                &credit,
            )
            .await;
            assert_eq!(adjusted.status, 200, "{}", adjusted.body);
        }
        let session = json!({ "player_id": player_id, "provider_id": self.id, "game_id": self.game_id, "ttl_seconds": 86_400 });
        let opened = operator(base_url, Method::POST, "/operator/v1/sessions", &session).await;
        assert_eq!(opened.status, 201, "{}", opened.body);
        opened.body["session_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// One signed attempt; `None` when no HTTP answer came back.
    pub async fn attempt(
        &self,
        base_url: &str,
        method: Method,
        path: &str,
        body: &[u8],
        request_id: Option<&str>,
    ) -> Option<ApiResponse> {
        let timestamp = now_ms().to_string();
        let signature = sign_request(&self.secret, method.as_str(), path, &timestamp, body);
        let mut request = self
            .client
            .request(method.clone(), format!("{base_url}{path}"))
            .header("Content-Type", "application/json")
            .header("X-Wallet-Key-Id", &self.key_id)
            .header("X-Wallet-Timestamp", &timestamp)
            .header("X-Wallet-Signature", signature);
        if let Some(request_id) = request_id {
            request = request.header("X-Request-Id", request_id);
        }
        if method != Method::GET {
            request = request.body(body.to_vec());
        }
        let response = request.send().await.ok()?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let raw = response.bytes().await.ok()?.to_vec();
        let body = serde_json::from_slice(&raw)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into_owned()));
        let response = ApiResponse {
            status,
            headers,
            raw,
            body,
        };
        // Refusals before authentication are not signed: the two 401s, and the 503 of a
        // request whose key could not be read because the database is down.
        let unsigned = (status == 401
            && matches!(response.code(), Some("INVALID_SIGNATURE" | "STALE_REQUEST")))
            || (status == 503
                && response.code() == Some("TEMPORARY_UNAVAILABLE")
                && response.header("X-Wallet-Signature").is_none());
        if !unsigned {
            verify_response_signature(&response, &self.secret);
        }
        Some(response)
    }

    /// Sends `body` to `path` until the answer is definitive: every attempt is signed
    /// afresh and carries the same transaction id. Gives up (panics) after `deadline`.
    pub async fn until_definitive(
        &self,
        target: &dyn Target,
        path: &str,
        body: &Value,
        log: &SharedRetryLog,
        deadline: Duration,
    ) -> Definitive {
        let bytes = serde_json::to_vec(body).expect("serialise");
        let started = Instant::now();
        let mut attempts = 0;
        let mut pause_ms = 10;
        // First answers the status lookup reported after a 500.
        let mut committed: Vec<Value> = Vec::new();
        loop {
            assert!(
                started.elapsed() < deadline,
                "no definitive answer to {path} {body} within {deadline:?}"
            );
            attempts += 1;
            let url = target.base_url();
            let Some(response) = self.attempt(&url, Method::POST, path, &bytes, None).await else {
                log.lock().unwrap().transport_errors += 1;
                tokio::time::sleep(Duration::from_millis(pause_ms)).await;
                pause_ms = (pause_ms * 2).min(200);
                continue;
            };
            let retry = {
                let mut log = log.lock().unwrap();
                let kind = retryable_kind(&response, &mut log);
                if let Some(kind) = &kind {
                    *log.retryable.entry(kind.clone()).or_default() += 1;
                }
                kind.is_some()
            };
            if retry {
                if response.status == 500 {
                    // The outcome is unknown: ask the status lookup, as the contract says,
                    // and hold the retry's answer to what it reports.
                    if let Some(found) = self.lookup(&url, body).await {
                        committed.push(found);
                    }
                    log.lock().unwrap().unknown_outcomes_looked_up += 1;
                }
                tokio::time::sleep(Duration::from_millis(pause_ms)).await;
                pause_ms = (pause_ms * 2).min(200);
                continue;
            }
            for original in &committed {
                let same = response.body["replayed"] == true
                    && original["http_status"] == response.status
                    && original["body"]["transaction"] == response.body["transaction"];
                if !same {
                    log.lock().unwrap().violations.push(format!(
                        "the status lookup reported {original} after a 500, the retry answered {} {}",
                        response.status, response.body
                    ));
                }
            }
            return Definitive {
                status: response.status,
                body: response.body,
                attempts,
            };
        }
    }
}

impl Provider {
    /// `GET /wallet/v1/transactions/{id}` of the request's transaction: its
    /// `original_response` when it committed, `None` when not (or no answer came).
    async fn lookup(&self, base_url: &str, body: &Value) -> Option<Value> {
        let tx_id = body["transaction_id"].as_str()?;
        let path = format!("/wallet/v1/transactions/{tx_id}");
        let response = self
            .attempt(base_url, Method::GET, &path, b"", None)
            .await?;
        let lookup = &response.body["lookup"];
        let state = lookup["state"].as_str().unwrap_or("NOT_FOUND");
        (response.status == 200 && !matches!(state, "NOT_FOUND" | "IN_PROGRESS"))
            .then(|| lookup["original_response"].clone())
    }
}

/// `Some("503 TEMPORARY_UNAVAILABLE")` for an answer that says "retry"; records a
/// violation for a retry signal outside the contract.
fn retryable_kind(response: &ApiResponse, log: &mut RetryLog) -> Option<String> {
    let code = response.code().unwrap_or("-");
    let retryable = response.body["error"]["retryable"] == true;
    let kind = format!("{} {code}", response.status);
    let allowed = matches!(
        (response.status, code),
        (503, "TEMPORARY_UNAVAILABLE" | "TRANSACTION_IN_PROGRESS")
            | (500, "INTERNAL_ERROR")
            | (401, "STALE_REQUEST")
            | (429, "RATE_LIMITED")
    );
    if response.status >= 500 || retryable {
        if !allowed || !retryable {
            log.violations.push(format!("{kind}: {}", response.body));
        }
        return Some(kind);
    }
    None
}

/// An operator API call (set-up only: the node is up).
pub async fn operator(base_url: &str, method: Method, path: &str, body: &Value) -> ApiResponse {
    let response = reqwest::Client::new()
        .request(method, format!("{base_url}{path}"))
        .bearer_auth(OPERATOR_TOKEN)
        .json(body)
        .send()
        .await
        .expect("operator request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let raw = response.bytes().await.expect("body").to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    ApiResponse {
        status,
        headers,
        raw,
        body,
    }
}

/// The number of kills (or rounds) a long run asks for through `var`, else `short`.
pub fn runs_from_env(var: &str, short: u32) -> u32 {
    std::env::var(var)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(short)
}
