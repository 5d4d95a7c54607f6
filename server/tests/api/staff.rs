//! Console sign-in, sessions, CSRF, the first admin and user admin, over
//! HTTP against the real server (and through the service functions for user admin).

use reqwest::header::{HeaderMap, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::Value;

use app::model::{Role, Viewer};
use server::config::TEST_ADMIN_PASSWORD;
use server::db::entities::staff_session;
use server::db::{Store, WriterConfig};
use server::staff::{self, PasswordError, UserAdminError, SESSION_COOKIE};

use crate::helpers::*;

const ADMIN: &str = "admin";
const EVIL_ORIGIN: &str = "http://evil.example";

/// A browser without JavaScript: form posts with the site's `Origin`, redirects not
/// followed, cookies handled by hand so each test sees exactly what the server set.
struct Browser {
    base_url: String,
    client: reqwest::Client,
}

/// What a `POST /auth/login` answered.
struct LoginAnswer {
    status: StatusCode,
    location: String,
    /// The value of `oncewallet_session` set by the response, if any.
    session: Option<String>,
    set_cookie: Vec<String>,
}

impl Browser {
    fn new(app: &TestApp) -> Browser {
        Browser {
            base_url: app.base_url.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("build the HTTP client"),
        }
    }

    fn origin(&self) -> &str {
        &self.base_url
    }

    async fn login_from(
        &self,
        origin: Option<&str>,
        username: &str,
        password: &str,
        next: &str,
        session: Option<&str>,
    ) -> LoginAnswer {
        let mut request = self
            .client
            .post(format!("{}/auth/login", self.base_url))
            .form(&[
                ("username", username),
                ("password", password),
                ("next", next),
            ]);
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        if let Some(session) = session {
            request = request.header(COOKIE, format!("{SESSION_COOKIE}={session}"));
        }
        let response = request.send().await.expect("send the sign-in");
        LoginAnswer {
            status: response.status(),
            location: header(response.headers(), LOCATION.as_str()),
            session: session_cookie(response.headers()),
            set_cookie: response
                .headers()
                .get_all(SET_COOKIE)
                .iter()
                .map(|v| v.to_str().expect("ascii cookie").to_owned())
                .collect(),
        }
    }

    async fn login(&self, username: &str, password: &str) -> LoginAnswer {
        self.login_from(Some(self.origin()), username, password, "", None)
            .await
    }

    /// Signs in and returns the session cookie's value.
    async fn signed_in(&self, username: &str, password: &str) -> String {
        let answer = self.login(username, password).await;
        assert_eq!(
            (answer.status, answer.location.as_str()),
            (StatusCode::SEE_OTHER, "/"),
            "sign-in as {username} failed"
        );
        answer
            .session
            .expect("a signed-in answer sets the session cookie")
    }

    /// `GET /auth/session`: who the cookie signs in, or `None` (401).
    async fn whoami(&self, session: &str) -> Option<Viewer> {
        let response = self
            .client
            .get(format!("{}/auth/session", self.base_url))
            .header(COOKIE, format!("{SESSION_COOKIE}={session}"))
            .send()
            .await
            .expect("send the session check");
        match response.status() {
            StatusCode::OK => Some(response.json().await.expect("a viewer as JSON")),
            StatusCode::UNAUTHORIZED => None,
            other => panic!("GET /auth/session answered {other}"),
        }
    }

    async fn post(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base_url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("send the request")
    }
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .map(|v| v.to_str().expect("ascii header").to_owned())
        .unwrap_or_default()
}

/// The session id a response sets (`None` when it sets none or clears it).
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    let pair = session_cookie_pair(headers)?;
    Some(pair[SESSION_COOKIE.len() + 1..].to_owned())
}

