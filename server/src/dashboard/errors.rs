//! Every failure a console call can meet, mapped to what the page shows
//! (`app::model::ConsoleError`): refusals in the words of the rule that refused, outages
//! logged here and shown as "try again".
use std::fmt::Display;

use app::model::ConsoleError;

use crate::approvals::ApprovalError;
use crate::error::{ApiError, ServiceError};
use crate::reconcile::discrepancies::DiscrepancyError;
use crate::staff::UserAdminError;

/// A database failure: logged here, shown to people as "try again".
pub fn unavailable(error: impl Display) -> ConsoleError {
    tracing::error!(%error, "console query failed");
    ConsoleError::Unavailable
}

pub fn from_service(error: ServiceError) -> ConsoleError {
    match error {
        ServiceError::Api(error) => from_api(error),
        other => unavailable(other),
    }
}

pub fn from_api(error: ApiError) -> ConsoleError {
    match error.status() {
        404 => ConsoleError::NotFound(error.message),
        409 => ConsoleError::Conflict(error.message),
        400..=499 => ConsoleError::Invalid(error.message),
        _ => unavailable(error.message),
    }
}

pub fn from_discrepancy(error: DiscrepancyError) -> ConsoleError {
    match error {
        DiscrepancyError::NotFound(_) => ConsoleError::NotFound(error.to_string()),
        DiscrepancyError::InvalidTransition { .. } => ConsoleError::Conflict(error.to_string()),
        DiscrepancyError::Invalid(message) => ConsoleError::Invalid(message),
        DiscrepancyError::Service(error) => from_service(error),
    }
}

pub fn from_mfa(error: crate::staff::mfa::MfaError) -> ConsoleError {
    use crate::staff::mfa::MfaError;
    match error {
        MfaError::Users(error) => from_user_admin(error),
        MfaError::AlreadyEnrolled => ConsoleError::Conflict(error.to_string()),
        other => ConsoleError::Invalid(other.to_string()),
    }
}

pub fn from_user_admin(error: UserAdminError) -> ConsoleError {
    match error {
        UserAdminError::NotFound(_)
        | UserAdminError::UnknownUsername(_)
        | UserAdminError::UnknownSession(_) => ConsoleError::NotFound(error.to_string()),
        UserAdminError::Unavailable(error) => unavailable(error),
        UserAdminError::LastAdmin
        | UserAdminError::SelfDisable
        | UserAdminError::UsernameTaken(_) => ConsoleError::Conflict(error.to_string()),
        other => ConsoleError::Invalid(other.to_string()),
    }
}

pub fn from_approval(error: ApprovalError) -> ConsoleError {
    match error {
        ApprovalError::NotFound(_) => ConsoleError::NotFound(error.to_string()),
        ApprovalError::OwnRequest => ConsoleError::Forbidden(error.to_string()),
        ApprovalError::AlreadyDecided { .. } | ApprovalError::BeingApproved { .. } => {
            ConsoleError::Conflict(error.to_string())
        }
        ApprovalError::Db(error) => from_service(error),
    }
}
