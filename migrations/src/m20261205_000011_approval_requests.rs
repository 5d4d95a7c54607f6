//! `approval_requests`: the four-eyes queue. A refund above its currency's threshold
//! (`WALLET_REFUND_APPROVAL_ABOVE`) and every role change made in the console wait here
//! until a second person approves or rejects them (docs/SECURITY.md, "Four eyes").
// async_trait cannot take `SchemaManager<'_>` here, the lifetime must stay elided.
#![allow(elided_lifetimes_in_paths)]
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApprovalRequests {
    Table,
    Id,
    Kind,
    Subject,
    Status,
    AmountMinor,
    Currency,
    Summary,
    Details,
    RequestedBy,
    RequestedAt,
    DecidedBy,
    DecidedAt,
    Outcome,
}

const KINDS: [&str; 2] = ["REFUND", "ROLE_CHANGE"];
const STATUSES: [&str; 5] = ["PENDING", "APPROVING", "APPROVED", "REJECTED", "FAILED"];

fn timestamp(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).timestamp_with_time_zone().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApprovalRequests::Table)
                    .col(
                        ColumnDef::new(ApprovalRequests::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ApprovalRequests::Kind)
                            .string()
                            .not_null()
                            .check(Expr::col(ApprovalRequests::Kind).is_in(KINDS)),
                    )
                    // The finding a refund settles, or the user whose role changes.
                    .col(
                        ColumnDef::new(ApprovalRequests::Subject)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ApprovalRequests::Status)
                            .string()
                            .not_null()
                            .check(Expr::col(ApprovalRequests::Status).is_in(STATUSES)),
                    )
                    .col(
                        ColumnDef::new(ApprovalRequests::AmountMinor)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(ApprovalRequests::Currency).string().null())
                    // What is asked, as the queue shows it.
                    .col(ColumnDef::new(ApprovalRequests::Summary).text().not_null())
                    // A JSON object: the reason, the role asked for.
                    .col(ColumnDef::new(ApprovalRequests::Details).text().not_null())
                    .col(
                        ColumnDef::new(ApprovalRequests::RequestedBy)
                            .string()
                            .not_null(),
                    )
                    .col(timestamp(ApprovalRequests::RequestedAt).not_null())
                    .col(ColumnDef::new(ApprovalRequests::DecidedBy).string().null())
                    .col(timestamp(ApprovalRequests::DecidedAt).null())
                    .col(ColumnDef::new(ApprovalRequests::Outcome).text().null())
                    .to_owned(),
            )
            .await?;
        // The queue page and the metric read the open requests; one open request per
        // subject, so a second click asks nothing new (plain SQL: a partial index).
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX idx_approval_requests_status ON approval_requests (status, id)",
        )
        .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX idx_approval_requests_open_subject \
             ON approval_requests (kind, subject) WHERE status IN ('PENDING', 'APPROVING')",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApprovalRequests::Table).to_owned())
            .await
    }
}
