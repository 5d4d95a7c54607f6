//! The web UI's server side: renders the Leptos app and serves its browser bundle.
//!
//! `scripts/build-site.sh` writes the bundle under `<site_root>/pkg`: the files are named
//! after a hash of their content (`oncewallet-<hash>.js`, `.wasm`, `.css`, each also
//! precompressed as `.br` and `.gz`), and `pkg/bundle` names the current stem. Hashed
//! names never change content, so browsers keep them for a year without asking again;
//! the pages themselves are always revalidated and point at the current names. Without
//! a bundle the pages still render (API-only deployments and tests need no assets); they
//! just never hydrate.
use std::path::Path;

use axum::http::{header, HeaderValue, Response, StatusCode};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::services::ServeDir;

/// Where `scripts/build-site.sh` puts the bundle unless `LEPTOS_SITE_ROOT` says otherwise.
pub const DEFAULT_SITE_ROOT: &str = "target/site";
/// The bundle's name without a hash: what a site built without `pkg/bundle` uses.
pub const OUTPUT_NAME: &str = "oncewallet";
/// The bundle's folder under the site root, and its URL path.
const PKG_DIR: &str = "pkg";
/// The file in `pkg/` that names the current bundle's stem, e.g. `oncewallet-1a2b3c4d5e`.
const BUNDLE_FILE: &str = "bundle";
/// For content-hashed files: never changes, so never ask again.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The Leptos pages, their server functions and `/pkg/*`. `context` runs for every
/// request and provides what the server functions need (the dashboard's console).
pub fn router(site_root: &Path, context: impl Fn() + Clone + Send + Sync + 'static) -> Router {
    let stem = bundle_stem(site_root);
    let options = leptos_options(site_root, &stem);
    let routes = generate_route_list(app::App);
    let files = Router::new()
        .fallback_service(
            ServeDir::new(site_root.join(PKG_DIR))
                .precompressed_br()
                .precompressed_gzip(),
        )
        .layer(axum::middleware::from_fn(cache_headers));
    Router::<LeptosOptions>::new()
        .leptos_routes_with_context(&options, routes, context, {
            let options = options.clone();
            move || app::shell(options.clone())
        })
        .nest_service(&format!("/{PKG_DIR}"), files)
        .with_state(options)
}

/// The current bundle's stem from `pkg/bundle`, or the plain name when there is none. A
/// stem whose files are missing is said in the log: the pages would never hydrate.
fn bundle_stem(site_root: &Path) -> String {
    let pkg = site_root.join(PKG_DIR);
    let named = std::fs::read_to_string(pkg.join(BUNDLE_FILE))
        .ok()
        .map(|text| text.trim().to_owned())
        .filter(|stem| is_hashed(stem));
    let stem = named.unwrap_or_else(|| OUTPUT_NAME.to_owned());
    let missing: Vec<String> = ["js", "wasm", "css"]
        .iter()
        .map(|ext| format!("{stem}.{ext}"))
        .filter(|file| !pkg.join(file).is_file())
        .collect();
    if !missing.is_empty() {
        tracing::warn!(
            site_root = %site_root.display(),
            ?missing,
            "the console's browser bundle is missing: pages render but never become \
             interactive; run scripts/build-site.sh"
        );
    }
    stem
}

/// `oncewallet-<hex>`: a name `scripts/build-site.sh` gave after the content.
fn is_hashed(name: &str) -> bool {
    name.strip_prefix(OUTPUT_NAME)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hash| !hash.is_empty() && hash.chars().all(|c| c.is_ascii_hexdigit()))
}

fn leptos_options(site_root: &Path, stem: &str) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(stem)
        .site_root(site_root.to_string_lossy().as_ref())
        .site_pkg_dir(PKG_DIR)
        .build()
}

/// Files named after their content are kept for a year; anything else (`bundle`, a
/// bundle built without hashes, an error) must be revalidated every time, or a rebuilt
/// server would meet a stale wasm that cannot hydrate its HTML. Every answer varies with
/// `Accept-Encoding`, since the same URL is sent as brotli, gzip or plain: a shared cache
/// must not hand one client's encoding to another.
async fn cache_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response<axum::body::Body> {
    let file = request.uri().path().rsplit('/').next().unwrap_or_default();
    let hashed = file
        .split_once('.')
        .is_some_and(|(stem, _)| is_hashed(stem));
    let mut response = next.run(request).await;
    let kept = response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED;
    let value = if hashed && kept {
        IMMUTABLE
    } else {
        "no-cache"
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

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
    async fn a_hashed_bundle_is_named_in_the_page_kept_for_a_year_and_served_compressed() {
        let site_root = scratch_dir("hashed");
        let pkg = site_root.join(PKG_DIR);
        std::fs::create_dir_all(&pkg).expect("pkg dir");
        std::fs::write(pkg.join("bundle"), "oncewallet-0123abcd\n").expect("manifest");
        std::fs::write(pkg.join("oncewallet-0123abcd.css"), "body{}").expect("css");
        std::fs::write(pkg.join("oncewallet-0123abcd.css.br"), "brotli").expect("br");

        let (_, html) = get(router(&site_root, || {}), "/login").await;
        assert!(html.contains("/pkg/oncewallet-0123abcd.js"), "{html}");
        assert!(html.contains("/pkg/oncewallet-0123abcd.wasm"), "{html}");
        assert!(html.contains("/pkg/oncewallet-0123abcd.css"), "{html}");

        let request = Request::get("/pkg/oncewallet-0123abcd.css")
            .header(header::ACCEPT_ENCODING, "gzip, br")
            .body(Body::empty())
            .expect("request");
        let response = router(&site_root, || {})
            .oneshot(request)
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(response.headers()[header::CACHE_CONTROL], IMMUTABLE);
        assert_eq!(response.headers()[header::VARY], "accept-encoding");
        let (manifest, _) = get(router(&site_root, || {}), "/pkg/bundle").await;
        assert_eq!(manifest.headers()[header::CACHE_CONTROL], "no-cache");
        let (_, plain) = get(router(&site_root, || {}), "/pkg/oncewallet-0123abcd.css").await;
        assert_eq!(plain, "body{}", "no Accept-Encoding, no compression");
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
