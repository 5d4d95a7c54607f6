//! Placeholder until the site helper lands its module.
pub fn router(_site_root: &std::path::Path) -> axum::Router {
    axum::Router::new()
}
