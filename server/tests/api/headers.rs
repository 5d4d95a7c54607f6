//! The console's security headers over HTTP: every console answer, whatever it is (page,
//! redirect, server function, download, refusal, bundle file), says it must not be framed,
//! must not be sniffed, leaks no referrer to other sites, and carries a Content Security
//! Policy; pages carry one with a fresh nonce per response, and only `https` deployments
//! (`WALLET_COOKIE_SECURE=1`) pin the browser to HTTPS.
use reqwest::header::{HeaderMap, ORIGIN};
use reqwest::Method;

use crate::helpers::*;

fn assert_console_headers(headers: &HeaderMap, what: &str) -> String {
    let value = |name: &str| {
        headers
            .get(name)
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_str()
            .expect("ascii")
            .to_owned()
    };
    assert_eq!(value("x-frame-options"), "DENY", "{what}");
    assert_eq!(value("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(value("referrer-policy"), "same-origin", "{what}");
    let policy = value("content-security-policy");
    assert!(
        policy.contains("frame-ancestors 'none'"),
        "{what}: {policy}"
    );
    assert!(
        !policy.contains("script-src 'unsafe-inline'"),
        "{what}: {policy}"
    );
    policy
}

#[tokio::test]
async fn every_console_answer_carries_the_security_headers() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let requests = [
        (Method::GET, "/login"),
        (Method::GET, "/"),
        (Method::GET, "/tx/anything"),
        (Method::GET, "/account"),
        (Method::POST, "/api/current_viewer"),
        (Method::POST, "/api/list_users"),
        (Method::POST, "/api/no_such_function"),
        (Method::GET, "/console/audit.csv"),
        (Method::GET, "/auth/session"),
        (Method::POST, "/auth/logout"),
        (Method::GET, "/pkg/oncewallet-0000000000000000.wasm"),
    ];
    for (method, path) in requests {
        let response = client
            .request(method.clone(), format!("{}{path}", app.base_url))
            .header(ORIGIN, &app.base_url)
            .send()
            .await
            .expect("an answer");
        let what = format!("{method} {path} ({})", response.status());
        assert_console_headers(response.headers(), &what);
        assert!(
            response
                .headers()
                .get("strict-transport-security")
                .is_none(),
            "{what}: no HSTS over plain http"
        );
    }

    // Pages: the policy allows scripts by a nonce that changes with every response.
    let nonce = |policy: &str| {
        policy
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no nonce in {policy}"))
    };
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let response = client
            .get(format!("{}/login", app.base_url))
            .send()
            .await
            .expect("the sign-in page");
        let policy = assert_console_headers(response.headers(), "GET /login");
        let nonce = nonce(&policy);
        let html = response.text().await.expect("html");
        assert!(
            html.contains(&format!(r#"<script type="module" nonce="{nonce}">"#)),
            "the hydration script carries the response's nonce"
        );
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "a nonce is used once");
}

#[tokio::test]
async fn https_deployments_pin_the_browser_to_https() {
    let database = crate::node::TestDatabase::fresh().await;
    let mut node = crate::node::Node::start(&database.url, &[("WALLET_COOKIE_SECURE", "1")]).await;
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{}/login", node.base_url))
        .send()
        .await
        .expect("the sign-in page");
    assert_console_headers(response.headers(), "GET /login");
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    // Signing in sets the session cookie under the `__Host-` prefix, `Secure`.
    let signed_in = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(format!("{}/auth/login", node.base_url))
        .header(ORIGIN, node.base_url.replace("http://", "https://"))
        .form(&[
            ("username", "admin"),
            ("password", crate::node::ADMIN_PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .expect("sign in");
    let cookie = signed_in
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_else(|| panic!("no cookie: {}", signed_in.status()));
    assert!(
        cookie.starts_with(&format!("{}=", server::staff::SECURE_SESSION_COOKIE)),
        "{cookie}"
    );
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    node.terminate().await;
}

/// `WALLET_METRICS_TOKEN`: `/metrics` answers only a scraper with the token; the health
/// checks stay open.
#[tokio::test]
async fn metrics_refuse_a_scraper_without_the_token() {
    let database = crate::node::TestDatabase::fresh().await;
    let token = "a-scrapers-token-of-some-length";
    let mut node =
        crate::node::Node::start(&database.url, &[("WALLET_METRICS_TOKEN", token)]).await;
    let client = reqwest::Client::new();
    let metrics = format!("{}/metrics", node.base_url);
    let bare = client.get(&metrics).send().await.expect("an answer");
    assert_eq!(bare.status(), 401);
    assert!(bare.headers().contains_key("www-authenticate"));
    let wrong = client
        .get(&metrics)
        .bearer_auth("a-scrapers-token-of-some-lengtH")
        .send()
        .await
        .expect("an answer");
    assert_eq!(wrong.status(), 401);
    let right = client
        .get(&metrics)
        .bearer_auth(token)
        .send()
        .await
        .expect("an answer");
    assert_eq!(right.status(), 200);
    // A fresh process may have counted nothing yet: the answer is the exposition format,
    // possibly empty.
    assert!(right.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/plain; version=0.0.4"));
    let health = client
        .get(format!("{}/healthz", node.base_url))
        .send()
        .await
        .expect("an answer");
    assert_eq!(health.status(), 200);
    node.terminate().await;
}
