//! Swagger UI for the API description at `/api-docs/openapi.json`.
//!
//! The UI is vendored (swagger-ui-dist 5.35.0 from npm, under `server/assets/swagger-ui/`
//! with its LICENSE and NOTICE) and compiled into the binary, so the page works
//! offline and makes no request that leaves the server. Its assets are compressed at
//! build time (`server/build.rs`) and sent in the encoding the browser accepts; the page
//! itself is compressed as it is sent (`crate::http::compression`).
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// One vendored file in the three encodings a browser may take.
struct Asset {
    content_type: &'static str,
    plain: &'static [u8],
    brotli: &'static [u8],
    gzip: &'static [u8],
}

const BUNDLE_JS: Asset = Asset {
    content_type: "text/javascript; charset=utf-8",
    plain: include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js"),
    brotli: include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui-bundle.js.br")),
    gzip: include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui-bundle.js.gz")),
};

const UI_CSS: Asset = Asset {
    content_type: "text/css; charset=utf-8",
    plain: include_bytes!("../assets/swagger-ui/swagger-ui.css"),
    brotli: include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui.css.br")),
    gzip: include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui.css.gz")),
};

/// The asset URLs carry Swagger UI's version, and a vendored version never changes: kept
/// for a year. Upgrading Swagger UI changes the version in the URLs.
const ASSET_CACHE: &str = "public, max-age=31536000, immutable";

/// Everything the page may load comes from this server. Swagger UI sets inline styles
/// and data: images, and the start-up script below is inline.
const PAGE_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'";

/// `validatorUrl: null` keeps Swagger UI from sending the spec to swagger.io's
/// online validator.
const PAGE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>oncewallet API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/api-docs/assets/5.35.0/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api-docs/assets/5.35.0/swagger-ui-bundle.js"></script>
<script>
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api-docs/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
  });
});
</script>
</body>
</html>
"##;

/// `GET /api-docs` and its two assets. Stateless, so the top level merges it as it is.
pub fn router() -> Router {
    Router::new()
        .route("/api-docs", get(page))
        .route(
            "/api-docs/assets/5.35.0/swagger-ui-bundle.js",
            get(bundle_js),
        )
        .route("/api-docs/assets/5.35.0/swagger-ui.css", get(ui_css))
        .layer(crate::http::compression())
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
        ],
        PAGE,
    )
        .into_response()
}

async fn bundle_js(request: HeaderMap) -> Response {
    send(&BUNDLE_JS, &request)
}

async fn ui_css(request: HeaderMap) -> Response {
    send(&UI_CSS, &request)
}

/// The smallest copy the browser accepts. A response that already names its
/// `Content-Encoding` passes the compression layer untouched.
fn send(asset: &Asset, request: &HeaderMap) -> Response {
    let accepts = |coding| accepts_encoding(request, coding);
    let (encoding, body) = if accepts("br") {
        (Some("br"), asset.brotli)
    } else if accepts("gzip") {
        (Some("gzip"), asset.gzip)
    } else {
        (None, asset.plain)
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(ASSET_CACHE));
    // The same URL answers in three encodings: a shared cache must key on the header.
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(encoding) = encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    response
}

/// Whether `Accept-Encoding` lists `coding` (or `*`) with a non-zero weight.
fn accepts_encoding(request: &HeaderMap, coding: &str) -> bool {
    request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';');
            let name = parts.next()?.trim();
            let weight = parts
                .filter_map(|param| param.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            Some((name, weight))
        })
        .any(|(name, weight)| (name.eq_ignore_ascii_case(coding) || name == "*") && weight > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt as _;

    async fn get(uri: &str) -> (StatusCode, HeaderMap, String) {
        let (status, headers, bytes) = get_encoded(uri, None).await;
        (
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    async fn get_encoded(
        uri: &str,
        accept_encoding: Option<&str>,
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = Request::get(uri);
        if let Some(accept) = accept_encoding {
            request = request.header(header::ACCEPT_ENCODING, accept);
        }
        let request = request.body(Body::empty()).expect("request");
        let response = router().oneshot(request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 8 << 20).await.expect("body");
        (parts.status, parts.headers, bytes.to_vec())
    }

    #[tokio::test]
    async fn the_page_loads_only_local_assets_and_the_local_spec() {
        let (status, headers, html) = get("/api-docs").await;

        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(html.contains(r#"src="/api-docs/assets/5.35.0/swagger-ui-bundle.js""#));
        assert!(html.contains(r#"href="/api-docs/assets/5.35.0/swagger-ui.css""#));
        assert!(html.contains(r#"url: "/api-docs/openapi.json""#));
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{html}"
        );
        assert!(headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii")
            .starts_with("default-src 'self'"));
    }

    #[tokio::test]
    async fn the_assets_are_served_with_their_types_and_cached() {
        for (uri, content_type, marker) in [
            (
                "/api-docs/assets/5.35.0/swagger-ui-bundle.js",
                "text/javascript; charset=utf-8",
                "SwaggerUIBundle",
            ),
            (
                "/api-docs/assets/5.35.0/swagger-ui.css",
                "text/css; charset=utf-8",
                ".swagger-ui",
            ),
        ] {
            let (status, headers, body) = get(uri).await;

            assert_eq!(status, StatusCode::OK, "{uri}");
            assert_eq!(headers[header::CONTENT_TYPE], content_type, "{uri}");
            assert_eq!(headers[header::CACHE_CONTROL], ASSET_CACHE, "{uri}");
            assert!(body.contains(marker), "{uri}");
        }
    }

    #[tokio::test]
    async fn the_assets_are_sent_precompressed_in_the_encoding_the_browser_accepts() {
        let uri = "/api-docs/assets/5.35.0/swagger-ui-bundle.js";
        let plain = BUNDLE_JS.plain;
        let cases = [
            ("gzip, deflate, br, zstd", Some("br")),
            ("gzip;q=1.0, br;q=0", Some("gzip")),
            ("gzip", Some("gzip")),
            ("*", Some("br")),
            ("identity", None),
        ];
        for (accept, expected) in cases {
            let (status, headers, body) = get_encoded(uri, Some(accept)).await;

            assert_eq!(status, StatusCode::OK, "{accept}");
            assert_eq!(headers[header::VARY], "accept-encoding", "{accept}");
            let encoding = headers
                .get(header::CONTENT_ENCODING)
                .map(|value| value.to_str().expect("ascii"));
            assert_eq!(encoding, expected, "{accept}");
            let decoded = match encoding {
                Some("br") => {
                    let mut out = Vec::new();
                    brotli::BrotliDecompress(&mut &body[..], &mut out).expect("brotli");
                    out
                }
                Some("gzip") => {
                    let mut out = Vec::new();
                    let mut decoder = flate2::read::GzDecoder::new(&body[..]);
                    std::io::Read::read_to_end(&mut decoder, &mut out).expect("gzip");
                    out
                }
                _ => body.clone(),
            };
            assert!(
                decoded == plain,
                "{accept}: the body decodes to the vendored file"
            );
            if encoding.is_some() {
                assert!(
                    body.len() * 3 < plain.len(),
                    "{accept}: {} bytes",
                    body.len()
                );
            }
        }
    }
}
