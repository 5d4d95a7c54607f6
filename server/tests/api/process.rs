//! The real binary, configured only through its environment as deployments and harnesses
//! start it: default SQLite file under ./data, a generated operator token that is printed
//! and works, `/readyz`, and a graceful stop on SIGTERM.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct RunningBinary {
    child: Child,
    base_url: String,
    operator_token: String,
    admin_password: String,
}

impl Drop for RunningBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Starts the binary in `workdir` with no DATABASE_URL and no operator token, and reads
/// the address and the generated token from its standard output. `demo` is the value of
/// `WALLET_DEMO`; `None` leaves it unset, as the README's first command does.
fn start_binary(workdir: &std::path::Path, demo: Option<&str>) -> RunningBinary {
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    command
        .current_dir(workdir)
        .env_remove("DATABASE_URL")
        .env_remove("WALLET_OPERATOR_TOKEN")
        .env_remove("WALLET_DEMO")
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn");
    if let Some(demo) = demo {
        command.env("WALLET_DEMO", demo);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut base_url = None;
    let mut operator_token = None;
    let mut admin_password = None;
    // The banner: "  dashboard:      http://…/   sign in as admin / <password>  (…)" and
    // "  operator token: <token>  (…)".
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref().take(20) {
        let line = line.expect("stdout is readable");
        let line = line.trim_start();
        if let Some(rest) = line.strip_prefix("dashboard:") {
            let mut words = rest.split_whitespace();
            base_url = words.next().map(|url| url.trim_end_matches('/').to_owned());
            admin_password = rest
                .split_once("sign in as admin / ")
                .and_then(|(_, after)| after.split_whitespace().next())
                .map(str::to_owned);
        }
        if let Some(rest) = line.strip_prefix("operator token:") {
            operator_token = rest.split_whitespace().next().map(str::to_owned);
        }
        if base_url.is_some() && operator_token.is_some() {
            break;
        }
    }
    // Keep reading: a closed pipe would make the server's next log line fail.
    std::thread::spawn(move || lines.for_each(drop));
    RunningBinary {
        child,
        base_url: base_url.expect("the binary prints its address"),
        operator_token: operator_token.expect("the binary prints the generated token"),
        admin_password: admin_password.expect("the first start prints the admin password"),
    }
}

#[tokio::test]
async fn the_binary_runs_from_its_environment_and_stops_gracefully_on_sigterm() {
    let workdir =
        std::env::temp_dir().join(format!("oncewallet-bin-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&workdir).unwrap();
    // The demo's traffic has nothing to do with this test; it only adds load.
    let mut binary = start_binary(&workdir, Some("0"));
    let client = reqwest::Client::new();

    let ready = client
        .get(format!("{}/readyz", binary.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert!(
        workdir.join("data/oncewallet.db").exists(),
        "the default SQLite file is created under ./data"
    );

    let unknown_player = client
        .get(format!("{}/operator/v1/players/nobody", binary.base_url))
        .bearer_auth(&binary.operator_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        unknown_player.status(),
        404,
        "the printed token is accepted"
    );
    let wrong_token = client
        .get(format!("{}/operator/v1/players/nobody", binary.base_url))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_token.status(), 401);

    sign_in_as_admin(&binary).await;

    let pid = binary.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = binary.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server stops within 10 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        status.success(),
        "a SIGTERM stop exits cleanly, got {status:?}"
    );
    let _ = std::fs::remove_dir_all(&workdir);
}

/// Signs in with the password the banner printed and, as the first sign-in asks, sets up
/// the second factor (the default requires one of admins); returns the session cookie.
async fn sign_in_as_admin(binary: &RunningBinary) -> String {
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in = no_redirects
        .post(format!("{}/auth/login", binary.base_url))
        .header("origin", &binary.base_url)
        .form(&[
            ("username", "admin"),
            ("password", binary.admin_password.as_str()),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        sign_in.headers()["location"],
        "/",
        "the printed admin password signs in to the console"
    );
    let cookie = crate::helpers::session_cookie_pair(sign_in.headers()).expect("a session cookie");
    let call = |function: &str, form: &[(&str, &str)]| {
        no_redirects
            .post(format!("{}/api/{function}", binary.base_url))
            .header("cookie", &cookie)
            .header("origin", &binary.base_url)
            .form(form)
            .send()
    };
    let setup: serde_json::Value = call("begin_mfa_setup", &[])
        .await
        .unwrap()
        .json()
        .await
        .expect("the set-up answers JSON");
    let secret = setup["secret"].as_str().expect("a secret");
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .expect("base32");
    let totp = totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        None,
        "admin".into(),
    )
    .expect("totp");
    let code = totp.generate_current().expect("clock");
    let confirmed = call("confirm_mfa_setup", &[("code", &code)]).await.unwrap();
    assert_eq!(confirmed.status(), 200, "the second factor is set up");
    cookie
}

/// Started as the README's first command starts it (no `WALLET_DEMO`), the
/// server plays demo traffic against itself, and within a minute the console's overview
/// counts first executions and duplicates and the reconciliation page lists the planted
/// statement findings, with the notice that they are planted.
#[tokio::test]
async fn the_demo_fills_the_console_within_a_minute() {
    let workdir =
        std::env::temp_dir().join(format!("oncewallet-demo-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&workdir).unwrap();
    let binary = start_binary(&workdir, None);
    let cookie = sign_in_as_admin(&binary).await;
    let client = reqwest::Client::new();
    let call = |function: &'static str, form: &'static [(&'static str, &'static str)]| {
        let request = client
            .post(format!("{}/api/{function}", binary.base_url))
            .header("cookie", &cookie)
            .header("origin", &binary.base_url)
            .form(form);
        async move {
            let response = request.send().await.expect("server function");
            assert_eq!(response.status(), 200, "{function}");
            response.json::<serde_json::Value>().await.expect("JSON")
        }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let (overview, reconciliation) = loop {
        let overview = call("get_overview", &[("window", "FifteenMinutes")]).await;
        let reconciliation = call(
            "get_reconciliation",
            &[
                ("filter[kind]", "MISSING_IN_WALLET"),
                ("filter[status]", ""),
            ],
        )
        .await;
        let totals = &overview["totals"]["outcomes"];
        let busy = totals["first"].as_i64() > Some(0) && totals["replays"].as_i64() > Some(0);
        let findings = reconciliation["findings"]
            .as_array()
            .is_some_and(|findings| !findings.is_empty());
        if busy && findings {
            break (overview, reconciliation);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the demo did not fill the console within 60 s:\n{overview}\n{reconciliation}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(reconciliation["demo"], true, "{reconciliation}");
    assert!(
        overview["providers"].as_array().map_or(0, Vec::len) >= 2,
        "the demo plays several providers: {overview}"
    );
    drop(binary);
    let _ = std::fs::remove_dir_all(&workdir);
}
