//! Signed HTTP clients for the two APIs, as a provider and an operator platform would write
//! them: the wallet client signs every request (docs/API.md, "Signing") and checks every
//! signed answer; the operator client sends the bearer token (docs/API.md, "Operator API").
//! Nothing here knows about the simulator, so a load generator can use the same clients.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::wallet::signing;

/// No single request may hang a player forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Enough idle connections for every player of a large run to reuse one.
const IDLE_CONNECTIONS_PER_HOST: usize = 256;

/// One HTTP client for the whole run: connections are pooled across providers.
pub fn http_client() -> reqwest::Result<reqwest::Client> {
    builder().build()
}

/// [`http_client`] that also trusts the certificate authority in the PEM file `ca_file`
/// (a staging wallet behind a private CA), beside the platform's roots.
pub fn http_client_trusting(ca_file: Option<&std::path::Path>) -> anyhow::Result<reqwest::Client> {
    let mut builder = builder();
    if let Some(path) = ca_file {
        use anyhow::Context as _;
        let pem =
            std::fs::read(path).with_context(|| format!("reading --ca-file {}", path.display()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("--ca-file {}: not PEM certificates", path.display()))?;
        anyhow::ensure!(
            !certificates.is_empty(),
            "--ca-file {}: no certificate in it",
            path.display()
        );
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    Ok(builder.build()?)
}

fn builder() -> reqwest::ClientBuilder {
    // https with rustls and the platform's root certificates; plain http as before.
    reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(IDLE_CONNECTIONS_PER_HOST)
}

/// An answer with its raw bytes (signatures cover the bytes) and its JSON.
#[derive(Debug, Clone)]
pub struct WireAnswer {
    pub status: u16,
    pub body: Value,
    /// Whether the answer's signature verified; `None` where the contract sends none
    /// (the two unsigned authentication failures, and the operator API).
    pub signature_valid: Option<bool>,
    pub retry_after: Option<Duration>,
}

impl WireAnswer {
    /// `Ok` when the operator API answered `status`; otherwise what was asked for and the
    /// answer.
    pub fn expect(&self, status: u16, what: &str) -> anyhow::Result<()> {
        if self.status != status {
            anyhow::bail!(
                "{what}: the operator API answered {}: {}",
                self.status,
                self.body
            );
        }
        Ok(())
    }

    pub fn code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }

    pub fn replayed(&self) -> bool {
        self.body["replayed"].as_bool().unwrap_or(false)
    }

    /// The balance the answer reports, in minor units, if it has one.
    pub fn balance_minor(&self) -> Option<i64> {
        minor_units(&self.body["balance"])
    }

    /// 5xx: nothing was committed (503) or the outcome is unknown (500); both may be
    /// retried.
    pub fn is_retryable_failure(&self) -> bool {
        self.status >= 500
    }
}

/// The minor units of a wire money object.
pub fn minor_units(money: &Value) -> Option<i64> {
    money["value"].as_str()?.parse().ok()
}

/// How to spoil a request on purpose, to see it refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    None,
    /// Signed with a secret that is not the key's.
    WrongSecret,
    /// Signed correctly, but with a timestamp this far in the past.
    StaleBy(Duration),
}

/// A provider's signing key.
#[derive(Debug, Clone)]
pub struct ProviderKey {
    pub provider_id: String,
    pub key_id: String,
    pub secret: String,
}

/// A provider's side of the wallet API.
#[derive(Clone)]
pub struct WalletClient {
    http: reqwest::Client,
    base_url: Arc<str>,
    key: Arc<ProviderKey>,
    /// Request ids are the client's own: prefix and a counter, unique per client.
    request_prefix: Arc<str>,
    request_seq: Arc<AtomicU64>,
    /// Set by [`WalletClient::with_own_connections`]: requests go through these instead of
    /// reqwest.
    connections: Option<Arc<crate::plain_http::Connections>>,
}

impl WalletClient {
    pub fn new(http: reqwest::Client, base_url: &str, key: ProviderKey) -> WalletClient {
        let request_prefix = format!("{}-req", key.key_id);
        WalletClient {
            http,
            base_url: Arc::from(base_url.trim_end_matches('/')),
            key: Arc::new(key),
            request_prefix: Arc::from(request_prefix.as_str()),
            request_seq: Arc::new(AtomicU64::new(0)),
            connections: None,
        }
    }

