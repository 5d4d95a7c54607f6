//! The signed-in user's own account: choose a new password, set up the second factor. A
//! user whose password an admin (or `server users reset-password`) set, or whose role
//! needs a second factor they do not have yet, lands here and sees nothing else until
//! they have.
use leptos::prelude::*;

use crate::api::{current_viewer, get_mfa_status, BeginMfaSetup, ChangePassword, ConfirmMfaSetup};
use crate::components::widgets::ErrorBox;

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
        Some(Err(error)) => Some(view! { <ErrorBox error/> }),
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
        <SecondFactor/>
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

/// Setting up the second factor: the QR code for the authenticator app, the first code
/// to confirm it, then the recovery codes, shown once.
#[component]
fn SecondFactor() -> impl IntoView {
    let begin = ServerAction::<BeginMfaSetup>::new();
    let confirm = ServerAction::<ConfirmMfaSetup>::new();
    let status = Resource::new(move || confirm.version().get(), |_| get_mfa_status());
    let error = move || {
        let begun = begin.value().get().and_then(Result::err);
        let confirmed = confirm.value().get().and_then(Result::err);
        begun.or(confirmed).map(|error| view! { <ErrorBox error/> })
    };
    let recovery = move || {
        confirm.value().get().and_then(Result::ok).map(|codes| {
            let items = codes
                .into_iter()
                .map(|code| view! { <li><code class="mono">{code}</code></li> })
                .collect_view();
            view! {
                <div class="notice" role="status">
                    <p>"Two-factor sign-in is on. Keep these recovery codes somewhere safe: each \
                        signs you in once without your device, and they are shown only now."</p>
                    <ul class="codes" data-testid="recovery-codes">{items}</ul>
                    <p><a href="/" rel="external">"Go on to the console"</a></p>
                </div>
            }
        })
    };
    let setup = move || {
        let confirmed = matches!(confirm.value().get(), Some(Ok(_)));
        begin
            .value()
            .get()
            .and_then(Result::ok)
            .filter(|_| !confirmed)
            .map(|setup| {
                view! {
                    <div class="mfa-setup" data-testid="mfa-setup">
                        <p>"Scan this with an authenticator app (any app that speaks TOTP), or type the key:"</p>
                        <div class="qr" inner_html=setup.qr_svg></div>
                        <p><code class="mono" data-testid="mfa-secret">{setup.secret}</code></p>
                        <ActionForm action=confirm attr:class="filters" attr:data-testid="mfa-confirm">
                            <label>"First code from the app " <input name="code" required autocomplete="one-time-code" size="10"/></label>
                            <button type="submit">"Turn on"</button>
                        </ActionForm>
                    </div>
                }
            })
    };
    view! {
        <section class="panel">
            <h2>"Two-factor sign-in"</h2>
            {error}
            {recovery}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(status) if status.enrolled => view! {
                            <p data-testid="mfa-on">
                                {format!(
                                    "On: signing in asks for a code from your authenticator app. {} recovery codes left.",
                                    status.recovery_codes_left
                                )}
                            </p>
                        }
                        .into_any(),
                        Ok(status) => view! {
                            {status.required.then(|| view! {
                                <p class="notice" role="status" data-testid="must-enroll">
                                    "Your role needs a second factor: set one up to go on."
                                </p>
                            })}
                            <p class="muted">"Off. With it on, signing in, refunds, approvals and user changes ask for a code from an app on your phone."</p>
                            <ActionForm action=begin attr:class="inline">
                                <button type="submit">"Set up"</button>
                            </ActionForm>
                            {setup}
                        }
                        .into_any(),
                        Err(error) => view! { <ErrorBox error/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