/// Runs a statement on the test's own connection.
async fn exec(app: &TestApp, sql: &str) {
    app.db
        .execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A second handle on the test's database for the service functions.
async fn store_of(app: &TestApp) -> Store {
    Store::connect(&app.database_url, WriterConfig::default())
        .await
        .expect("connect a store to the test database")
}

async fn user_id(app: &TestApp, username: &str) -> i64 {
    app.query_i64(&format!(
        "SELECT id AS n FROM staff_users WHERE username = {}",
        quote(username)
    ))
    .await
}

async fn viewer(app: &TestApp, username: &str, role: Role) -> Viewer {
    Viewer {
        user_id: user_id(app, username).await,
        username: username.to_owned(),
        role,
        must_change_password: false,
        mfa_enrolled: false,
        must_enroll_mfa: false,
        mfa_at: None,
    }
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    app.query_i64(&format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM staff_audit WHERE action = {}",
        quote(action)
    ))
    .await
}

/// Creates a user through the admin service and returns their password.
async fn create_staff(app: &TestApp, store: &Store, username: &str, role: Role) -> String {
    let admin = viewer(app, ADMIN, Role::Admin).await;
    let password = format!("{username}-password-{}", unique_id("pw"));
    staff::create_user(store, &admin, username, password.clone(), role)
        .await
        .expect("create a staff user");
    password
}

// ----------------------------------------------------------------------------------
// Sign-in and sessions
// ----------------------------------------------------------------------------------

#[tokio::test]
async fn signing_in_sets_an_http_only_lax_cookie_and_goes_to_next() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);

    let answer = browser
        .login_from(
            Some(browser.origin()),
            ADMIN,
            TEST_ADMIN_PASSWORD,
            "/tx/abc?x=1",
            None,
        )
        .await;

    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location, "/tx/abc?x=1");
    let cookie = answer
        .set_cookie
        .iter()
        .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=")))
        .expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1800"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "not Secure by default: {cookie}"
    );
    let session = answer.session.expect("session id");
    let me = browser.whoami(&session).await.expect("signed in");
    assert_eq!((me.username.as_str(), me.role), (ADMIN, Role::Admin));

    assert_eq!(audit_count(&app, "staff.login").await, 1);
    let stamped = app
        .query_i64(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM staff_users WHERE last_login_at IS NOT NULL",
        )
        .await;
    assert_eq!(stamped, 1, "last_login_at is set");
}

#[tokio::test]
async fn next_never_leads_to_another_site() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    for next in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let answer = browser
            .login_from(
                Some(browser.origin()),
                ADMIN,
                TEST_ADMIN_PASSWORD,
                next,
                None,
            )
            .await;
        assert_eq!(answer.location, "/", "next={next}");
    }
}

#[tokio::test]
async fn signing_in_rotates_the_session_id() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    let first = browser.signed_in(ADMIN, TEST_ADMIN_PASSWORD).await;

    // Signing in again with the first session's cookie gets a new id; the old one is dead.
    let again = browser
        .login_from(
            Some(browser.origin()),
            ADMIN,
            TEST_ADMIN_PASSWORD,
            "/",
            Some(&first),
        )
        .await;
    let second = again.session.expect("a new session cookie");
    assert_ne!(second, first);
    assert!(
        browser.whoami(&first).await.is_none(),
        "the pre-login id is no longer valid"
    );
    assert!(browser.whoami(&second).await.is_some());

    // An id planted by someone else (fixation) is not adopted either.
    let planted = "AAAAAAAAAAAAAAAAAAAAAA";
    let answer = browser
        .login_from(
            Some(browser.origin()),
            ADMIN,
            TEST_ADMIN_PASSWORD,
            "/",
            Some(planted),
        )
        .await;
    let issued = answer.session.expect("a session cookie");
    assert_ne!(issued, planted);
    assert!(browser.whoami(planted).await.is_none());
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_look_the_same() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);

    let wrong = browser.login(ADMIN, "not-the-password").await;
    let unknown = browser.login("nobody-here", "not-the-password").await;

    for answer in [&wrong, &unknown] {
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        assert_eq!(answer.location, "/login?error=1&next=/");
        assert!(answer.set_cookie.is_empty(), "{:?}", answer.set_cookie);
    }
    assert_eq!(audit_count(&app, "staff.login").await, 0);
}

