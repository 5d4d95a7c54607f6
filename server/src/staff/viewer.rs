//! The middleware that tells every console request who is signed in.
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use super::{session, users, Staff};

/// Inserts [`app::model::Viewer`] into the request's extensions when the session belongs
/// to an enabled user and is within its idle and absolute limits; inserts nothing
/// otherwise (a session past a limit, or of a disabled or deleted user, is ended). Pages
/// and server functions read the extension and decide what a missing one means.
pub async fn attach_viewer(
    State(staff): State<Staff>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    match current_viewer(&staff, &session).await {
        Ok(Some(viewer)) => {
            request.extensions_mut().insert(viewer);
        }
        Ok(None) => {}
        Err(error) => {
            tracing::error!(
                error = format!("{error:#}"),
                "reading the staff session failed"
            );
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the console cannot read sessions right now; try again\n",
            )
                .into_response();
        }
    }
    next.run(request).await
}

async fn current_viewer(
    staff: &Staff,
    session: &Session,
) -> anyhow::Result<Option<app::model::Viewer>> {
    let Some(user_id) = session::signed_in_user(session, &staff.config).await? else {
        return Ok(None);
    };
    match users::load_viewer(&staff.store, user_id).await? {
        Some(mut viewer) => {
            viewer.mfa_at = session::code_checked_at(session).await?;
            viewer.must_enroll_mfa = !viewer.mfa_enrolled
                && staff.config.mfa_required
                && viewer.role.allows(app::model::Role::Operator);
            Ok(Some(viewer))
        }
        None => {
            session::end(session).await?;
            Ok(None)
        }
    }
}
