//! The sign-in form: a plain POST to `/auth/login`, so it works before hydration.
use leptos::prelude::*;

use super::query_param;

#[component]
pub fn LoginPage() -> impl IntoView {
    let error = query_param("error");
    let next = query_param("next");
    let changed = query_param("changed");
    let notice = move || {
        (changed.get() == "1").then(|| {
            view! {
                <p class="notice" role="status">
                    "Password changed. Sign in with your new password."
                </p>
            }
        })
    };
    let message = move || match error.get().as_str() {
        "" => None,
        "locked" => Some("Too many failed sign-ins. Wait a few minutes and try again."),
        _ => Some("That username and password do not match an active user."),
    };
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
