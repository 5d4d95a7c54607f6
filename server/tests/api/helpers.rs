//! Spawns the real server on port 0 with a fresh database and talks HTTP to it.
//!
//! Everything a test needs to act like a provider lives here: builders for providers,
//! players and request bodies, a request signer that follows section 2 of the contract
//! to the letter, a verifier for the response signature (run on every signed call), and
//! the ledger invariants checked in SQL.

use std::path::PathBuf;

use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use reqwest::Method;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use server::config::Config;
use server::startup::Application;

type HmacSha256 = Hmac<Sha256>;

/// Set to an admin URL (postgres://postgres@127.0.0.1:5433/postgres) to run on PostgreSQL.
const PG_URL_VAR: &str = "ONCEWALLET_TEST_PG_URL";
/// The contract's freshness window.
pub const MAX_CLOCK_SKEW_MS: i64 = 300_000;
/// The largest balance the wallet holds: 18 digits.
pub const MAX_BALANCE_MINOR: i64 = 999_999_999_999_999_999;

/// The staff session cookie a response sets, as the `name=value` pair a `Cookie` header
/// sends back; `None` when the response sets none or clears it.
pub fn session_cookie_pair(headers: &HeaderMap) -> Option<String> {
    let prefix = format!("{}=", server::staff::SESSION_COOKIE);
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|cookie| cookie.split(';').next())
        .find(|pair| {
            pair.strip_prefix(&prefix)
                .is_some_and(|value| !value.is_empty())
        })
        .map(str::to_owned)
}

// ----------------------------------------------------------------------------------
// Money and ids
// ----------------------------------------------------------------------------------

/// The wallet's configured scale for a currency (ISO 4217 exponents, plus BTC and USDT).
pub fn scale_of(currency: &str) -> u32 {
    match currency {
        "EUR" | "USD" | "CHF" | "NGN" | "KES" | "KZT" | "GEL" | "EGP" => 2,
        "JPY" | "UGX" => 0,
        "KWD" => 3,
        "BTC" => 8,
        "USDT" => 6,
        other => panic!("no scale known to the tests for {other}"),
    }
}

/// A money object in the wire shape of section 3.
pub fn money(amount_minor: i64, currency: &str) -> Value {
    json!({ "value": amount_minor.to_string(), "currency": currency, "scale": scale_of(currency) })
}

/// A fresh id from the contract's alphabet, unique across tests and runs.
pub fn unique_id(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::new_v4().simple())
}