#[tokio::test]
async fn the_sixth_failure_within_the_window_is_refused_even_with_the_right_password() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);

    for attempt in 1..=5 {
        let answer = browser.login(ADMIN, "guess-guess-guess").await;
        assert_eq!(
            answer.location, "/login?error=1&next=/",
            "attempt {attempt}"
        );
    }
    let sixth = browser.login(ADMIN, TEST_ADMIN_PASSWORD).await;

    assert_eq!(sixth.location, "/login?error=locked&next=/");
    assert!(sixth.session.is_none());
    // Other accounts from the same address are not locked by one account's failures.
    let other = browser.login("someone-else", "guess-guess-guess").await;
    assert_eq!(other.location, "/login?error=1&next=/");
}

#[tokio::test]
async fn one_address_trying_many_usernames_is_refused_after_twenty_failures() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);

    for i in 0..20 {
        let answer = browser
            .login(&format!("user{i}"), "guess-guess-guess")
            .await;
        assert_eq!(answer.location, "/login?error=1&next=/", "attempt {i}");
    }
    let next = browser.login(ADMIN, TEST_ADMIN_PASSWORD).await;

    assert_eq!(next.location, "/login?error=locked&next=/");
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    let session = browser.signed_in(ADMIN, TEST_ADMIN_PASSWORD).await;

    let response = browser
        .post(
            "/auth/logout",
            &[
                ("origin", browser.origin()),
                ("cookie", &format!("{SESSION_COOKIE}={session}")),
            ],
        )
        .await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(response.headers(), "location"), "/login");
    let cleared = header(response.headers(), "set-cookie");
    assert!(
        cleared.starts_with(&format!("{SESSION_COOKIE}=;")),
        "{cleared}"
    );
    assert!(
        browser.whoami(&session).await.is_none(),
        "the cookie no longer signs in"
    );
    assert_eq!(audit_count(&app, "staff.logout").await, 1);
    let rows = app
        .query_i64("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM staff_sessions")
        .await;
    assert_eq!(rows, 0, "the session row is gone");
}

#[tokio::test]
async fn a_session_survives_a_server_restart() {
    let app = spawn_app().await;
    let session = Browser::new(&app)
        .signed_in(ADMIN, TEST_ADMIN_PASSWORD)
        .await;

    let app = app.restart().await;

    let me = Browser::new(&app).whoami(&session).await;
    assert_eq!(me.map(|v| v.username), Some(ADMIN.to_owned()));
}

/// Rewrites one value in the stored session, as if time had passed.
async fn age_session(app: &TestApp, key: &str, seconds_ago: i64) {
    let rows = app.query("SELECT id, data FROM staff_sessions").await;
    assert_eq!(rows.len(), 1, "one session");
    let id: String = rows[0].try_get("", "id").expect("id");
    let data: String = rows[0].try_get("", "data").expect("data");
    let mut data: Value = serde_json::from_str(&data).expect("session data is JSON");
    data[key] = Value::from(chrono::Utc::now().timestamp() - seconds_ago);
    exec(
        app,
        &format!(
            "UPDATE staff_sessions SET data = {} WHERE id = {}",
            quote(&data.to_string()),
            quote(&id)
        ),
    )
    .await;
}

#[tokio::test]
async fn a_session_older_than_the_absolute_limit_is_refused() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    let session = browser.signed_in(ADMIN, TEST_ADMIN_PASSWORD).await;
    assert!(browser.whoami(&session).await.is_some());

    // Signed in 12 h and a minute ago, though active a moment ago: the default limit.
    age_session(&app, staff::session::LOGIN_AT_KEY, 12 * 3600 + 60).await;

    assert!(browser.whoami(&session).await.is_none());
    let rows = app
        .query_i64("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM staff_sessions")
        .await;
    assert_eq!(rows, 0, "the expired session is deleted");
}

