//! The signed-in user's own account: choose a new password. A user whose password an
//! admin (or `server users reset-password`) set lands here and sees nothing else until
//! they have chosen their own.
use leptos::prelude::*;

use crate::api::{current_viewer, ChangePassword};
use crate::components::widgets::error_text;

/// Where a successful change sends the browser: every session of the user has ended.
const AFTER_CHANGE: &str = "/login?changed=1";

#[component]
pub fn AccountPage() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = change.value().get() {
            // A full load: the session cookie is gone and the top bar must show it.
            let _ = window().location().set_href(AFTER_CHANGE);
        }
    });
    let viewer = Resource::new(|| (), |_| current_viewer());
    let must_change = move || {
        viewer
            .get()
            .and_then(|v| v.ok().flatten())
            .is_some_and(|v| v.must_change_password)
    };
    let feedback = move || match change.value().get() {
        Some(Err(error)) => Some(view! { <p class="error" role="alert">{error_text(&error)}</p> }),
        _ => None,
    };
    view! {
        <h1>"Account"</h1>
        <Suspense fallback=|| ()>
            <Show when=must_change>
                <p class="notice" role="status" data-testid="must-change">
                    "Your password was reset by someone else. Choose your own to go on."
                </p>
            </Show>
        </Suspense>
        {feedback}
        <section class="panel">
            <h2>"Change your password"</h2>
            <p class="muted">
                "At least 12 characters. Changing it signs you out everywhere, this browser too; "
                "sign in again with the new one."
            </p>
            <ActionForm action=change attr:class="stacked" attr:data-testid="change-password">
                <label>"Current password "
                    <input name="current" type="password" required autocomplete="current-password"/>
                </label>
                <label>"New password "
                    <input name="new" type="password" required minlength="12" autocomplete="new-password"/>
                </label>
                <label>"New password again "
                    <input name="repeat" type="password" required minlength="12" autocomplete="new-password"/>
                </label>
                <button type="submit">"Change password"</button>
            </ActionForm>
        </section>
    }
}