/// The `transaction_id` of a request body built by the builders.
pub fn tx_id(body: &Value) -> String {
    body["transaction_id"]
        .as_str()
        .expect("body has a transaction_id")
        .to_owned()
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The minor units of a money object, checking its shape on the way.
pub fn minor_of(money: &Value, currency: &str) -> i64 {
    assert_eq!(
        money["currency"], currency,
        "money in the wrong currency: {money}"
    );
    assert_eq!(
        money["scale"],
        scale_of(currency),
        "money with the wrong scale: {money}"
    );
    let value = money["value"]
        .as_str()
        .unwrap_or_else(|| panic!("money value not a string: {money}"));
    assert!(
        value == "0" || (!value.starts_with('0') && value.bytes().all(|b| b.is_ascii_digit())),
        "money value not canonical digits: {money}"
    );
    value.parse().expect("money value fits i64")
}

// ----------------------------------------------------------------------------------
// Signatures (section 2)
// ----------------------------------------------------------------------------------

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn hmac_hex(secret: &str, message: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("hmac takes any key");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `v1=` + hex HMAC of the canonical request string.
pub fn sign_request(
    secret: &str,
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    body: &[u8],
) -> String {
    let canonical = format!(
        "v1\n{method}\n{path_and_query}\n{timestamp}\n{}",
        hex_sha256(body)
    );
    format!("v1={}", hmac_hex(secret, &canonical))
}

/// The signature a response with this status, timestamp and body must carry.
pub fn sign_response(secret: &str, status: u16, timestamp: &str, body: &[u8]) -> String {
    let canonical = format!("v1-response\n{status}\n{timestamp}\n{}", hex_sha256(body));
    format!("v1={}", hmac_hex(secret, &canonical))
}

// ----------------------------------------------------------------------------------
// Responses
// ----------------------------------------------------------------------------------

/// An HTTP response with its raw bytes kept (signatures cover the bytes) and its JSON.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub raw: Vec<u8>,
    pub body: Value,
}

/// The HTTP status and `retryable` flag section 5 gives each error code.
pub fn expected_status_and_retryable(code: &str) -> (u16, bool) {
    match code {
        "INVALID_SIGNATURE" => (401, false),
        "STALE_REQUEST" => (401, true),
        "MALFORMED_REQUEST" | "INVALID_AMOUNT" => (400, false),
        "PLAYER_NOT_FOUND" | "REFERENCE_NOT_FOUND" | "PROVIDER_NOT_FOUND" | "NOT_FOUND" => {
            (404, false)
        }
        "SESSION_INVALID" | "SESSION_EXPIRED" | "UNAUTHORIZED" => (401, false),
        "PLAYER_BLOCKED" => (403, false),
        "CURRENCY_MISMATCH" | "INSUFFICIENT_FUNDS" | "NOT_REVERSIBLE" => (422, false),
        "ROUND_CLOSED"
        | "TRANSACTION_ROLLED_BACK"
        | "TRANSACTION_VOIDED"
        | "BET_ALREADY_SETTLED"
        | "IDEMPOTENCY_CONFLICT"
        | "KEY_IN_USE"
        | "INVALID_TRANSITION"
        | "CURRENCY_IMMUTABLE" => (409, false),
        "TRANSACTION_IN_PROGRESS" | "TEMPORARY_UNAVAILABLE" => (503, true),
        "INTERNAL_ERROR" => (500, true),
        "RATE_LIMITED" => (429, true),
        other => panic!("unknown error code {other}"),
    }
}

impl ApiResponse {
    async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let raw = response
            .bytes()
            .await
            .expect("read the response body")
            .to_vec();
        let body = if raw.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&raw)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into_owned()))
        };
        Self {
            status,
            headers,
            raw,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }

    pub fn replayed(&self) -> bool {
        self.body["replayed"]
            .as_bool()
            .unwrap_or_else(|| panic!("no boolean `replayed` in {}", self.body))
    }

    pub fn tx(&self) -> &Value {
        &self.body["transaction"]
    }

    /// The current balance the response reports, in minor units.
    pub fn balance_minor(&self) -> i64 {
        let balance = &self.body["balance"];
        let currency = balance["currency"]
            .as_str()
            .unwrap_or_else(|| panic!("no balance in {}", self.body));
        minor_of(balance, currency)
    }

    /// `error.details.fields` of an IDEMPOTENCY_CONFLICT, sorted.
    pub fn conflict_fields(&self) -> Vec<String> {
        let fields = self.body["error"]["details"]["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("no error.details.fields in {}", self.body));
        let mut fields: Vec<String> = fields
            .iter()
            .map(|f| f.as_str().expect("field names are strings").to_owned())
            .collect();
        fields.sort();
        fields
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status, status,
            "unexpected HTTP status; body: {}",
            self.body
        );
        self
    }

    /// A 200 with `status: "OK"`.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        self.assert_status(200);
        assert_eq!(self.body["status"], "OK", "body: {}", self.body);
        self
    }

    /// An error with the code's status and retryable flag from section 5.
    #[track_caller]
    pub fn assert_error(&self, code: &str) -> &Self {
        let (status, retryable) = expected_status_and_retryable(code);
        assert_eq!(
            (self.status, self.code()),
            (status, Some(code)),
            "unexpected status/code; body: {}",
            self.body
        );
        assert_eq!(self.body["status"], "ERROR", "body: {}", self.body);
        assert_eq!(
            self.body["error"]["retryable"], retryable,
            "retryable flag of {code}; body: {}",
            self.body
        );
        assert!(
            self.body["error"]["message"].is_string(),
            "error.message missing: {}",
            self.body
        );
        assert!(
            self.body["error"]["details"].is_object(),
            "error.details missing: {}",
            self.body
        );
        self
    }

    /// A first execution (not a replay).
    #[track_caller]
    pub fn assert_fresh(&self) -> &Self {
        assert!(
            !self.replayed(),
            "expected replayed:false; body: {}",
            self.body
        );
        self
    }

    /// The stored answer of `first` came back: same status, same `transaction` and
    /// `error`, `replayed: true`, another request id.
    #[track_caller]
    pub fn assert_replay_of(&self, first: &ApiResponse) -> &Self {
        assert_eq!(
            self.status, first.status,
            "replay status differs; replay: {}, first: {}",
            self.body, first.body
        );
        assert!(
            self.replayed(),
            "expected replayed:true; body: {}",
            self.body
        );
        assert_eq!(
            self.body["status"], first.body["status"],
            "replay: {}",
            self.body
        );
        assert_eq!(
            self.body["transaction"], first.body["transaction"],
            "replayed transaction differs"
        );
        assert_eq!(
            self.body["error"], first.body["error"],
            "replayed error differs"
        );
        assert_ne!(
            self.body["request_id"], first.body["request_id"],
            "a replay gets a new request id"
        );
        self
    }

    /// A 409 IDEMPOTENCY_CONFLICT naming exactly these fields.
    #[track_caller]
    pub fn assert_conflict(&self, fields: &[&str]) -> &Self {
        self.assert_error("IDEMPOTENCY_CONFLICT");
        let mut expected: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        expected.sort();
        assert_eq!(
            self.conflict_fields(),
            expected,
            "conflict fields; body: {}",
            self.body
        );
        self
    }

    /// A transaction object in the success shape of section 4.2.
    #[track_caller]
    pub fn assert_transaction_shape(&self, op: &str, state: &str) -> &Self {
        let tx = self.tx();
        assert_eq!(tx["op"], op, "transaction.op; body: {}", self.body);
        assert_eq!(tx["state"], state, "transaction.state; body: {}", self.body);
        assert!(
            tx["transaction_id"].is_string(),
            "transaction_id: {}",
            self.body
        );
        assert!(
            tx["wallet_tx_id"].as_str().is_some_and(|id| !id.is_empty())
                || tx["wallet_tx_id"].as_i64().is_some(),
            "wallet_tx_id: {}",
            self.body
        );
        let committed_at = tx["committed_at"]
            .as_str()
            .unwrap_or_else(|| panic!("committed_at: {}", self.body));
        chrono::DateTime::parse_from_rfc3339(committed_at)
            .unwrap_or_else(|e| panic!("committed_at {committed_at} is not RFC 3339: {e}"));
        assert!(
            self.body["request_id"]
                .as_str()
                .is_some_and(|id| !id.is_empty()),
            "request_id: {}",
            self.body
        );
        self
    }
}