#[tokio::test]
async fn a_session_idle_past_its_expiry_is_refused() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    let session = browser.signed_in(ADMIN, TEST_ADMIN_PASSWORD).await;

    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    staff_session::Entity::update_many()
        .col_expr(staff_session::Column::ExpiryDate, Expr::value(past))
        .exec(&app.db)
        .await
        .expect("age the session");

    assert!(browser.whoami(&session).await.is_none());
}

#[tokio::test]
async fn a_disabled_users_sessions_stop_working() {
    let app = spawn_app().await;
    let store = store_of(&app).await;
    let password = create_staff(&app, &store, "sam", Role::Support).await;
    let browser = Browser::new(&app);
    let session = browser.signed_in("sam", &password).await;
    assert_eq!(
        browser.whoami(&session).await.map(|v| v.role),
        Some(Role::Support)
    );

    let admin = viewer(&app, ADMIN, Role::Admin).await;
    let sam = user_id(&app, "sam").await;
    staff::set_disabled(&store, &admin, sam, true)
        .await
        .expect("disable sam");

    assert!(browser.whoami(&session).await.is_none());
    let again = browser.login("sam", &password).await;
    assert_eq!(
        again.location, "/login?error=1&next=/",
        "a disabled user cannot sign in"
    );

    // Even a session row that survived (the flag set behind the service's back) is refused.
    staff::set_disabled(&store, &admin, sam, false)
        .await
        .expect("enable");
    let session = browser.signed_in("sam", &password).await;
    exec(
        &app,
        "UPDATE staff_users SET disabled = TRUE WHERE username = 'sam'",
    )
    .await;
    assert!(browser.whoami(&session).await.is_none());
}

#[tokio::test]
async fn a_role_change_ends_the_users_sessions_and_the_next_sign_in_has_the_new_role() {
    let app = spawn_app().await;
    let store = store_of(&app).await;
    let password = create_staff(&app, &store, "olga", Role::Support).await;
    let browser = Browser::new(&app);
    let session = browser.signed_in("olga", &password).await;

    let admin = viewer(&app, ADMIN, Role::Admin).await;
    let olga = user_id(&app, "olga").await;
    staff::set_role(&store, &admin, olga, Role::Operator)
        .await
        .expect("promote");

    assert!(browser.whoami(&session).await.is_none(), "signed out");
    let again = browser.signed_in("olga", &password).await;
    assert_eq!(
        browser.whoami(&again).await.map(|v| v.role),
        Some(Role::Operator)
    );
}

// ----------------------------------------------------------------------------------
// CSRF
// ----------------------------------------------------------------------------------

#[tokio::test]
async fn cross_site_posts_are_refused_and_same_origin_posts_pass() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);

    let forged = browser
        .login_from(Some(EVIL_ORIGIN), ADMIN, TEST_ADMIN_PASSWORD, "/", None)
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.session.is_none());
    let bare = browser
        .login_from(None, ADMIN, TEST_ADMIN_PASSWORD, "/", None)
        .await;
    assert_eq!(
        bare.status,
        StatusCode::FORBIDDEN,
        "no Origin and no Referer"
    );

    let api = "/api/anything";
    let evil = browser.post(api, &[("origin", EVIL_ORIGIN)]).await;
    assert_eq!(evil.status(), StatusCode::FORBIDDEN);
    let evil_referer = browser
        .post(api, &[("referer", "http://evil.example/page")])
        .await;
    assert_eq!(evil_referer.status(), StatusCode::FORBIDDEN);
    let fetch_metadata = browser
        .post(
            api,
            &[
                ("origin", browser.origin()),
                ("sec-fetch-site", "cross-site"),
            ],
        )
        .await;
    assert_eq!(fetch_metadata.status(), StatusCode::FORBIDDEN);

    let own = browser.post(api, &[("origin", browser.origin())]).await;
    assert_eq!(
        own.status(),
        StatusCode::NOT_FOUND,
        "passes the check, no such function"
    );
    let own_referer = format!("{}/login", browser.origin());
    let by_referer = browser.post(api, &[("referer", &own_referer)]).await;
    assert_eq!(by_referer.status(), StatusCode::NOT_FOUND);
    let ok = browser.login(ADMIN, TEST_ADMIN_PASSWORD).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_wallet_api_is_not_behind_the_console_csrf_check() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);

    let response = browser
        .post("/wallet/v1/balance", &[("origin", EVIL_ORIGIN)])
        .await;

    assert_ne!(response.status(), StatusCode::FORBIDDEN);
    assert!(header(response.headers(), "set-cookie").is_empty());
}

