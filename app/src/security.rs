//! The console's Content Security Policy, in one place: the pages' (with the nonce of the
//! response, which Leptos also puts on its inline scripts) and every other console
//! answer's (server functions, downloads), which loads nothing. `docs/SECURITY.md` says
//! what each part prevents.

/// The policy of a page whose inline scripts carry `nonce`: scripts only from this server
/// or with the nonce (no `unsafe-inline`), the wasm compiled from this server's bundle,
/// styles from this server plus the inline `style` attributes the views set, no plugins,
/// forms only to this server, and never inside a frame.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The policy of a console answer that is not a page: it may load nothing at all.
pub const RESOURCE_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// During server rendering, sets the page's policy on the response; does nothing in the
/// browser.
pub fn set_page_policy() {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
    ) {
        if let Ok(value) = http::HeaderValue::from_str(&page_policy(&nonce)) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
}