    /// Sends through plain keep-alive connections of its own instead of reqwest, where
    /// the wallet is plain `http://` (see `plain_http`): a load generator's cost
    /// per request is then a fraction of what it was.
    pub fn with_own_connections(mut self) -> WalletClient {
        self.connections = crate::plain_http::Connections::for_url(&self.base_url).map(Arc::new);
        self
    }

    pub fn key(&self) -> &ProviderKey {
        &self.key
    }

    /// A signed POST of JSON bytes; each call is one attempt with its own request id.
    pub async fn post(
        &self,
        path: &str,
        body: &[u8],
        tamper: Tamper,
    ) -> anyhow::Result<WireAnswer> {
        self.send(Method::POST, path, body.to_vec(), tamper).await
    }

    /// A signed GET (an empty body is signed).
    pub async fn get(&self, path_and_query: &str) -> anyhow::Result<WireAnswer> {
        self.send(Method::GET, path_and_query, Vec::new(), Tamper::None)
            .await
    }

    /// [`WalletClient::post`] whose answer is kept as it came, to be parsed and its
    /// signature checked later ([`UncheckedAnswer::checked`]): a load generator that does
    /// that after its clock stops spends the measured time on sending only.
    pub async fn post_unchecked(&self, path: &str, body: &[u8]) -> anyhow::Result<UncheckedAnswer> {
        self.exchange(Method::POST, path, body.to_vec(), Tamper::None)
            .await
    }

    async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Vec<u8>,
        tamper: Tamper,
    ) -> anyhow::Result<WireAnswer> {
        Ok(self
            .exchange(method, path_and_query, body, tamper)
            .await?
            .checked(&self.key))
    }

    async fn exchange(
        &self,
        method: Method,
        path_and_query: &str,
        body: Vec<u8>,
        tamper: Tamper,
    ) -> anyhow::Result<UncheckedAnswer> {
        let timestamp = request_timestamp(tamper).to_string();
        let secret = match tamper {
            Tamper::WrongSecret => format!("not-{}", self.key.secret),
            _ => self.key.secret.clone(),
        };
        let canonical =
            signing::request_canonical(method.as_str(), path_and_query, &timestamp, &body);
        let request_id = format!(
            "{}-{}",
            self.request_prefix,
            self.request_seq.fetch_add(1, Ordering::Relaxed)
        );
        let signature = signing::sign(&secret, &canonical);
        let (status, headers, raw) = match &self.connections {
            Some(connections) => {
                let mut headers = vec![
                    ("X-Wallet-Key-Id", self.key.key_id.as_str()),
                    ("X-Wallet-Timestamp", timestamp.as_str()),
                    ("X-Wallet-Signature", signature.as_str()),
                    ("X-Request-Id", request_id.as_str()),
                ];
                if method != Method::GET {
                    headers.push(("Content-Type", "application/json"));
                }
                let sent = connections.send(method.as_str(), path_and_query, &headers, &body);
                let answer = tokio::time::timeout(REQUEST_TIMEOUT, sent).await??;
                anyhow::ensure!(
                    answer.complete,
                    "an answer whose body this client cannot frame (no Content-Length)"
                );
                (answer.status, answer.headers, answer.body)
            }
            None => {
                let mut request = self
                    .http
                    .request(method.clone(), format!("{}{path_and_query}", self.base_url))
                    .header("X-Wallet-Key-Id", &self.key.key_id)
                    .header("X-Wallet-Timestamp", &timestamp)
                    .header("X-Wallet-Signature", signature)
                    .header("X-Request-Id", request_id);
                if method != Method::GET {
                    request = request
                        .header("Content-Type", "application/json")
                        .body(body);
                }
                read(request.send().await?).await?
            }
        };
        Ok(UncheckedAnswer::new(status, &headers, raw))
    }
}

/// An answer as it came off the wire, not parsed and its signature not checked yet; only
/// what the check needs is kept, so that a load generator can hold many.
pub struct UncheckedAnswer {
    pub status: u16,
    timestamp: Option<String>,
    signature: Option<String>,
    retry_after: Option<Duration>,
    raw: Vec<u8>,
}

impl UncheckedAnswer {
    pub fn new(status: u16, headers: &reqwest::header::HeaderMap, raw: Vec<u8>) -> UncheckedAnswer {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        UncheckedAnswer {
            status,
            timestamp: header("X-Wallet-Timestamp"),
            signature: header("X-Wallet-Signature"),
            retry_after: retry_after(headers),
            raw,
        }
    }