// ----------------------------------------------------------------------------------
// The first admin and user admin
// ----------------------------------------------------------------------------------

#[tokio::test]
async fn the_first_admin_comes_from_the_configured_password_or_a_generated_one() {
    let app = spawn_app().await;
    let store = store_of(&app).await;
    let browser = Browser::new(&app);
    // Config::for_tests sets the password, as WALLET_ADMIN_PASSWORD would.
    browser.signed_in(ADMIN, TEST_ADMIN_PASSWORD).await;
    assert_eq!(audit_count(&app, "staff.user_created").await, 1);
    // With an admin present, nothing happens and the password is ignored.
    let again = staff::ensure_first_admin(&store, Some("another-password-1".to_owned()))
        .await
        .expect("ensure");
    assert_eq!(again, None);
    browser.signed_in(ADMIN, TEST_ADMIN_PASSWORD).await;

    exec(&app, "DELETE FROM staff_sessions").await;
    exec(&app, "DELETE FROM staff_users").await;
    let short = staff::ensure_first_admin(&store, Some("short".to_owned())).await;
    assert!(
        short.is_err(),
        "a too-short WALLET_ADMIN_PASSWORD is refused"
    );
    let chosen = staff::ensure_first_admin(&store, Some("chosen-admin-password".to_owned()))
        .await
        .expect("ensure");
    assert_eq!(chosen, None, "a configured password is not printed");
    browser.signed_in(ADMIN, "chosen-admin-password").await;

    exec(&app, "DELETE FROM staff_sessions").await;
    exec(&app, "DELETE FROM staff_users").await;
    let generated = staff::ensure_first_admin(&store, None)
        .await
        .expect("ensure")
        .expect("a generated password");
    assert_eq!(generated.chars().count(), 20);
    browser.signed_in(ADMIN, &generated).await;
    assert_eq!(
        staff::ensure_first_admin(&store, None)
            .await
            .expect("ensure"),
        None,
        "generated only once"
    );
}

