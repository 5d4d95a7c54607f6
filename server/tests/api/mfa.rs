//! The second factor. Enrolment with a QR code and recovery codes,
//! signing in with a code or a recovery code, wrong codes refused and throttled, roles
//! that require it, a fresh code before sensitive actions, and `server users reset-mfa`.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{LOCATION, ORIGIN};
use reqwest::StatusCode;
use serde_json::Value;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::accounts::users_async;
use crate::dashboard::Staff;
use crate::helpers::*;

/// The code of `secret` for the time step `steps` after the current one.
fn code(secret: &str, steps: u64) -> String {
    let bytes = Secret::Encoded(secret.to_owned())
        .to_bytes()
        .expect("base32");
    let totp = TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, None, "x".to_owned()).expect("totp");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs();
    totp.generate(now + steps * 30)
}

/// Turns the second factor on for `staff`: its secret and recovery codes.
async fn enrol(staff: &Staff) -> (String, Vec<String>) {
    let (status, setup) = staff.call("begin_mfa_setup", &[]).await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    assert!(
        setup["qr_svg"]
            .as_str()
            .unwrap_or_default()
            .starts_with("<svg"),
        "{setup}"
    );
    assert!(setup["otpauth_url"]
        .as_str()
        .unwrap_or_default()
        .starts_with("otpauth://totp/"));
    let secret = setup["secret"].as_str().expect("secret").to_owned();
    let (status, wrong) = staff.call("confirm_mfa_setup", &[("code", "000000")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{wrong}");
    let (status, codes) = staff
        .call("confirm_mfa_setup", &[("code", &code(&secret, 0))])
        .await;
    assert_eq!(status, StatusCode::OK, "{codes}");
    let codes: Vec<String> = serde_json::from_value(codes).expect("codes");
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

/// Confirms a fresh code in `staff`'s session, as the code box on a page does.
async fn confirm_code(app: &TestApp, staff: &Staff, code: &str) -> String {
    let response = staff
        .client
        .post(format!("{}/auth/confirm-code", app.base_url))
        .header(reqwest::header::COOKIE, &staff.cookie)
        .header(ORIGIN, &app.base_url)
        .form(&[("code", code), ("next", "/users")])
        .send()
        .await
        .expect("confirm");
    response.headers()[LOCATION]
        .to_str()
        .expect("ascii")
        .to_owned()
}

/// A browser that keeps its cookies, not following redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn post_form(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let response = client
        .post(format!("{}{path}", app.base_url))
        .header(ORIGIN, &app.base_url)
        .form(form)
        .send()
        .await
        .expect("post");
    let location = response
        .headers()
        .get(LOCATION)
        .map(|value| value.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    (response.status(), location)
}

async fn signed_in(app: &TestApp, client: &reqwest::Client) -> bool {
    let status = client
        .get(format!("{}/auth/session", app.base_url))
        .send()
        .await
        .expect("get")
        .status();
    status == StatusCode::OK
}

/// Username and password of a new operator made by the admin.
async fn new_operator(admin: &Staff) -> (String, String) {
    let username = unique_id("mfa").to_lowercase();
    let password = format!("{username}-password");
    let (status, body) = admin
        .call(
            "create_user",
            &[
                ("username", &username),
                ("password", &password),
                ("role", "operator"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (username, password)
}

#[tokio::test]
async fn signing_in_takes_a_code_or_a_recovery_code_each_once() {
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let (name, password) = new_operator(&admin).await;
    let operator = Staff::sign_in(&app, &name, &password).await;
    let (secret, recovery) = enrol(&operator).await;
    let (_, status) = operator.call("get_mfa_status", &[]).await;
    assert_eq!(status["enrolled"], true);
    assert_eq!(status["recovery_codes_left"], 10);

    // The password alone signs nobody in now.
    let client = browser();
    let login = [
        ("username", name.as_str()),
        ("password", &password),
        ("next", "/pending"),
    ];
    let (status, location) = post_form(&app, &client, "/auth/login", &login).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/login?step=code&next=/pending");
    assert!(!signed_in(&app, &client).await);
    let (_, location) = post_form(
        &app,
        &client,
        "/auth/code",
        &[("code", "123456"), ("next", "/pending")],
    )
    .await;
    assert_eq!(location, "/login?step=code&error=1&next=/pending");
    // The code used for enrolment does not work again; the next one does, once.
    let used = code(&secret, 0);
    let (_, location) = post_form(
        &app,
        &client,
        "/auth/code",
        &[("code", &used), ("next", "/")],
    )
    .await;
    assert!(location.contains("error=1"), "{location}");
    let next = code(&secret, 1);
    let (_, location) = post_form(
        &app,
        &client,
        "/auth/code",
        &[("code", &next), ("next", "/pending")],
    )
    .await;
    assert_eq!(location, "/pending");
    assert!(signed_in(&app, &client).await);

    let again = browser();
    post_form(&app, &again, "/auth/login", &login).await;
    let (_, location) = post_form(
        &app,
        &again,
        "/auth/code",
        &[("code", &next), ("next", "/")],
    )
    .await;
    assert!(
        location.contains("error=1"),
        "a code works once: {location}"
    );
    // A recovery code, typed loosely, signs in once.
    let loose = recovery[3].to_uppercase().replace('-', " ");
    let (_, location) = post_form(
        &app,
        &again,
        "/auth/code",
        &[("code", &loose), ("next", "/")],
    )
    .await;
    assert_eq!(location, "/");
    assert!(signed_in(&app, &again).await);
    let third = browser();
    post_form(&app, &third, "/auth/login", &login).await;
    let (_, location) = post_form(
        &app,
        &third,
        "/auth/code",
        &[("code", &recovery[3]), ("next", "/")],
    )
    .await;
    assert!(location.contains("error=1"), "{location}");
    let (_, status) = operator.call("get_mfa_status", &[]).await;
    assert_eq!(status["recovery_codes_left"], 9);
    let audited = app
        .query_i64(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM staff_audit \
             WHERE action IN ('staff.mfa_enrolled', 'staff.mfa_recovery_code_used')",
        )
        .await;
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn wrong_codes_are_throttled_like_wrong_passwords() {
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let (name, password) = new_operator(&admin).await;
    let operator = Staff::sign_in(&app, &name, &password).await;
    let (secret, _) = enrol(&operator).await;

    let client = browser();
    let login = [
        ("username", name.as_str()),
        ("password", &password),
        ("next", "/"),
    ];
    post_form(&app, &client, "/auth/login", &login).await;
    for guess in ["111111", "222222", "333333", "444444", "555555"] {
        let (_, location) = post_form(
            &app,
            &client,
            "/auth/code",
            &[("code", guess), ("next", "/")],
        )
        .await;
        assert!(location.contains("error=1"), "{location}");
    }
    // Now even the right code is refused until the window passes.
    let right = code(&secret, 1);
    let (_, location) = post_form(
        &app,
        &client,
        "/auth/code",
        &[("code", &right), ("next", "/")],
    )
    .await;
    assert!(location.contains("error=locked"), "{location}");
    assert!(!signed_in(&app, &client).await);
}

#[tokio::test]
async fn a_role_that_requires_a_second_factor_sets_one_up_first() {
    let app = spawn_app_with(|config| config.staff.mfa_required = true).await;
    let admin = Staff::admin(&app).await;
    // The admin too: nothing but the account page until then.
    let (status, _) = admin.call("list_users", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (secret, _) = enrol(&admin).await;
    // Creating users changes who may do what: a fresh code first.
    let (status, body) = admin
        .call(
            "create_user",
            &[
                ("username", "early"),
                ("password", "early-password-1"),
                ("role", "support"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        confirm_code(&app, &admin, &code(&secret, 1)).await,
        "/users?code=ok"
    );
    let support = Staff::with_role(&app, &admin, "support").await;
    let (name, password) = new_operator(&admin).await;
    let operator = Staff::sign_in(&app, &name, &password).await;

    let page = operator.get("/pending").await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(page.headers()[LOCATION], "/account");
    let (status, body) = operator.call("get_pending", &[("page", "0")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.to_string().contains("second factor"), "{body}");
    let (_, mfa) = operator.call("get_mfa_status", &[]).await;
    assert_eq!(mfa["required"], true);
    // Support is not required to.
    let (status, _) = support.call("get_pending", &[("page", "0")]).await;
    assert_eq!(status, StatusCode::OK);

    enrol(&operator).await;
    let (status, body) = operator.call("get_pending", &[("page", "0")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_user_reset_needs_a_code_from_the_last_few_seconds() {
    let app = spawn_app_with(|config| config.staff.mfa_fresh_for = Duration::from_secs(2)).await;
    let admin = Staff::admin(&app).await;
    let (name, _) = new_operator(&admin).await;
    let (secret, recovery) = enrol(&admin).await;
    let user_id = app
        .query_i64(&format!(
            "SELECT id AS n FROM staff_users WHERE username = {}",
            quote(&name)
        ))
        .await
        .to_string();
    // Enrolled but not confirmed in this session: asked for a code.
    let (status, body) = admin
        .call("reset_user_password", &[("user_id", &user_id)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.to_string().contains("Confirm it is you"), "{body}");

    let client = browser();
    let login = [
        ("username", "admin"),
        ("password", server::config::TEST_ADMIN_PASSWORD),
        ("next", "/users"),
    ];
    post_form(&app, &client, "/auth/login", &login).await;
    let (_, location) = post_form(
        &app,
        &client,
        "/auth/code",
        &[("code", &code(&secret, 1)), ("next", "/users")],
    )
    .await;
    assert_eq!(location, "/users");
    let reset = |client: reqwest::Client| {
        let (app, user_id) = (&app, user_id.clone());
        async move {
            let response = client
                .post(format!("{}/api/reset_user_password", app.base_url))
                .header(ORIGIN, &app.base_url)
                .form(&[("user_id", user_id.as_str())])
                .send()
                .await
                .expect("post");
            (response.status(), response.text().await.expect("text"))
        }
    };
    let (status, body) = reset(client.clone()).await;
    assert_eq!(status, StatusCode::OK, "fresh from sign-in: {body}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, body) = reset(client.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // A fresh code (here a recovery code) from the box on the page.
    let (_, location) = post_form(
        &app,
        &client,
        "/auth/confirm-code",
        &[("code", "999999"), ("next", "/users")],
    )
    .await;
    assert_eq!(location, "/users?code=wrong");
    let (_, location) = post_form(
        &app,
        &client,
        "/auth/confirm-code",
        &[("code", &recovery[0]), ("next", "/users")],
    )
    .await;
    assert_eq!(location, "/users?code=ok");
    let (status, body) = reset(client).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_lost_device_is_reset_from_the_command_line() {
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let (name, password) = new_operator(&admin).await;
    let operator = Staff::sign_in(&app, &name, &password).await;
    enrol(&operator).await;

    let output = users_async(&app, &["reset-mfa", &name], None).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 session(s) ended"));

    let status = operator.get("/auth/session").await.status();
    assert_eq!(status, StatusCode::UNAUTHORIZED, "their sessions ended");
    let again = Staff::sign_in(&app, &name, &password).await;
    let (_, mfa): (StatusCode, Value) = again.call("get_mfa_status", &[]).await;
    assert_eq!(mfa["enrolled"], false, "the password alone signs in again");
    let audited = app
        .query_i64(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM staff_audit WHERE action = 'staff.mfa_reset'",
        )
        .await;
    assert_eq!(audited, 1);
}