    /// The answer parsed, with whether its signature verifies with `key`.
    pub fn checked(&self, key: &ProviderKey) -> WireAnswer {
        let signature_valid = expects_signature(self.status, &self.raw).then(|| {
            match (&self.timestamp, &self.signature) {
                (Some(timestamp), Some(signature)) => signing::verify(
                    &key.secret,
                    &signing::response_canonical(self.status, timestamp, &self.raw),
                    signature,
                ),
                _ => false,
            }
        });
        WireAnswer {
            status: self.status,
            body: serde_json::from_slice(&self.raw).unwrap_or(Value::Null),
            signature_valid,
            retry_after: self.retry_after,
        }
    }
}

fn request_timestamp(tamper: Tamper) -> i64 {
    let now = chrono::Utc::now().timestamp_millis();
    match tamper {
        Tamper::StaleBy(age) => now - i64::try_from(age.as_millis()).unwrap_or(i64::MAX / 2),
        _ => now,
    }
}

/// Every answer to an authenticated request is signed, except the two refusals that
/// happen before the caller is known to hold the key.
fn expects_signature(status: u16, raw: &[u8]) -> bool {
    if status != 401 {
        return true;
    }
    let code = serde_json::from_slice::<Value>(raw)
        .ok()
        .and_then(|body| body["error"]["code"].as_str().map(str::to_owned));
    !matches!(code.as_deref(), Some("INVALID_SIGNATURE" | "STALE_REQUEST"))
}

async fn read(
    response: reqwest::Response,
) -> reqwest::Result<(u16, reqwest::header::HeaderMap, Vec<u8>)> {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let raw = response.bytes().await?.to_vec();
    Ok((status, headers, raw))
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get("Retry-After")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// The operator platform's side of the operator API.
#[derive(Clone)]
pub struct OperatorClient {
    http: reqwest::Client,
    base_url: Arc<str>,
    token: Arc<str>,
}

impl OperatorClient {
    pub fn new(http: reqwest::Client, base_url: &str, token: &str) -> OperatorClient {
        OperatorClient {
            http,
            base_url: Arc::from(base_url.trim_end_matches('/')),
            token: Arc::from(token),
        }
    }

    /// `PUT /operator/v1/providers/{id}` with one key: creates the provider or replaces
    /// its key set.
    pub async fn put_provider(&self, key: &ProviderKey, name: &str) -> reqwest::Result<WireAnswer> {
        let body = serde_json::json!({
            "name": name,
            "keys": [ { "key_id": key.key_id, "secret": key.secret } ],
        });
        let path = format!("/operator/v1/providers/{}", key.provider_id);
        self.request(Method::PUT, &path, Some(&body)).await
    }

    pub async fn put_player(&self, player_id: &str, currency: &str) -> reqwest::Result<WireAnswer> {
        let body = serde_json::json!({ "currency": currency });
        let path = format!("/operator/v1/players/{player_id}");
        self.request(Method::PUT, &path, Some(&body)).await
    }

    pub async fn get_player(&self, player_id: &str) -> reqwest::Result<WireAnswer> {
        let path = format!("/operator/v1/players/{player_id}");
        self.request(Method::GET, &path, None).await
    }

    /// A cashier adjustment; `body` carries `adjustment_id`, `direction`, `amount`,
    /// `reason`.
    pub async fn adjust(&self, player_id: &str, body: &Value) -> reqwest::Result<WireAnswer> {
        let path = format!("/operator/v1/players/{player_id}/adjustments");
        self.request(Method::POST, &path, Some(body)).await
    }

    /// A game session; answers `201 { session_token, expires_at }`.
    pub async fn open_session(
        &self,
        player_id: &str,
        provider_id: &str,
        game_id: &str,
        ttl_seconds: u64,
    ) -> reqwest::Result<WireAnswer> {
        let body = serde_json::json!({
            "player_id": player_id, "provider_id": provider_id,
            "game_id": game_id, "ttl_seconds": ttl_seconds,
        });
        self.request(Method::POST, "/operator/v1/sessions", Some(&body))
            .await
    }

    /// Any operator call: the bearer token, and a JSON body if given.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::Result<WireAnswer> {
        self.request_within(method, path, body, REQUEST_TIMEOUT)
            .await
    }

    /// A request that may take longer than [`REQUEST_TIMEOUT`] (a full reconciliation of
    /// a large database).
    pub async fn request_within(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> reqwest::Result<WireAnswer> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .timeout(timeout)
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let (status, headers, raw) = read(request.send().await?).await?;
        Ok(WireAnswer {
            status,
            body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
            signature_valid: None,
            retry_after: retry_after(&headers),
        })
    }
}
