//! The console's frame: the top bar with navigation and the signed-in user, and the
//! role gate that hides what a role cannot use (the server refuses it anyway).
use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::api::current_viewer;
use crate::model::{Role, Viewer};

/// The signed-in user, loaded once per page load and shared through the context.
#[derive(Clone, Copy)]
pub struct ViewerResource(pub Resource<Result<Option<Viewer>, ServerFnError>>);

pub fn provide_viewer() {
    provide_context(ViewerResource(Resource::new(|| (), |_| current_viewer())));
}

fn viewer_resource() -> Resource<Result<Option<Viewer>, ServerFnError>> {
    expect_context::<ViewerResource>().0
}

const LINKS: [(&str, &str, Role); 8] = [
    ("/", "Overview", Role::Support),
    ("/live", "Live trace", Role::Support),
    ("/search", "Search", Role::Support),
    ("/pending", "Pending rollbacks", Role::Support),
    ("/reconciliation", "Reconciliation", Role::Support),
    ("/players", "Players", Role::Support),
    ("/audit", "Audit log", Role::Support),
    ("/users", "Users", Role::Admin),
];

/// The top bar. On the login page, only the name.
#[component]
pub fn TopBar() -> impl IntoView {
    let location = use_location();
    let viewer = viewer_resource();
    view! {
        <header class="topbar">
            <a class="brand" href="/">"oncewallet"</a>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let viewer = viewer.await.ok().flatten();
                    viewer.map(|viewer| view! { <Nav viewer path=location.pathname/> })
                })}
            </Suspense>
        </header>
    }
}

#[component]
fn Nav(viewer: Viewer, path: Memo<String>) -> impl IntoView {
    let links = LINKS
        .into_iter()
        .filter(|(_, _, needed)| viewer.role.allows(*needed))
        .map(|(href, name, _)| {
            let current = move || {
                let path = path.get();
                let here = if href == "/" {
                    path == "/"
                } else {
                    path.starts_with(href)
                };
                here.then_some("page")
            };
            view! { <a href=href aria-current=current>{name}</a> }
        })
        .collect_view();
    view! {
        <nav class="mainnav" aria-label="console">{links}</nav>
        <div class="whoami">
            <span data-testid="whoami">{viewer.username.clone()}</span>
            <span class="role">{viewer.role.as_str()}</span>
            <form method="post" action="/auth/logout">
                <button type="submit" class="link">"Sign out"</button>
            </form>
        </div>
    }
}

/// Shows its children only to roles that include `role`.
#[component]
pub fn IfRole(role: Role, children: ChildrenFn) -> impl IntoView {
    let viewer = viewer_resource();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let allowed = matches!(viewer.await, Ok(Some(v)) if v.role.allows(role));
                allowed.then(|| children.with_value(|children| children()))
            })}
        </Suspense>
    }
}
