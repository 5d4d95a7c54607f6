//! Placeholder until the site helper lands its module.
pub fn router() -> axum::Router {
    axum::Router::new()
}
