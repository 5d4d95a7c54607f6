//! The paginated lists only the console needs: players, a player's history, the audit
//! log, and the finding kinds seen so far.
use app::model::{AuditFilter, AuditPage, PlayerDetail, PlayerList};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select,
};

use super::rows::{audit_row, player_row, transaction_row};
use crate::db::entities::{discrepancy, player, staff_audit, wallet_transaction as wtx};
use crate::domain::CurrencyTable;

pub const PAGE_SIZE: u64 = 50;

pub async fn players(
    db: &impl ConnectionTrait,
    currencies: &CurrencyTable,
    query: String,
    page: u64,
) -> Result<PlayerList, DbErr> {
    let mut select = player::Entity::find();
    let prefix = query.trim();
    if !prefix.is_empty() {
        select = select.filter(player::Column::Id.starts_with(prefix));
    }
    let total = select.clone().count(db).await?;
    let rows = select
        .order_by_asc(player::Column::Id)
        .offset(page.saturating_mul(PAGE_SIZE))
        .limit(PAGE_SIZE)
        .all(db)
        .await?;
    Ok(PlayerList {
        query: prefix.to_owned(),
        rows: rows
            .iter()
            .map(|p| player_row(currencies, p))
            .collect::<Result<_, _>>()?,
        page,
        page_size: PAGE_SIZE,
        total,
    })
}

/// `None` when no player has the id.
pub async fn player(
    db: &impl ConnectionTrait,
    currencies: &CurrencyTable,
    player_id: &str,
    page: u64,
) -> Result<Option<PlayerDetail>, DbErr> {
    let Some(found) = player::Entity::find_by_id(player_id).one(db).await? else {
        return Ok(None);
    };
    let history = wtx::Entity::find().filter(wtx::Column::PlayerId.eq(player_id));
    let total = history.clone().count(db).await?;
    let rows = history
        .order_by_desc(wtx::Column::Id)
        .offset(page.saturating_mul(PAGE_SIZE))
        .limit(PAGE_SIZE)
        .all(db)
        .await?;
    Ok(Some(PlayerDetail {
        player: player_row(currencies, &found)?,
        history: rows
            .iter()
            .map(|row| transaction_row(currencies, row))
            .collect(),
        page,
        page_size: PAGE_SIZE,
        total,
    }))
}

pub async fn audit(
    db: &impl ConnectionTrait,
    filter: AuditFilter,
    page: u64,
) -> Result<AuditPage, DbErr> {
    let select = audit_select(&filter);
    let total = select.clone().count(db).await?;
    let rows = select
        .order_by_desc(staff_audit::Column::Id)
        .offset(page.saturating_mul(PAGE_SIZE))
        .limit(PAGE_SIZE)
        .all(db)
        .await?;
    Ok(AuditPage {
        rows: rows.iter().map(audit_row).collect(),
        page,
        page_size: PAGE_SIZE,
        total,
    })
}

/// The audit entries the filter matches, unordered: the page and the export share it.
pub fn audit_select(filter: &AuditFilter) -> Select<staff_audit::Entity> {
    let mut select = staff_audit::Entity::find();
    if !filter.actor.trim().is_empty() {
        select = select.filter(staff_audit::Column::Actor.eq(filter.actor.trim()));
    }
    if !filter.action.trim().is_empty() {
        select = select.filter(staff_audit::Column::Action.starts_with(filter.action.trim()));
    }
    let subject = filter.subject.trim();
    if !subject.is_empty() {
        // Transactions are audited as `<provider>/<id>`: the bare id finds them too.
        select = select.filter(
            Condition::any()
                .add(staff_audit::Column::SubjectId.eq(subject))
                .add(staff_audit::Column::SubjectId.ends_with(format!("/{subject}"))),
        );
    }
    select
}

/// Every kind of finding recorded so far, for the filter.
pub async fn finding_kinds(db: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    discrepancy::Entity::find()
        .select_only()
        .column(discrepancy::Column::Kind)
        .distinct()
        .order_by_asc(discrepancy::Column::Kind)
        .into_tuple::<String>()
        .all(db)
        .await
}