// ----------------------------------------------------------------------------------
// The application
// ----------------------------------------------------------------------------------

pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    pub operator_token: String,
    pub database_url: String,
    /// A separate connection for invariant checks and state inspection.
    pub db: DatabaseConnection,
    /// The server's own database handle (a test lowers SQLite's size cap through it).
    pub store: server::db::Store,
    server: tokio::task::AbortHandle,
    sqlite_file: Option<PathBuf>,
}

/// Starts the real server on a fresh database: PostgreSQL when `ONCEWALLET_TEST_PG_URL`
/// is set, a new SQLite file otherwise.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`] with settings of the test's own, e.g. an approval threshold.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let (database_url, sqlite_file) = match std::env::var(PG_URL_VAR) {
        Ok(admin_url) if !admin_url.is_empty() => (create_pg_database(&admin_url).await, None),
        _ => {
            let path = std::env::temp_dir()
                .join(format!("oncewallet-test-{}.db", Uuid::new_v4().simple()));
            (format!("sqlite://{}?mode=rwc", path.display()), Some(path))
        }
    };
    let mut app = start_server(&database_url, configure).await;
    app.sqlite_file = sqlite_file;
    app
}

async fn start_server(database_url: &str, configure: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config::for_tests(database_url.to_owned());
    configure(&mut config);
    config.site_addr = "127.0.0.1:0".to_owned();
    if config.operator_token.is_empty() {
        config.operator_token = unique_id("operator-token");
    }
    let operator_token = config.operator_token.clone();
    let application = Application::build(config)
        .await
        .expect("build the application");
    let addr = application.addr();
    let store = application.store().clone();
    let server = tokio::spawn(application.run_until_stopped()).abort_handle();

    let mut options = ConnectOptions::new(database_url.to_owned());
    options
        .max_connections(2)
        .min_connections(0)
        .sqlx_logging(false);
    let db = Database::connect(options)
        .await
        .expect("connect the test's own database handle");

    TestApp {
        base_url: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .expect("build the HTTP client"),
        operator_token,
        database_url: database_url.to_owned(),
        db,
        store,
        server,
        sqlite_file: None,
    }
}

/// A new, empty database on the PostgreSQL server of `admin_url`; its URL.
pub async fn create_pg_database(admin_url: &str) -> String {
    create_pg_database_in(admin_url, None).await
}

/// [`create_pg_database`] in a tablespace of the test's own.
pub async fn create_pg_database_in(admin_url: &str, tablespace: Option<&str>) -> String {
    let name = format!("t_{}", Uuid::new_v4().simple());
    let mut options = ConnectOptions::new(admin_url.to_owned());
    options.max_connections(1).sqlx_logging(false);
    let admin = Database::connect(options)
        .await
        .expect("connect to the PostgreSQL admin URL");
    admin
        .execute_unprepared(&match tablespace {
            Some(tablespace) => format!("CREATE DATABASE \"{name}\" TABLESPACE \"{tablespace}\""),
            None => format!("CREATE DATABASE \"{name}\""),
        })
        .await
        .expect("create the test database");
    admin.close().await.expect("close the admin connection");
    let (without_query, query) = match admin_url.split_once('?') {
        Some((url, query)) => (url, format!("?{query}")),
        None => (admin_url, String::new()),
    };
    let (server_part, _database) = without_query
        .rsplit_once('/')
        .expect("admin URL has a database path");
    format!("{server_part}/{name}{query}")
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(path) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let mut file = path.clone().into_os_string();
                file.push(suffix);
                let _ = std::fs::remove_file(file);
            }
        }
    }
}

