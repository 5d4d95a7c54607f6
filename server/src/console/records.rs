//! Single records the console's actions start from: a staff user, an approval request, the
//! bet a finding names.
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::db::entities::{approval_request, staff_user, wallet_transaction as wtx};

pub async fn staff_user(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Option<staff_user::Model>, DbErr> {
    staff_user::Entity::find_by_id(user_id).one(db).await
}

pub async fn approval_request(
    db: &impl ConnectionTrait,
    request_id: i64,
) -> Result<Option<approval_request::Model>, DbErr> {
    approval_request::Entity::find_by_id(request_id)
        .one(db)
        .await
}

/// The bet `bet_id` in `scope`'s key space (a provider's, or the operator's).
pub async fn bet(
    db: &impl ConnectionTrait,
    scope: &str,
    bet_id: &str,
) -> Result<Option<wtx::Model>, DbErr> {
    wtx::Entity::find()
        .filter(wtx::Column::Scope.eq(scope))
        .filter(wtx::Column::TransactionId.eq(bet_id))
        .filter(wtx::Column::Op.eq("BET"))
        .one(db)
        .await
}
