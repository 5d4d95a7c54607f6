//! Refunding an orphan debit: the operator API's refund endpoint and the console's refund
//! button both come here, so both move money through the same exactly-once path.
use crate::db::entities::wallet_transaction as wtx;
use crate::db::Store;
use crate::domain::{CurrencyTable, ProviderId};
use crate::error::ServiceError;
use crate::idempotency::{Answer, KeyedRequest};
use crate::money::{self, Operation};
use crate::wallet::operations::{RequestContext, Rollback, StaffAction};

/// What a refund request names, already validated.
pub struct RefundOrder<'a> {
    pub bet: &'a wtx::Model,
    /// Makes the refund idempotent: the same id refunds once, whoever sends it again.
    pub refund_id: &'a str,
    pub staff: StaffAction,
    /// Stored as the refund's request body, as the provider API stores its bodies.
    pub raw_body: &'a [u8],
    pub request_id: String,
}

/// The refund's answer, and the key it was made under.
pub struct Refunded {
    pub answer: Result<Answer, ServiceError>,
    pub keyed: KeyedRequest,
}

/// Rolls `order.bet` back in its provider's key space, once.
pub async fn refund_bet(
    store: &Store,
    currencies: &std::sync::Arc<CurrencyTable>,
    provider_id: ProviderId,
    order: RefundOrder<'_>,
) -> Result<Refunded, crate::error::ApiError> {
    let ctx = RequestContext {
        provider_id,
        currencies: currencies.clone(),
        request_id: order.request_id,
    };
    let operation =
        Rollback::by_operator(order.bet, order.refund_id, order.staff, order.raw_body, ctx)?;
    let keyed = operation.keyed().clone();
    let answer = money::execute(store, currencies, std::sync::Arc::new(operation), None).await;
    Ok(Refunded { answer, keyed })
}