/// Starts the real server on a database of the test's own making.
pub async fn spawn_app_on(database_url: &str) -> TestApp {
    start_server(database_url, |_| {}).await
}

/// Starts the real server on an existing SQLite file (a restored backup), which the
/// returned app deletes when dropped.
pub async fn spawn_app_on_sqlite_file(path: PathBuf) -> TestApp {
    let mut app = start_server(&format!("sqlite://{}?mode=rwc", path.display()), |_| {}).await;
    app.sqlite_file = Some(path);
    app
}

impl TestApp {
    /// Stops this server and starts a second `Application` on the same database: what a
    /// deploy or a crash-and-restart looks like to a provider.
    pub async fn restart(mut self) -> TestApp {
        self.server.abort();
        let sqlite_file = self.sqlite_file.take();
        let mut next = start_server(&self.database_url, |_| {}).await;
        next.operator_token.clone_from(&self.operator_token);
        next.sqlite_file = sqlite_file;
        next
    }

    pub fn operator(&self) -> Operator {
        Operator {
            base_url: self.base_url.clone(),
            client: self.client.clone(),
            token: self.operator_token.clone(),
        }
    }

    /// An unauthenticated GET (health checks, the OpenAPI document).
    pub async fn get(&self, path: &str) -> ApiResponse {
        let response = self
            .client
            .get(format!("{}{path}", self.base_url))
            .send()
            .await
            .expect("send the request");
        ApiResponse::read(response).await
    }

    /// Rows of a query against the test's own connection.
    pub async fn query(&self, sql: &str) -> Vec<sea_orm::QueryResult> {
        self.db
            .query_all(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .unwrap_or_else(|e| panic!("query failed: {sql}: {e}"))
    }

    /// A single BIGINT/INTEGER column named `n` from a one-row query.
    pub async fn query_i64(&self, sql: &str) -> i64 {
        let rows = self.query(sql).await;
        rows.first()
            .expect("one row")
            .try_get::<i64>("", "n")
            .expect("column n")
    }

    /// The stored state of a provider's transaction, if the key exists.
    pub async fn stored_state(
        &self,
        provider: &TestProvider,
        transaction_id: &str,
    ) -> Option<String> {
        let sql = format!(
            "SELECT state FROM wallet_transactions WHERE scope = {} AND transaction_id = {}",
            quote(&provider.id),
            quote(transaction_id)
        );
        self.query(&sql)
            .await
            .first()
            .map(|row| row.try_get::<String>("", "state").expect("state column"))
    }

    /// How many idempotency records exist (to show that something was not recorded).
    pub async fn transaction_count(&self) -> i64 {
        self.query_i64("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM wallet_transactions")
            .await
    }

    /// How many ledger entries exist (to show that no money moved).
    pub async fn ledger_entry_count(&self) -> i64 {
        self.query_i64("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM ledger_entries")
            .await
    }
}

/// A SQL string literal; test ids come from a safe alphabet, so this is for tidiness.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Section 8, checked in SQL: every balance equals the sum of its ledger entries and is
/// not negative, every wallet transaction's entries sum to zero, and no idempotency key
/// exists twice.
pub async fn assert_invariants(app: &TestApp) {
    assert_invariants_on(&app.db).await;
}

/// [`assert_invariants`] on any connection (the reliability tests own no `TestApp`).
pub async fn assert_invariants_on(db: &DatabaseConnection) {
    let app = InvariantDb(db);
    let drifting = app
        .query(
            "SELECT p.id AS id FROM players p \
             WHERE p.balance_minor < 0 \
                OR p.balance_minor <> COALESCE((SELECT SUM(e.amount_minor) FROM ledger_entries e \
                                                WHERE e.account = 'player:' || p.id), 0)",
        )
        .await;
    let drifting: Vec<String> = drifting
        .iter()
        .map(|r| r.try_get::<String>("", "id").expect("id"))
        .collect();
    assert!(
        drifting.is_empty(),
        "players whose balance is not the sum of their ledger entries: {drifting:?}"
    );

    let unbalanced = app
        .query(
            "SELECT wallet_transaction_id AS id FROM ledger_entries \
             GROUP BY wallet_transaction_id HAVING SUM(amount_minor) <> 0",
        )
        .await;
    let unbalanced: Vec<i64> = unbalanced
        .iter()
        .map(|r| r.try_get::<i64>("", "id").expect("id"))
        .collect();
    assert!(
        unbalanced.is_empty(),
        "wallet transactions whose entries do not sum to zero: {unbalanced:?}"
    );

    let duplicated = app
        .query(
            "SELECT scope, transaction_id FROM wallet_transactions \
             GROUP BY scope, transaction_id HAVING COUNT(*) > 1",
        )
        .await;
    assert!(
        duplicated.is_empty(),
        "{} idempotency keys recorded twice",
        duplicated.len()
    );

    let orphaned = app
        .query_i64(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM ledger_entries e \
             WHERE NOT EXISTS (SELECT 1 FROM wallet_transactions t WHERE t.id = e.wallet_transaction_id)",
        )
        .await;
    assert_eq!(orphaned, 0, "ledger entries without a wallet transaction");
}

/// The two query helpers of [`TestApp`], on a bare connection.
struct InvariantDb<'a>(&'a DatabaseConnection);

