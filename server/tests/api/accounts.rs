//! Passwords after the first sign-in: `server users` from the command line (the way back
//! in after a lost admin password), a user changing their own password, and an admin's
//! reset that makes the user choose a new one before anything else.
use std::io::Write;
use std::process::{Command, Output, Stdio};

use reqwest::header::{LOCATION, ORIGIN};
use reqwest::StatusCode;

use crate::dashboard::Staff;
use crate::helpers::*;

/// `server users ARGS` against the test's database, with `stdin` fed to it. Off the
/// test's runtime: the command waits for the SQLite writer lock like any writer, and the
/// test's server must keep serving meanwhile.
pub(crate) async fn users_async(app: &TestApp, args: &[&str], stdin: Option<&str>) -> Output {
    let database_url = app.database_url.clone();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let stdin = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .arg("users")
            .args(&args)
            .env("DATABASE_URL", &database_url)
            .env("USER", "ops-on-call")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server binary runs");
        let mut input = child.stdin.take().expect("stdin is piped");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("write stdin");
        }
        drop(input);
        child.wait_with_output().expect("server users finishes")
    })
    .await
    .expect("the command thread")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The value after `password: ` in a command's output.
fn printed_password(output: &Output) -> String {
    stdout(output)
        .lines()
        .find_map(|line| line.strip_prefix("password: "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no password printed:\n{}", stdout(output)))
        .to_owned()
}

/// A sign-in's answer: 303 to `/` when the password is right.
async fn signs_in(app: &TestApp, username: &str, password: &str) -> bool {
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(format!("{}/auth/login", app.base_url))
        .header(ORIGIN, &app.base_url)
        .form(&[
            ("username", username),
            ("password", password),
            ("next", "/"),
        ])
        .send()
        .await
        .expect("sign in");
    response.status() == StatusCode::SEE_OTHER && response.headers()[LOCATION] == "/"
}

async fn audited(app: &TestApp, action: &str, actor_like: &str) -> i64 {
    app.query_i64(&format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM staff_audit WHERE action = {} AND actor LIKE {}",
        quote(action),
        quote(actor_like)
    ))
    .await
}

async fn must_change(app: &TestApp, username: &str) -> bool {
    app.query_i64(&format!(
        "SELECT CAST(CASE WHEN must_change_password THEN 1 ELSE 0 END AS BIGINT) AS n FROM staff_users \
         WHERE username = {}",
        quote(username)
    ))
    .await
        == 1
}

#[tokio::test]
async fn the_users_command_creates_lists_resets_and_disables_and_is_audited() {
    let app = spawn_app().await;
    let name = unique_id("carol").to_lowercase();

    let created = users_async(&app, &["create", &name, "--role", "operator"], None).await;
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    let first = printed_password(&created);
    assert!(
        signs_in(&app, &name, &first).await,
        "the printed password works"
    );
    assert!(!must_change(&app, &name).await);

    let list = users_async(&app, &["list"], None).await;
    assert_eq!(list.status.code(), Some(0));
    let row = stdout(&list)
        .lines()
        .find(|line| line.starts_with(&name))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("{name} not listed:\n{}", stdout(&list)));
    assert!(row.contains("operator") && row.contains("enabled"), "{row}");

    // A generated password is printed and must be changed at the next sign-in.
    let reset = users_async(&app, &["reset-password", &name.to_uppercase()], None).await;
    assert_eq!(reset.status.code(), Some(0), "{}", stderr(&reset));
    let second = printed_password(&reset);
    assert!(
        !signs_in(&app, &name, &first).await,
        "the old password stops working"
    );
    assert!(signs_in(&app, &name, &second).await);
    assert!(must_change(&app, &name).await);

    // One read from standard input is the user's own: kept.
    let chosen = "a-password-chosen-by-carol";
    let reset = users_async(
        &app,
        &["reset-password", &name, "--password-stdin"],
        Some(&format!("{chosen}\n")),
    )
    .await;
    assert_eq!(reset.status.code(), Some(0), "{}", stderr(&reset));
    assert!(
        !stdout(&reset).contains(chosen),
        "a password from stdin is not echoed"
    );
    assert!(signs_in(&app, &name, chosen).await);
    assert!(!must_change(&app, &name).await);

    let weak = users_async(
        &app,
        &["reset-password", &name, "--password-stdin"],
        Some("short\n"),
    )
    .await;
    assert_eq!(weak.status.code(), Some(1));
    assert!(stderr(&weak).contains("12"), "{}", stderr(&weak));

    let disabled = users_async(&app, &["disable", &name], None).await;
    assert_eq!(disabled.status.code(), Some(0), "{}", stderr(&disabled));
    assert!(
        !signs_in(&app, &name, chosen).await,
        "a disabled user cannot sign in"
    );
    let enabled = users_async(&app, &["enable", &name], None).await;
    assert_eq!(enabled.status.code(), Some(0));
    assert!(signs_in(&app, &name, chosen).await);

    // Refusals exit 1 and say why.
    let last_admin = users_async(&app, &["disable", "admin"], None).await;
    assert_eq!(last_admin.status.code(), Some(1));
    assert!(
        stderr(&last_admin).contains("last enabled admin"),
        "{}",
        stderr(&last_admin)
    );
    let nobody = users_async(&app, &["enable", "nobody-at-all"], None).await;
    assert_eq!(nobody.status.code(), Some(1));
    assert!(stderr(&nobody).contains("nobody-at-all"));
    let taken = users_async(&app, &["create", &name, "--role", "support"], None).await;
    assert_eq!(taken.status.code(), Some(1));

    let cli = "command line (ops-on-call)";
    assert_eq!(audited(&app, "staff.user_created", cli).await, 1);
    assert_eq!(audited(&app, "staff.password_reset", cli).await, 2);
    assert_eq!(audited(&app, "staff.user_disabled", cli).await, 1);
    assert_eq!(audited(&app, "staff.user_enabled", cli).await, 1);
}

