//! The sign-in form: a plain POST to `/auth/login`, so it works before hydration. A user
//! with a second factor is then asked for a code (`?step=code`, a POST to `/auth/code`).
use leptos::prelude::*;

use super::query_param;

#[component]
pub fn LoginPage() -> impl IntoView {
    let error = query_param("error");
    let next = query_param("next");
    let changed = query_param("changed");
    let step = query_param("step");
    let notice = move || {
        (changed.get() == "1").then(|| {
            view! {
                <p class="notice" role="status">
                    "Password changed. Sign in with your new password."
                </p>
            }
            .into_any()
        })
    };
    let message = move || match (error.get().as_str(), step.get().as_str()) {
        ("", _) => None,
        ("locked", _) => Some("Too many failed sign-ins. Wait a few minutes and try again."),
        ("expired", _) => Some("The code was not given within five minutes. Sign in again."),
        (_, "code") => Some("That code is not right, or was already used. Try the next one."),
        _ => Some("That username and password do not match an active user."),
    };
    let code_step = move || step.get() == "code";
    view! {
        <Show when=code_step fallback=move || view! { <PasswordStep next message notice/> }>
            <section class="login">
                <h1>"Sign in"</h1>
                {move || message().map(|text| view! { <p class="error" role="alert">{text}</p> })}
                <form method="post" action="/auth/code" data-testid="code-form">
                    <input type="hidden" name="next" value=move || next.get()/>
                    <label>"Code from your authenticator app"
                        <input name="code" required autocomplete="one-time-code" inputmode="text" autofocus/>
                    </label>
                    <button type="submit">"Confirm"</button>
                </form>
                <p class="muted">
                    "Lost your device? Type one of your recovery codes instead; each works once. "
                    "Without them, an admin runs " <code>"server users reset-mfa"</code> "."
                </p>
            </section>
        </Show>
    }
}

#[component]
fn PasswordStep(
    next: Memo<String>,
    message: impl Fn() -> Option<&'static str> + Send + Sync + 'static,
    notice: impl Fn() -> Option<AnyView> + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <section class="login">
            <h1>"Sign in"</h1>
            {notice}
            {move || message().map(|text| view! { <p class="error" role="alert">{text}</p> })}
            <form method="post" action="/auth/login">
                <input type="hidden" name="next" value=move || next.get()/>
                <label>"Username" <input name="username" required autocomplete="username" autofocus/></label>
                <label>"Password" <input name="password" type="password" required autocomplete="current-password"/></label>
                <button type="submit">"Sign in"</button>
            </form>
            <p class="muted">
                "The first admin's password is printed when the server first starts, or set with "
                <code>"WALLET_ADMIN_PASSWORD"</code>"."
            </p>
        </section>
    }
}