impl InvariantDb<'_> {
    async fn query(&self, sql: &str) -> Vec<sea_orm::QueryResult> {
        self.0
            .query_all(Statement::from_string(
                self.0.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .unwrap_or_else(|e| panic!("query failed: {sql}: {e}"))
    }

    async fn query_i64(&self, sql: &str) -> i64 {
        let rows = self.query(sql).await;
        rows.first()
            .expect("one row")
            .try_get::<i64>("", "n")
            .expect("column n")
    }
}

// ----------------------------------------------------------------------------------
// The operator API
// ----------------------------------------------------------------------------------

#[derive(Clone)]
pub struct Operator {
    base_url: String,
    client: reqwest::Client,
    token: String,
}

impl Operator {
    /// A request with the configured bearer token.
    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> ApiResponse {
        let token = self.token.clone();
        self.request_with_token(method, path, body, Some(&token))
            .await
    }

    /// A request with any token, or none.
    pub async fn request_with_token(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> ApiResponse {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base_url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        ApiResponse::read(request.send().await.expect("send the operator request")).await
    }

    pub async fn put_provider(&self, provider_id: &str, body: &Value) -> ApiResponse {
        self.request(
            Method::PUT,
            &format!("/operator/v1/providers/{provider_id}"),
            Some(body),
        )
        .await
    }

    pub async fn put_player(&self, player_id: &str, body: &Value) -> ApiResponse {
        self.request(
            Method::PUT,
            &format!("/operator/v1/players/{player_id}"),
            Some(body),
        )
        .await
    }

    pub async fn get_player(&self, player_id: &str) -> ApiResponse {
        self.request(
            Method::GET,
            &format!("/operator/v1/players/{player_id}"),
            None,
        )
        .await
    }

    pub async fn adjust(&self, player_id: &str, body: &Value) -> ApiResponse {
        self.request(
            Method::POST,
            &format!("/operator/v1/players/{player_id}/adjustments"),
            Some(body),
        )
        .await
    }

    pub async fn open_session(&self, body: &Value) -> ApiResponse {
        self.request(Method::POST, "/operator/v1/sessions", Some(body))
            .await
    }

    /// A fresh credit adjustment body.
    pub fn credit(amount_minor: i64, currency: &str) -> Value {
        json!({
            "adjustment_id": unique_id("adj"),
            "direction": "CREDIT",
            "amount": money(amount_minor, currency),
            "reason": "test deposit",
        })
    }
}

// ----------------------------------------------------------------------------------
// Providers and signed calls
// ----------------------------------------------------------------------------------

/// A provider registered through the operator API, with one signing key.
#[derive(Clone)]
pub struct TestProvider {
    pub id: String,
    pub key_id: String,
    pub secret: String,
    pub game_id: String,
    base_url: String,
    client: reqwest::Client,
    operator: Operator,
}

/// A fresh secret of 48 hex characters (within the 16–256 the operator API accepts).
pub fn fresh_secret() -> String {
    format!(
        "{}{}",
        Uuid::new_v4().simple(),
        &Uuid::new_v4().simple().to_string()[..16]
    )
}

impl TestProvider {
    pub async fn new(app: &TestApp) -> Self {
        let id = unique_id("prov");
        let key_id = unique_id("key");
        let secret = fresh_secret();
        let operator = app.operator();
        operator
            .put_provider(&id, &json!({ "name": format!("Provider {id}"), "keys": [ { "key_id": key_id, "secret": secret } ] }))
            .await
            .assert_ok();
        Self {
            id,
            key_id,
            secret,
            game_id: unique_id("game"),
            base_url: app.base_url.clone(),
            client: app.client.clone(),
            operator,
        }
    }

    /// The same provider, talking to another server instance (after a restart).
    pub fn on(&self, app: &TestApp) -> Self {
        Self {
            base_url: app.base_url.clone(),
            client: app.client.clone(),
            operator: app.operator(),
            ..self.clone()
        }
    }

    /// The same provider, signing with another of its keys (after a rotation).
    pub fn with_key(&self, key_id: &str, secret: &str) -> Self {
        Self {
            key_id: key_id.to_owned(),
            secret: secret.to_owned(),
            ..self.clone()
        }
    }

    /// A signed POST with a JSON body, built for tweaking before it is sent.
    pub fn call(&self, path: &str, body: &Value) -> WalletCall {
        self.call_raw(
            Method::POST,
            path,
            serde_json::to_vec(body).expect("serialise body"),
        )
    }

    /// A signed request with arbitrary body bytes.
    pub fn call_raw(&self, method: Method, path: &str, body: Vec<u8>) -> WalletCall {
        WalletCall {
            client: self.client.clone(),
            base_url: self.base_url.clone(),
            method,
            path: path.to_owned(),
            body,
            key_id: Some(self.key_id.clone()),
            secret: self.secret.clone(),
            timestamp: Some(now_ms().to_string()),
            signature: SignatureMode::Valid,
            request_id: None,
            unavailable_expected: false,
        }
    }

    /// A correctly signed POST; the response signature is verified.
    pub async fn post(&self, path: &str, body: &Value) -> ApiResponse {
        self.call(path, body).send().await
    }

    pub async fn bet(&self, body: &Value) -> ApiResponse {
        self.post("/wallet/v1/bet", body).await
    }

    pub async fn win(&self, body: &Value) -> ApiResponse {
        self.post("/wallet/v1/win", body).await
    }

    pub async fn rollback(&self, body: &Value) -> ApiResponse {
        self.post("/wallet/v1/rollback", body).await
    }

    pub async fn close_round(&self, body: &Value) -> ApiResponse {
        self.post("/wallet/v1/rounds/close", body).await
    }

    /// The player's balance through the signed balance endpoint.
    pub async fn balance_of(&self, player: &TestPlayer) -> i64 {
        let response = self
            .post(
                "/wallet/v1/balance",
                &json!({ "player_id": player.id, "currency": player.currency }),
            )
            .await;
        response.assert_ok();
        assert_eq!(response.body["player_id"], player.id.as_str());
        minor_of(&response.body["balance"], &player.currency)
    }

    /// Checks the balance through both the wallet API and the operator API.
    #[track_caller]
    pub fn assert_balance<'a>(
        &'a self,
        player: &'a TestPlayer,
        expected_minor: i64,
    ) -> impl std::future::Future<Output = ()> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            let wallet = self.balance_of(player).await;
            assert_eq!(
                wallet, expected_minor,
                "wallet balance of {} (checked at {caller})",
                player.id
            );
            let operator = player.operator_balance(&self.operator).await;
            assert_eq!(
                operator, expected_minor,
                "operator balance of {} (checked at {caller})",
                player.id
            );
        }
    }
}

