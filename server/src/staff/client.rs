//! Who is on the other end of a request: the client's address and the site's own origin,
//! believing proxy headers only when `WALLET_TRUST_PROXY=1`.
use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Uri};

use super::Staff;

/// The client's IP address as text (`unknown` when the server was started without
/// connection info, as in router unit tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddr(pub String);

impl FromRequestParts<Staff> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, staff: &Staff) -> Result<Self, Infallible> {
        let socket = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        Ok(ClientAddr(client_addr(
            &parts.headers,
            socket,
            staff.config.trust_proxy,
        )))
    }
}

/// Behind one trusted proxy, the client is the last `X-Forwarded-For` entry: the one
/// that proxy appended. Entries further left were written by the client and prove nothing.
pub fn client_addr(headers: &HeaderMap, socket: Option<String>, trust_proxy: bool) -> String {
    let forwarded = trust_proxy
        .then(|| last_list_value(headers, "x-forwarded-for"))
        .flatten();
    forwarded.or(socket).unwrap_or_else(|| "unknown".to_owned())
}

/// The scheme the browser used: `X-Forwarded-Proto` from a trusted proxy, else `https`
/// when the cookie is `Secure`, else `http`.
pub fn request_scheme(headers: &HeaderMap, cookie_secure: bool, trust_proxy: bool) -> String {
    let forwarded = trust_proxy
        .then(|| last_list_value(headers, "x-forwarded-proto"))
        .flatten();
    match forwarded {
        Some(scheme) => scheme.to_ascii_lowercase(),
        None if cookie_secure => "https".to_owned(),
        None => "http".to_owned(),
    }
}

/// `host[:port]` the request was sent to: the `Host` header (HTTP/1.1) or the URI's
/// authority (HTTP/2).
pub fn request_authority(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.as_str().to_owned()))
}

fn last_list_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|list| list.split(','))
        .map(str::trim)
        .rfind(|item| !item.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn forwarded_headers_count_only_behind_a_trusted_proxy() {
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6, 10.0.0.7"),
            ("x-forwarded-proto", "https"),
        ]);
        let socket = Some("127.0.0.1".to_owned());
        assert_eq!(client_addr(&h, socket.clone(), false), "127.0.0.1");
        assert_eq!(client_addr(&h, socket, true), "10.0.0.7");
        assert_eq!(request_scheme(&h, false, false), "http");
        assert_eq!(request_scheme(&h, false, true), "https");
        assert_eq!(request_scheme(&HeaderMap::new(), true, true), "https");
    }
}
