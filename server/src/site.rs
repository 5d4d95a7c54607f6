//! The web UI's server side: renders the Leptos app and serves its browser bundle.
//!
//! `scripts/build-site.sh` writes the bundle under `<site_root>/pkg`. Without it the
//! pages still render (API-only deployments and tests need no assets); they just never
//! hydrate.
use std::path::Path;

use axum::http::{header, HeaderValue, Response};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// Where `scripts/build-site.sh` puts the bundle unless `LEPTOS_SITE_ROOT` says otherwise.
pub const DEFAULT_SITE_ROOT: &str = "target/site";
/// The bundle's file names: `oncewallet.js`, `oncewallet.wasm`, `oncewallet.css`.
pub const OUTPUT_NAME: &str = "oncewallet";
/// The bundle's folder under the site root, and its URL path.
const PKG_DIR: &str = "pkg";

/// The Leptos pages, their server functions and `/pkg/*`. `context` runs for every
/// request and provides what the server functions need (the dashboard's console).
pub fn router(site_root: &Path, context: impl Fn() + Clone + Send + Sync + 'static) -> Router {
    let options = leptos_options(site_root);
    let routes = generate_route_list(app::App);
    Router::<LeptosOptions>::new()
        .leptos_routes_with_context(&options, routes, context, {
            let options = options.clone();
            move || app::shell(options.clone())
        })
        .nest_service(
            &format!("/{PKG_DIR}"),
            ServiceExt::<axum::extract::Request>::map_response(
                ServeDir::new(site_root.join(PKG_DIR)),
                revalidate,
            ),
        )
        .with_state(options)
}

fn leptos_options(site_root: &Path) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(OUTPUT_NAME)
        .site_root(site_root.to_string_lossy().as_ref())
        .site_pkg_dir(PKG_DIR)
        .build()
}

/// The bundle's file names carry no content hash, so browsers must revalidate every
/// time, or a rebuilt server would meet a stale wasm that cannot hydrate its HTML.
fn revalidate<B>(mut response: Response<B>) -> Response<B> {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};

    async fn get(router: Router, uri: &str) -> (Response<Body>, String) {
        let request = Request::get(uri).body(Body::empty()).expect("request");
        let response = router.oneshot(request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.expect("body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        (Response::from_parts(parts, Body::empty()), text)
    }

    /// A fresh folder under the system temp dir; the tests run in parallel.
    fn scratch_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "oncewallet-site-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    #[tokio::test]
    async fn the_sign_in_page_renders_without_any_built_assets() {
        let site_root = scratch_dir("empty");
        let (response, html) = get(router(&site_root, || {}), "/login").await;

        assert_eq!(response.status(), StatusCode::OK);
        assert!(html.contains("<h1>Sign in</h1>"), "{html}");
        assert!(html.contains(r#"action="/auth/login""#), "{html}");
        assert!(
            html.contains("/pkg/oncewallet.js"),
            "hydration script: {html}"
        );
        assert!(html.contains("/pkg/oncewallet.css"), "stylesheet: {html}");
        std::fs::remove_dir_all(site_root).ok();
    }

    #[tokio::test]
    async fn the_bundle_is_served_from_the_site_root_and_revalidated() {
        let site_root = scratch_dir("pkg");
        std::fs::create_dir_all(site_root.join(PKG_DIR)).expect("pkg dir");
        std::fs::write(site_root.join("pkg/oncewallet.css"), "body{}").expect("css");

        let (response, css) = get(router(&site_root, || {}), "/pkg/oncewallet.css").await;

        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(css, "body{}");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/css");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-cache");
        std::fs::remove_dir_all(site_root).ok();
    }

    #[tokio::test]
    async fn a_missing_bundle_file_is_a_404() {
        let site_root = scratch_dir("missing");
        let (response, _) = get(router(&site_root, || {}), "/pkg/oncewallet.wasm").await;

        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        std::fs::remove_dir_all(site_root).ok();
    }
}
