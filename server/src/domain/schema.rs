//! How the contract's primitive values appear in the OpenAPI document (`crate::http::openapi`):
//! the wire types of every API name these instead of `String` where the value is an id or
//! a currency code.
use serde_json::json;
use utoipa::openapi::RefOr;

/// Identifiers of the contract: transaction, player, round, game, provider and key ids
/// (`crate::domain::ids`).
pub const ID_PATTERN: &str = "^[A-Za-z0-9._:-]{1,128}$";

/// An identifier: 1–128 characters of `[A-Za-z0-9._:-]`.
pub struct Id;

impl utoipa::PartialSchema for Id {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .pattern(Some(ID_PATTERN))
            .min_length(Some(1))
            .max_length(Some(128))
            .description(Some("1–128 characters of [A-Za-z0-9._:-]"))
            .examples([json!("tx-1001")])
            .into()
    }
}

impl utoipa::ToSchema for Id {}

/// A currency code the wallet accepts; the document lists this server's table.
pub struct CurrencyCode;

impl utoipa::PartialSchema for CurrencyCode {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        // Replaced by `currency_schemas` with the server's own table.
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .into()
    }
}

impl utoipa::ToSchema for CurrencyCode {}
