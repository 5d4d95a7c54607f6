//! Cross-site request forgery defence for the console: state-changing requests must come
//! from the console's own pages.
//!
//! Browsers attach `Origin` to every POST (forms and `fetch` alike) and scripts cannot
//! forge it, so comparing it with the site's own origin refuses what another site makes a
//! browser send. `Referer` stands in when `Origin` is missing; a request with neither is
//! refused, since the console's own pages always send one. `Sec-Fetch-Site: cross-site`
//! is refused too. The session cookie's `SameSite=Lax` is the second wall: browsers do not
//! send it with a cross-site POST in the first place. GET, HEAD and OPTIONS pass, because
//! they change nothing (and links into the console from elsewhere must keep working).
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::client::{request_authority, request_scheme};
use super::Staff;

/// The middleware: 403 with a plain message for a cross-site state-changing request.
pub async fn same_origin(State(staff): State<Staff>, request: Request, next: Next) -> Response {
    let own = request_authority(request.headers(), request.uri()).map(|authority| {
        let scheme = request_scheme(
            request.headers(),
            staff.config.cookie_secure,
            staff.config.trust_proxy,
        );
        format!("{scheme}://{authority}")
    });
    match check(request.method(), request.headers(), own.as_deref()) {
        Ok(()) => next.run(request).await,
        Err(reason) => {
            tracing::warn!(method = %request.method(), uri = %request.uri(), reason, "refused a cross-site request");
            (StatusCode::FORBIDDEN, format!("forbidden: {reason}\n")).into_response()
        }
    }
}

/// Whether a request with these headers may proceed, given the site's own origin
/// (`scheme://host[:port]`, `None` when the request named no host).
pub fn check(
    method: &Method,
    headers: &HeaderMap,
    own_origin: Option<&str>,
) -> Result<(), &'static str> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if header("sec-fetch-site") == Some("cross-site") {
        return Err("the request came from another site");
    }
    let own = own_origin
        .and_then(Origin::parse)
        .ok_or("the request names no host")?;
    let claimed = match (header("origin"), header("referer")) {
        (Some(origin), _) => origin,
        (None, Some(referer)) => referer,
        (None, None) => {
            return Err("a state-changing request must carry an Origin or Referer header")
        }
    };
    match Origin::parse(claimed) {
        Some(origin) if origin == own => Ok(()),
        _ => Err("the request came from another origin"),
    }
}

/// Scheme, host and port: what the browser's same-origin policy compares.
#[derive(Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// Parses `scheme://host[:port]` and ignores any path (so a `Referer` works). `null`,
    /// user-info and unknown schemes give `None`.
    fn parse(text: &str) -> Option<Origin> {
        let (scheme, rest) = text.trim().split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let authority = rest.split(['/', '?', '#']).next()?;
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let (host, port) = split_port(authority)?;
        Some(Origin {
            scheme,
            host: host.to_ascii_lowercase(),
            port: port.unwrap_or(default_port),
        })
    }
}

/// `host:port`, `[v6]:port`, or either without a port.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(end) = authority.rfind(']') {
        let (host, rest) = authority.split_at(end + 1);
        (host, rest.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(text) => Some(text.parse::<u16>().ok()?),
        None => None,
    };
    (!host.is_empty()).then_some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn post(pairs: &[(&'static str, &'static str)]) -> Result<(), &'static str> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        check(&Method::POST, &headers, Some("http://console.test:3000"))
    }

    #[test]
    fn same_origin_posts_pass_and_others_do_not() {
        assert!(post(&[("origin", "http://console.test:3000")]).is_ok());
        assert!(post(&[("origin", "HTTP://Console.Test:3000")]).is_ok());
        assert!(post(&[("referer", "http://console.test:3000/login?next=/")]).is_ok());
        assert!(post(&[("origin", "http://evil.example")]).is_err());
        assert!(post(&[("origin", "http://console.test:3001")]).is_err());
        assert!(post(&[("origin", "https://console.test:3000")]).is_err());
        assert!(post(&[("origin", "null")]).is_err());
        assert!(post(&[("origin", "http://console.test:3000@evil.example")]).is_err());
        assert!(post(&[("referer", "http://evil.example/http://console.test:3000")]).is_err());
        assert!(post(&[]).is_err(), "neither header");
        assert!(post(&[
            ("origin", "http://console.test:3000"),
            ("sec-fetch-site", "cross-site")
        ])
        .is_err());
    }

    #[test]
    fn safe_methods_pass_and_default_ports_compare_equal() {
        assert!(check(&Method::GET, &HeaderMap::new(), None).is_ok());
        let mut headers = HeaderMap::new();
        headers.insert("origin", HeaderValue::from_static("https://console.test"));
        assert!(check(&Method::DELETE, &headers, Some("https://console.test:443")).is_ok());
        headers.insert("origin", HeaderValue::from_static("http://[::1]:3000"));
        assert!(check(&Method::PUT, &headers, Some("http://[::1]:3000")).is_ok());
    }
}
