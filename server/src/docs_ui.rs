//! Swagger UI for the API description at `/api-docs/openapi.json`.
//!
//! The UI is vendored (swagger-ui-dist 5.35.0 from npm, under `server/assets/swagger-ui/`
//! with its LICENSE and NOTICE) and compiled into the binary, so the page works
//! offline and makes no request that leaves the server. Its assets are compressed as
//! they are sent (`crate::http::compression`), once per browser since they are cached
//! for a year.
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const BUNDLE_JS: &str = include_str!("../assets/swagger-ui/swagger-ui-bundle.js");
const UI_CSS: &str = include_str!("../assets/swagger-ui/swagger-ui.css");

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

async fn bundle_js() -> Response {
    asset("text/javascript; charset=utf-8", BUNDLE_JS)
}

async fn ui_css() -> Response {
    asset("text/css; charset=utf-8", UI_CSS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(ASSET_CACHE)),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt as _;

    async fn get(uri: &str) -> (StatusCode, axum::http::HeaderMap, String) {
        let request = Request::get(uri).body(Body::empty()).expect("request");
        let response = router().oneshot(request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 8 << 20).await.expect("body");
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
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
}