#[tokio::test]
async fn user_admin_refuses_what_would_lock_everyone_out_and_audits_what_it_does() {
    let app = spawn_app().await;
    let store = store_of(&app).await;
    let admin = viewer(&app, ADMIN, Role::Admin).await;

    let sam = staff::create_user(
        &store,
        &admin,
        "Sam",
        "sam-password-123".to_owned(),
        Role::Support,
    )
    .await
    .expect("create sam");
    assert_eq!(
        (sam.username.as_str(), sam.role, sam.disabled),
        ("sam", Role::Support, false)
    );
    let sam_viewer = Viewer {
        user_id: sam.id,
        username: sam.username.clone(),
        role: Role::Support,
        must_change_password: false,
        mfa_enrolled: false,
        must_enroll_mfa: false,
        mfa_at: None,
    };

    // Refusals, none of which writes anything.
    let refused = [
        staff::set_role(&store, &admin, admin.user_id, Role::Support)
            .await
            .err(),
        staff::set_disabled(&store, &admin, admin.user_id, true)
            .await
            .err(),
        staff::set_role(&store, &sam_viewer, sam.id, Role::Admin)
            .await
            .err(),
        staff::create_user(
            &store,
            &admin,
            "sam",
            "sam-password-456".to_owned(),
            Role::Support,
        )
        .await
        .err(),
        staff::create_user(&store, &admin, "tim", "short".to_owned(), Role::Support)
            .await
            .err(),
        staff::create_user(
            &store,
            &admin,
            "no spaces",
            "long-enough-pw".to_owned(),
            Role::Support,
        )
        .await
        .err(),
        staff::set_role(&store, &admin, 999_999, Role::Admin)
            .await
            .err(),
    ];
    assert!(
        matches!(refused[0], Some(UserAdminError::LastAdmin)),
        "{refused:?}"
    );
    assert!(
        matches!(refused[1], Some(UserAdminError::SelfDisable)),
        "{refused:?}"
    );
    assert!(
        matches!(refused[2], Some(UserAdminError::Forbidden)),
        "{refused:?}"
    );
    assert!(
        matches!(refused[3], Some(UserAdminError::UsernameTaken(_))),
        "{refused:?}"
    );
    assert!(
        matches!(
            refused[4],
            Some(UserAdminError::WeakPassword(PasswordError::TooShort))
        ),
        "{refused:?}"
    );
    assert!(
        matches!(refused[5], Some(UserAdminError::InvalidUsername)),
        "{refused:?}"
    );
    assert!(
        matches!(refused[6], Some(UserAdminError::NotFound(999_999))),
        "{refused:?}"
    );
    assert!(matches!(
        staff::list_users(&store, &sam_viewer).await,
        Err(UserAdminError::Forbidden)
    ));

    // With a second admin, the first may step down; the second is then the last.
    staff::set_role(&store, &admin, sam.id, Role::Admin)
        .await
        .expect("promote sam");
    let sam_admin = Viewer {
        role: Role::Admin,
        ..sam_viewer
    };
    staff::set_role(&store, &admin, admin.user_id, Role::Operator)
        .await
        .expect("the first admin steps down");
    assert!(matches!(
        staff::set_role(&store, &sam_admin, sam.id, Role::Operator).await,
        Err(UserAdminError::LastAdmin)
    ));
    assert!(
        matches!(
            staff::set_role(&store, &admin, admin.user_id, Role::Admin).await,
            Err(UserAdminError::Forbidden)
        ),
        "an operator cannot promote themselves back"
    );
    staff::reset_password(
        &store,
        &sam_admin,
        admin.user_id,
        "a-new-password-1".to_owned(),
        true,
    )
    .await
    .expect("reset");
    staff::set_disabled(&store, &sam_admin, admin.user_id, true)
        .await
        .expect("disable");

    let users = staff::list_users(&store, &sam_admin).await.expect("list");
    let summary: Vec<_> = users
        .iter()
        .map(|u| (u.username.as_str(), u.role, u.disabled))
        .collect();
    assert_eq!(
        summary,
        [("admin", Role::Operator, true), ("sam", Role::Admin, false)]
    );
    for (action, count) in [
        ("staff.user_created", 2), // the first admin and sam
        ("staff.role_changed", 2),
        ("staff.password_reset", 1),
        ("staff.user_disabled", 1),
    ] {
        assert_eq!(audit_count(&app, action).await, count, "{action}");
    }
    let actor = app
        .query("SELECT actor FROM staff_audit WHERE action = 'staff.user_disabled'")
        .await;
    assert_eq!(
        actor[0].try_get::<String>("", "actor").expect("actor"),
        "sam"
    );
}

#[tokio::test]
async fn two_admins_disabling_each_other_at_once_leave_one_admin() {
    let app = spawn_app().await;
    let store = store_of(&app).await;
    let admin = viewer(&app, ADMIN, Role::Admin).await;
    create_staff(&app, &store, "bea", Role::Admin).await;
    let bea = viewer(&app, "bea", Role::Admin).await;

    let (a, b) = tokio::join!(
        staff::set_disabled(&store, &admin, bea.user_id, true),
        staff::set_disabled(&store, &bea, admin.user_id, true),
    );

    assert_eq!(
        [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "exactly one wins: {a:?} {b:?}"
    );
    let enabled_admins = app
        .query_i64(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM staff_users \
             WHERE role = 'admin' AND disabled = FALSE",
        )
        .await;
    assert_eq!(enabled_admins, 1);
}
