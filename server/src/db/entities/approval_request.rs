use sea_orm::entity::prelude::*;

/// A change that waits for a second person: a refund above its currency's threshold or a
/// role change. `status` is `PENDING`, `APPROVING` (an approval is executing it),
/// `APPROVED`, `REJECTED` or `FAILED` (approved, but the change was refused).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "approval_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `REFUND` or `ROLE_CHANGE`.
    pub kind: String,
    /// The finding id of a refund, the user id of a role change.
    pub subject: String,
    pub status: String,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    /// A JSON object: `reason` (a refund), `role` (a role change).
    #[sea_orm(column_type = "Text")]
    pub details: String,
    pub requested_by: String,
    pub requested_at: DateTimeUtc,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub outcome: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
