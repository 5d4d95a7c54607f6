//! Staff users (admins only): create, change role, disable, reset a password; and who is
//! signed in, with a button that ends a session.
use leptos::prelude::*;

use crate::api::{
    list_sessions, list_users, CreateUser, EndSession, ResetUserPassword, SetUserDisabled,
    SetUserRole,
};
use crate::components::clock::{Time, ZoneName};
use crate::components::layout::CodeBox;
use crate::components::widgets::{Badge, ErrorBox, Loaded};
use crate::model::{Role, SessionList, SessionRow, UserList, UserRow};

#[derive(Clone, Copy)]
struct Actions {
    create: ServerAction<CreateUser>,
    role: ServerAction<SetUserRole>,
    disable: ServerAction<SetUserDisabled>,
    reset: ServerAction<ResetUserPassword>,
    end_session: ServerAction<EndSession>,
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let actions = Actions {
        create: ServerAction::new(),
        role: ServerAction::new(),
        disable: ServerAction::new(),
        reset: ServerAction::new(),
        end_session: ServerAction::new(),
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
    // Every user action may end sessions (a role change or reset does), so the list
    // reloads after any of them.
    let sessions = Resource::new(
        move || {
            (
                actions.role.version().get(),
                actions.disable.version().get(),
                actions.reset.version().get(),
                actions.end_session.version().get(),
            )
        },
        |_| list_sessions(),
    );
    let feedback = move || {
        let errors = [
            actions.create.value().get(),
            actions.role.value().get().map(|result| result.map(drop)),
            actions.disable.value().get(),
            actions.reset.value().get().map(|result| result.map(drop)),
            actions.end_session.value().get(),
        ];
        errors
            .into_iter()
            .flatten()
            .filter_map(Result::err)
            .map(|error| view! { <ErrorBox error/> })
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
    // A role change waits for a second admin: say so, and where.
    let role_filed = move || match actions.role.value().get() {
        Some(Ok(message)) => Some(view! {
            <p class="notice" role="status" data-testid="role-change">
                {message} " " <a href="/approvals">"Approvals"</a>
            </p>
        }),
        _ => None,
    };
    view! {
        <h1>"Users"</h1>
        <CodeBox/>
        {feedback}
        {generated}
        {role_filed}
        <Loaded load=users show=move |list: UserList| view! { <UserTable rows=list.rows actions/> }/>
        <section class="panel">
            <h2>"Signed-in sessions"</h2>
            <p class="muted">"Ending a session signs that browser out at its next request. A role change, a disabled user or a password reset ends all of the user's sessions."</p>
            <Loaded load=sessions show=move |list: SessionList| view! { <SessionTable rows=list.rows actions/> }/>
        </section>
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

#[component]
fn SessionTable(rows: Vec<SessionRow>, actions: Actions) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="empty">"Nobody is signed in."</p> }.into_any();
    }
    let rows = rows
        .into_iter()
        .map(|session| {
            let (handle, username) = (session.handle.clone(), session.username.clone());
            view! {
                <tr data-session=handle data-user=username>
                    <td class="mono">{session.username}</td>
                    <td><Badge text=session.role/></td>
                    <td class="mono">{session.address}</td>
                    <td class="mono">{session.started_at.map(|at| view! { <Time at/> })}</td>
                    <td class="mono">{session.last_seen_at.map(|at| view! { <Time at/> })}</td>
                    <td class="mono"><Time at=session.expires_at/></td>
                    <td>
                        <ActionForm action=actions.end_session attr:class="inline">
                            <input type="hidden" name="handle" value=session.handle/>
                            <button type="submit">"End session"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" data-testid="sessions">
            <thead><tr><th>"User"</th><th>"Role"</th><th>"Address"</th><th>"Signed in (" <ZoneName/> ")"</th><th>"Last request"</th><th>"Ends if idle"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