pub enum SignatureMode {
    Valid,
    Missing,
    /// Send this header value instead of the real signature.
    Literal(String),
    /// Sign with another secret (another key's, or a wrong one).
    WithSecret(String),
}

/// One signed attempt, with every part of section 2 adjustable.
pub struct WalletCall {
    client: reqwest::Client,
    base_url: String,
    method: Method,
    path: String,
    body: Vec<u8>,
    key_id: Option<String>,
    secret: String,
    timestamp: Option<String>,
    signature: SignatureMode,
    request_id: Option<String>,
    /// A `503` is an answer the test expects (the database is down or full), not a failure.
    unavailable_expected: bool,
}

impl WalletCall {
    pub fn unavailable_expected(mut self) -> Self {
        self.unavailable_expected = true;
        self
    }

    pub fn timestamp_ms(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = Some(timestamp_ms.to_string());
        self
    }

    pub fn without_timestamp(mut self) -> Self {
        self.timestamp = None;
        self
    }

    pub fn key_id(mut self, key_id: Option<&str>) -> Self {
        self.key_id = key_id.map(str::to_owned);
        self
    }

    /// Use another key's id and secret (both), as a rotated key would.
    pub fn with_key(mut self, key_id: &str, secret: &str) -> Self {
        self.key_id = Some(key_id.to_owned());
        self.secret = secret.to_owned();
        self
    }

    pub fn signature(mut self, mode: SignatureMode) -> Self {
        self.signature = mode;
        self
    }