#[tokio::test]
async fn a_lost_admin_password_is_reset_from_the_command_line() {
    let app = spawn_app().await;
    let reset = users_async(&app, &["reset-password", "admin"], None).await;
    assert_eq!(reset.status.code(), Some(0), "{}", stderr(&reset));
    let password = printed_password(&reset);
    let admin = Staff::sign_in(&app, "admin", &password).await;
    // Until the admin chooses their own password, every page leads to the account page
    // and every server function but the change is refused.
    for page in ["/", "/users", "/tx/anything", "/audit?page=2"] {
        let response = admin.get(page).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{page}");
        assert_eq!(response.headers()[LOCATION], "/account", "{page}");
    }
    assert_eq!(admin.get("/account").await.status(), StatusCode::OK);
    let (status, body) = admin.call("list_users", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.to_string().contains("new password"), "{body}");
    let audit_csv = admin.get("/console/audit.csv").await;
    assert_eq!(audit_csv.status(), StatusCode::FORBIDDEN);

    let new = "the-admins-own-password";
    let (status, body) = admin
        .call(
            "change_password",
            &[("current", &password), ("new", new), ("repeat", new)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!must_change(&app, "admin").await);
    // The change ended every session, this one too.
    assert_eq!(
        admin.get("/").await.headers()[LOCATION],
        "/login?next=%2F",
        "signed out"
    );
    let admin = Staff::sign_in(&app, "admin", new).await;
    assert_eq!(admin.get("/").await.status(), StatusCode::OK);
    let (status, _) = admin.call("list_users", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(audited(&app, "staff.password_changed", "admin").await, 1);
}

#[tokio::test]
async fn changing_ones_own_password_checks_the_current_one_and_the_policy() {
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let support = Staff::with_role(&app, &admin, "support").await;
    let (status, body) = support.call("current_viewer", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let username = body["username"].as_str().expect("a username").to_owned();
    let current = format!("{username}-password");
    for (form, complaint) in [
        (
            [
                "wrong-current-password",
                "a-new-long-password",
                "a-new-long-password",
            ],
            "current password",
        ),
        (
            [
                current.as_str(),
                "a-new-long-password",
                "another-long-password",
            ],
            "differ",
        ),
        ([current.as_str(), "short", "short"], "12"),
        (
            [current.as_str(), current.as_str(), current.as_str()],
            "differ from the current",
        ),
    ] {
        let (status, body) = support
            .call(
                "change_password",
                &[("current", form[0]), ("new", form[1]), ("repeat", form[2])],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}: {body}");
        assert!(body.to_string().contains(complaint), "{form:?}: {body}");
    }
    assert!(signs_in(&app, &username, &current).await, "nothing changed");
    let new = "a-new-long-password";
    let (status, body) = support
        .call(
            "change_password",
            &[("current", &current), ("new", new), ("repeat", new)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!signs_in(&app, &username, &current).await);
    assert!(signs_in(&app, &username, new).await);
    assert_eq!(audited(&app, "staff.password_changed", &username).await, 1);
}

#[tokio::test]
async fn an_admins_reset_shows_the_password_once_and_forces_a_change() {
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let operator = Staff::with_role(&app, &admin, "operator").await;
    let (_, me) = operator.call("current_viewer", &[]).await;
    let username = me["username"].as_str().expect("username").to_owned();
    let user_id = me["user_id"].as_i64().expect("user id").to_string();

    let (status, _) = operator
        .call("reset_user_password", &[("user_id", &user_id)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only admins reset passwords");

    let (status, body) = admin
        .call("reset_user_password", &[("user_id", &user_id)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let password = body.as_str().expect("the generated password").to_owned();
    assert!(password.len() >= 12);
    // The reset ended the operator's session: sent to sign in, not to the account page.
    let after = operator.get("/").await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert!(
        after.headers()[LOCATION]
            .to_str()
            .expect("ascii")
            .starts_with("/login"),
        "{:?}",
        after.headers()[LOCATION]
    );
    assert!(must_change(&app, &username).await);
    let (_, list) = admin.call("list_users", &[]).await;
    let row = list["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|row| row["username"] == username.as_str())
        .expect("the user is listed")
        .clone();
    assert_eq!(row["must_change_password"], true);

    let operator = Staff::sign_in(&app, &username, &password).await;
    assert_eq!(
        operator.get("/pending").await.headers()[LOCATION],
        "/account"
    );
    let (status, _) = operator.call("get_pending", &[("page", "0")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let new = "operator-chose-this-one";
    let (status, body) = operator
        .call(
            "change_password",
            &[("current", &password), ("new", new), ("repeat", new)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let operator = Staff::sign_in(&app, &username, new).await;
    assert_eq!(operator.get("/pending").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn guessing_the_current_password_on_the_account_page_is_throttled() {
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let support = Staff::with_role(&app, &admin, "support").await;
    let (_, me) = support.call("current_viewer", &[]).await;
    let username = me["username"].as_str().expect("username").to_owned();
    let current = format!("{username}-password");
    let new = "a-new-long-password";
    for guess in 0..5 {
        let wrong = format!("wrong-guess-number-{guess}");
        let (status, body) = support
            .call(
                "change_password",
                &[("current", &wrong), ("new", new), ("repeat", new)],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.to_string().contains("current password"), "{body}");
    }
    // The sixth try is refused before the password is looked at, even the right one.
    let (status, body) = support
        .call(
            "change_password",
            &[("current", &current), ("new", new), ("repeat", new)],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("too many"), "{body}");
    assert!(!signs_in(&app, &username, new).await, "nothing changed");
}
