//! Staff users (admins only): create, change role, disable.
use leptos::prelude::*;

use crate::api::{list_users, CreateUser, ResetUserPassword, SetUserDisabled, SetUserRole};
use crate::components::clock::{Time, ZoneName};
use crate::components::widgets::{error_text, Badge, ErrorBox, Loading};
use crate::model::{Role, UserRow};

#[derive(Clone, Copy)]
struct Actions {
    create: ServerAction<CreateUser>,
    role: ServerAction<SetUserRole>,
    disable: ServerAction<SetUserDisabled>,
    reset: ServerAction<ResetUserPassword>,
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let actions = Actions {
        create: ServerAction::new(),
        role: ServerAction::new(),
        disable: ServerAction::new(),
        reset: ServerAction::new(),
    };
    let users = Resource::new(
        move || {
            (
                actions.create.version().get(),
                actions.role.version().get(),
                actions.disable.version().get(),
                actions.reset.version().get(),
            )
        },
        |_| list_users(),
    );
    let feedback = move || {
        let errors = [
            actions.create.value().get(),
            actions.role.value().get(),
            actions.disable.value().get(),
            actions.reset.value().get().map(|result| result.map(drop)),
        ];
        errors
            .into_iter()
            .flatten()
            .filter_map(Result::err)
            .map(|error| view! { <p class="error" role="alert">{error_text(&error)}</p> })
            .collect_view()
    };
    // The generated password is shown once, here, and never stored in clear.
    let generated = move || match actions.reset.value().get() {
        Some(Ok(password)) => Some(view! {
            <p class="notice" role="status" data-testid="reset-password">
                "New password, shown once: " <code class="mono">{password}</code>
                " The user must choose their own at the next sign-in; their sessions have ended."
            </p>
        }),
        _ => None,
    };
    view! {
        <h1>"Users"</h1>
        {feedback}
        {generated}
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(list) => view! { <UserTable rows=list.rows actions/> }.into_any(),
                    Err(error) => view! { <ErrorBox error/> }.into_any(),
                }
            })}
        </Transition>
        <section class="panel">
            <h2>"New user"</h2>
            <ActionForm action=actions.create attr:class="filters" attr:data-testid="create-user">
                <label>"Username " <input name="username" required autocomplete="off"/></label>
                <label>"Password " <input name="password" type="password" required minlength="12" autocomplete="new-password"/></label>
                <label>"Role " <RoleSelect current=Role::Support/></label>
                <button type="submit">"Create"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn RoleSelect(current: Role) -> impl IntoView {
    let options = Role::ALL
        .into_iter()
        .map(|role| view! { <option value=role.as_str() selected=role == current>{role.as_str()}</option> })
        .collect_view();
    view! { <select name="role">{options}</select> }
}

#[component]
fn UserTable(rows: Vec<UserRow>, actions: Actions) -> impl IntoView {
    let rows = rows
        .into_iter()
        .map(|user| {
            let current = Role::parse(&user.role).unwrap_or(Role::Support);
            let id = user.id;
            let status = if user.disabled { "DISABLED" } else { "ACTIVE" };
            let must_change = user
                .must_change_password
                .then(|| view! { <Badge text="MUST CHANGE PASSWORD"/> });
            view! {
                <tr data-user=user.username.clone()>
                    <td class="mono">{user.username.clone()}</td>
                    <td>
                        <ActionForm action=actions.role attr:class="inline">
                            <input type="hidden" name="user_id" value=id/>
                            <RoleSelect current/>
                            <button type="submit">"Change role"</button>
                        </ActionForm>
                    </td>
                    <td><Badge text=status/>" "{must_change}</td>
                    <td class="mono"><Time at=user.created_at.clone()/></td>
                    <td class="mono">{user.last_login_at.clone().map(|at| view! { <Time at/> })}</td>
                    <td>
                        <ActionForm action=actions.disable attr:class="inline">
                            <input type="hidden" name="user_id" value=id/>
                            <input type="hidden" name="disabled" value=(!user.disabled).to_string()/>
                            <button type="submit">{if user.disabled { "Enable" } else { "Disable" }}</button>
                        </ActionForm>
                        <ActionForm action=actions.reset attr:class="inline">
                            <input type="hidden" name="user_id" value=id/>
                            <button type="submit">"Reset password"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" data-testid="users">
            <thead><tr><th>"Username"</th><th>"Role"</th><th>"Status"</th><th>"Created (" <ZoneName/> ")"</th><th>"Last sign-in"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