    pub fn request_id(mut self, request_id: &str) -> Self {
        self.request_id = Some(request_id.to_owned());
        self
    }

    /// Sends the request. When the server answers anything but the two unsigned
    /// authentication failures, the response signature must verify with this key's secret.
    pub async fn send(self) -> ApiResponse {
        let timestamp = self.timestamp.clone().unwrap_or_default();
        let signature = match &self.signature {
            SignatureMode::Valid => Some(sign_request(
                &self.secret,
                self.method.as_str(),
                &self.path,
                &timestamp,
                &self.body,
            )),
            SignatureMode::Missing => None,
            SignatureMode::Literal(value) => Some(value.clone()),
            SignatureMode::WithSecret(secret) => Some(sign_request(
                secret,
                self.method.as_str(),
                &self.path,
                &timestamp,
                &self.body,
            )),
        };
        let mut request = self
            .client
            .request(
                self.method.clone(),
                format!("{}{}", self.base_url, self.path),
            )
            .header("Content-Type", "application/json");
        if let Some(key_id) = &self.key_id {
            request = request.header("X-Wallet-Key-Id", key_id);
        }
        if let Some(timestamp) = &self.timestamp {
            request = request.header("X-Wallet-Timestamp", timestamp);
        }
        if let Some(signature) = signature {
            request = request.header("X-Wallet-Signature", signature);
        }
        if let Some(request_id) = &self.request_id {
            request = request.header("X-Request-Id", request_id);
        }
        if self.method != Method::GET || !self.body.is_empty() {
            request = request.body(self.body.clone());
        }
        let response =
            ApiResponse::read(request.send().await.expect("send the wallet request")).await;
        assert!(
            response.status < 500 || (self.unavailable_expected && response.status == 503),
            "the wallet answered {}: {}",
            response.status,
            response.body
        );
        let unsigned_auth_failure = response.status == 401
            && matches!(response.code(), Some("INVALID_SIGNATURE" | "STALE_REQUEST"));
        if !unsigned_auth_failure {
            verify_response_signature(&response, &self.secret);
            assert_request_id_echoed(&response, self.request_id.as_deref());
        }
        response
    }
}

/// The response carries `X-Wallet-Timestamp` (fresh) and a `v1=` signature over
/// status, timestamp and the raw body bytes.
#[track_caller]
pub fn verify_response_signature(response: &ApiResponse, secret: &str) {
    let timestamp = response.header("X-Wallet-Timestamp").unwrap_or_else(|| {
        panic!(
            "response {} without X-Wallet-Timestamp: {}",
            response.status, response.body
        )
    });
    let timestamp_ms: i64 = timestamp
        .parse()
        .expect("response timestamp is Unix milliseconds");
    assert!(
        (timestamp_ms - now_ms()).abs() < MAX_CLOCK_SKEW_MS,
        "response timestamp {timestamp_ms} is not current"
    );
    let signature = response.header("X-Wallet-Signature").unwrap_or_else(|| {
        panic!(
            "response {} without X-Wallet-Signature: {}",
            response.status, response.body
        )
    });
    assert_eq!(
        signature,
        sign_response(secret, response.status, timestamp, &response.raw),
        "response signature does not verify (status {}, body {})",
        response.status,
        response.body
    );
}

/// The request id is in the header and the body, and is ours when we sent one.
#[track_caller]
fn assert_request_id_echoed(response: &ApiResponse, sent: Option<&str>) {
    let header = response
        .header("X-Request-Id")
        .unwrap_or_else(|| panic!("no X-Request-Id: {}", response.body));
    assert!(!header.is_empty(), "empty X-Request-Id");
    if response.body.is_object() {
        assert_eq!(
            response.body["request_id"], header,
            "body request_id differs from the header"
        );
    }
    if let Some(sent) = sent {
        assert_eq!(header, sent, "the client's X-Request-Id is echoed");
    }
}

// ----------------------------------------------------------------------------------
// Players and request bodies
// ----------------------------------------------------------------------------------

/// A player with an open session at one provider for the provider's game.
#[derive(Clone)]
pub struct TestPlayer {
    pub id: String,
    pub currency: String,
    pub game_id: String,
    pub session_token: String,
    operator: Operator,
}

impl TestPlayer {
    /// A new ACTIVE player with a zero balance and a session at `provider`.
    pub async fn new(provider: &TestProvider, currency: &str) -> Self {
        Self::with_balance(provider, currency, 0).await
    }

