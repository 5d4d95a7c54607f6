//! The OpenAPI document, generated from the handlers and wire types, served at
//! `/api-docs/openapi.json` (the browsable UI is in `docs_ui`).
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "oncewallet",
        description = "A casino wallet whose money operations count exactly once, however often they are retried. \
            Provider API requests are signed with HMAC-SHA256 (see docs/API.md); the operator API takes a bearer token."
    ),
    modifiers(&Security),
    tags((name = "wallet", description = "Provider API: balance, bet, win, rollback, round close"),
         (name = "operator", description = "Operator API: providers, players, adjustments, sessions"))
)]
struct Root;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Wallet-Signature",
                "v1=<hex HMAC-SHA256> with X-Wallet-Key-Id and X-Wallet-Timestamp",
            ))),
        );
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Root::openapi();
    doc.merge(crate::wallet::ApiDoc::openapi());
    doc.merge(crate::operator::ApiDoc::openapi());
    doc.merge(crate::reconcile::ApiDoc::openapi());
    doc
}

pub fn router() -> Router<AppState> {
    let doc = document();
    Router::new()
        .route(
            "/api-docs/openapi.json",
            get(move || async move { Json(doc) }),
        )
        .layer(crate::http::compression())
}