    /// A new ACTIVE player, funded through a cashier adjustment, with a session.
    pub async fn with_balance(provider: &TestProvider, currency: &str, balance_minor: i64) -> Self {
        let operator = provider.operator.clone();
        let id = unique_id("player");
        operator
            .put_player(&id, &json!({ "currency": currency }))
            .await
            .assert_ok();
        if balance_minor > 0 {
            operator
                .adjust(&id, &Operator::credit(balance_minor, currency))
                .await
                .assert_ok();
        }
        let mut player = Self {
            id,
            currency: currency.to_owned(),
            game_id: provider.game_id.clone(),
            session_token: String::new(),
            operator,
        };
        player.session_token = player.open_session(provider, None).await;
        player
    }

    /// A player id nobody created, with the shape of a real one.
    pub fn unknown(provider: &TestProvider, currency: &str) -> Self {
        Self {
            id: unique_id("ghost"),
            currency: currency.to_owned(),
            game_id: provider.game_id.clone(),
            session_token: unique_id("no-session"),
            operator: provider.operator.clone(),
        }
    }

    /// The same player, managed through another server instance (after a restart).
    pub fn on(&self, app: &TestApp) -> Self {
        Self {
            operator: app.operator(),
            ..self.clone()
        }
    }

    /// A new session at `provider` for the player's game (superseding older ones).
    pub async fn open_session(&self, provider: &TestProvider, ttl_seconds: Option<u64>) -> String {
        let mut body =
            json!({ "player_id": self.id, "provider_id": provider.id, "game_id": self.game_id });
        if let Some(ttl) = ttl_seconds {
            body["ttl_seconds"] = json!(ttl);
        }
        let response = self.operator.open_session(&body).await;
        response.assert_status(201);
        response.body["session_token"]
            .as_str()
            .expect("session_token")
            .to_owned()
    }

    pub fn money(&self, amount_minor: i64) -> Value {
        money(amount_minor, &self.currency)
    }

    pub fn new_round(&self) -> String {
        unique_id("round")
    }

    /// A BET of `amount_minor` in `round_id` with a fresh transaction id.
    pub fn bet(&self, round_id: &str, amount_minor: i64) -> Value {
        json!({
            "transaction_id": unique_id("bet"),
            "player_id": self.id,
            "round_id": round_id,
            "game_id": self.game_id,
            "session_token": self.session_token,
            "amount": self.money(amount_minor),
        })
    }

    /// A WIN of `amount_minor` in `round_id` with a fresh transaction id, no reference.
    pub fn win(&self, round_id: &str, amount_minor: i64) -> Value {
        json!({
            "transaction_id": unique_id("win"),
            "player_id": self.id,
            "round_id": round_id,
            "game_id": self.game_id,
            "amount": self.money(amount_minor),
        })
    }

    /// A win settling the bet `reference`.
    pub fn win_for(&self, round_id: &str, amount_minor: i64, reference: &str) -> Value {
        let mut body = self.win(round_id, amount_minor);
        body["reference_transaction_id"] = json!(reference);
        body
    }

    /// A rollback of `target` with a fresh transaction id.
    pub fn rollback(&self, round_id: &str, target: &str) -> Value {
        json!({
            "transaction_id": unique_id("rb"),
            "player_id": self.id,
            "round_id": round_id,
            "game_id": self.game_id,
            "target_transaction_id": target,
        })
    }

    pub fn close_round(&self, round_id: &str) -> Value {
        json!({
            "transaction_id": unique_id("close"),
            "player_id": self.id,
            "round_id": round_id,
            "game_id": self.game_id,
        })
    }

    /// Credits the player through the cashier.
    pub async fn deposit(&self, amount_minor: i64) -> ApiResponse {
        let response = self
            .operator
            .adjust(&self.id, &Operator::credit(amount_minor, &self.currency))
            .await;
        response.assert_ok();
        response
    }

    /// Sets the player's status through the operator API (ACTIVE or BLOCKED).
    pub async fn set_status(&self, status: &str) {
        self.operator
            .put_player(
                &self.id,
                &json!({ "currency": self.currency, "status": status }),
            )
            .await
            .assert_ok();
    }

    pub async fn operator_balance(&self, operator: &Operator) -> i64 {
        let response = operator.get_player(&self.id).await;
        response.assert_ok();
        minor_of(&response.body["player"]["balance"], &self.currency)
    }
}

/// Runs the real binary with a subcommand against `database_url` and waits for it, at most
/// two minutes. Asynchronously, so that the test's own server keeps serving (and keeps
/// releasing its SQLite write lock) while the command runs.
pub async fn run_subcommand(subcommand: &str, database_url: &str) -> std::process::Output {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .arg(subcommand)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(std::time::Duration::from_secs(120), child)
        .await
        .unwrap_or_else(|_| panic!("`server {subcommand}` did not finish within 120 s"))
        .expect("the server binary runs")
}
