//! The command line as a person meets it: `--help` answers, a mistake exits 2 with usage
//! and starts nothing (no server, no `data/` folder), every setting is listed with its
//! environment variable.
use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary in `workdir` with `args` and no environment but `PATH`, so that no
/// setting of the developer's shell changes the answer.
fn server(workdir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_server"))
        .current_dir(workdir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .output()
        .expect("the server binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn empty_dir() -> tempdir::Dir {
    tempdir::Dir::new("oncewallet-cli")
}

/// A directory removed when the test ends.
mod tempdir {
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new(prefix: &str) -> Dir {
            let path =
                std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&path).expect("create a temporary directory");
            Dir(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn assert_nothing_created(dir: &Path) {
    let entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read the directory")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert!(entries.is_empty(), "the command created {entries:?}");
}

#[test]
fn help_lists_every_subcommand_and_every_setting_with_its_variable() {
    let dir = empty_dir();
    let output = server(&dir.0, &["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = text(&output.stdout);
    for subcommand in [
        "serve",
        "reconcile",
        "verify-trail",
        "seed",
        "simulate",
        "bench",
        "users",
    ] {
        assert!(
            help.lines()
                .any(|line| line.trim_start().starts_with(subcommand)),
            "{subcommand} missing from:\n{help}"
        );
    }
    // The README's configuration table lists the same variables (checked below).
    for variable in server::cli::serve_variables() {
        assert!(
            help.contains(&format!("[env: {variable}")),
            "{variable} missing from --help"
        );
    }
    assert_nothing_created(&dir.0);
}

/// Every setting the server reads: those of `server serve`, as the command line declares
/// them, and the failpoint, a test hook with no flag.
fn settings() -> Vec<String> {
    let mut names = server::cli::serve_variables();
    names.push("WALLET_FAILPOINT".to_owned());
    names.sort_unstable();
    names.dedup();
    names
}

#[test]
fn the_readme_configuration_table_matches_the_settings() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("read README.md");
    // Rows: | `VARIABLE` | `--flag` | default | meaning |
    let rows: Vec<(String, Option<String>)> = readme
        .split("## Configuration")
        .nth(1)
        .expect("a Configuration section")
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let variable = cells[1].trim_matches('`').to_owned();
            let flag = cells[2]
                .starts_with("`--")
                .then(|| cells[2].trim_matches('`').to_owned());
            (variable, flag)
        })
        .collect();
    let mut listed: Vec<String> = rows.iter().map(|(variable, _)| variable.clone()).collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        settings(),
        "the README's table against the command line"
    );
    assert!(listed.len() >= 20, "{listed:?}");
    let dir = empty_dir();
    let help = text(&server(&dir.0, &["--help"]).stdout);
    for (variable, flag) in &rows {
        if let Some(flag) = flag {
            let entry = help
                .split(&format!("{flag} "))
                .nth(1)
                .unwrap_or_else(|| panic!("{flag} is not in --help"));
            let entry = entry.split("\n\n  ").next().unwrap_or_default();
            assert!(
                entry.contains(&format!("[env: {variable}")),
                "{flag} is not the flag of {variable}: {entry}"
            );
        }
    }
}

#[test]
fn help_of_a_subcommand_answers_and_starts_nothing() {
    let dir = empty_dir();
    for args in [
        &["help", "seed"][..],
        &["seed", "--help"],
        &["reconcile", "--help"],
        &["verify-trail", "--help"],
        &["simulate", "--help"],
        &["bench", "--help"],
        &["bench", "console", "--help"],
        &["users", "--help"],
        &["users", "reset-password", "--help"],
        &["serve", "--help"],
    ] {
        let output = server(&dir.0, args);
        assert_eq!(output.status.code(), Some(0), "server {args:?}");
        assert!(
            text(&output.stdout).contains("Usage: server "),
            "server {args:?} printed:\n{}",
            text(&output.stdout)
        );
    }
    let seed = text(&server(&dir.0, &["help", "seed"]).stdout);
    assert!(seed.contains("--transactions <N>"), "{seed}");
    let version = server(&dir.0, &["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert!(text(&version.stdout).starts_with("server "));
    assert_nothing_created(&dir.0);
}

#[test]
fn a_mistake_exits_2_with_usage_and_starts_nothing() {
    let dir = empty_dir();
    for (args, complaint) in [
        (&["bogus"][..], "unrecognized subcommand 'bogus'"),
        (&["--bogus"], "unexpected argument '--bogus'"),
        (&["seed", "--bogus"], "unexpected argument '--bogus'"),
        (&["seed", "--transactions", "0"], "--transactions"),
        (&["verify-trail", "extra"], "unexpected argument 'extra'"),
        (
            &["reconcile", "--full", "--fast"],
            "unexpected argument '--fast'",
        ),
        (&["users"], "Usage: server users"),
        (
            &["users", "create", "x", "--role", "king"],
            "invalid value 'king'",
        ),
        (
            &["simulate", "--drop", "2", "--operator-token", "t"],
            "between 0 and 1",
        ),
        (
            &["bench", "--clients", "0", "--operator-token", "t"],
            "--clients",
        ),
        (&["--session-idle-minutes", "0"], "--session-idle-minutes"),
        (&["--demo", "maybe"], "--demo"),
    ] {
        let output = server(&dir.0, args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "server {args:?}: {stderr}");
        assert!(
            stderr.contains(complaint),
            "server {args:?} said:\n{stderr}"
        );
        assert!(
            stderr.contains("Usage: server") || stderr.contains("--help"),
            "server {args:?} gave no usage:\n{stderr}"
        );
        assert!(
            output.stdout.is_empty(),
            "server {args:?} printed to stdout"
        );
    }
    assert_nothing_created(&dir.0);
}

#[test]
fn a_bad_setting_in_the_environment_is_named() {
    let dir = empty_dir();
    let output = Command::new(env!("CARGO_BIN_EXE_server"))
        .current_dir(&dir.0)
        .env("WALLET_ORPHAN_AFTER_SECS", "soon")
        .env("WALLET_DEMO", " 0\r")
        .args(["reconcile", "--help"])
        .output()
        .expect("runs");
    // --help answers whatever the environment says.
    assert_eq!(output.status.code(), Some(0));
    let output = Command::new(env!("CARGO_BIN_EXE_server"))
        .current_dir(&dir.0)
        .env("WALLET_ORPHAN_AFTER_SECS", "soon")
        .env("WALLET_DEMO", " 0\r")
        .env("DATABASE_URL", "sqlite://nowhere/never.db")
        .arg("reconcile")
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("'soon'") && stderr.contains("--orphan-after-secs"),
        "{stderr}"
    );
    assert_nothing_created(&dir.0);
}

#[test]
fn spaces_around_a_setting_are_dropped() {
    let dir = empty_dir();
    let output = Command::new(env!("CARGO_BIN_EXE_server"))
        .current_dir(&dir.0)
        .env("WALLET_DEMO", " 0\r")
        .env("WALLET_SESSION_IDLE_MINUTES", "30 ")
        .env("DATABASE_URL", "sqlite://nowhere/never.db")
        .arg("reconcile")
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    // The settings parse; only the missing database is refused.
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no SQLite database at"), "{stderr}");
    assert_nothing_created(&dir.0);
}

#[test]
fn the_tools_refuse_a_database_that_is_not_there_and_create_nothing() {
    let dir = empty_dir();
    for args in [
        &["users", "list"][..],
        &[
            "users",
            "reset-password",
            "admin",
            "--database-url",
            "sqlite://data/typo.db?mode=rwc",
        ],
        &["reconcile"],
        &["verify-trail"],
        &["bench", "console"],
    ] {
        let output = server(&dir.0, args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "server {args:?}: {stderr}");
        assert!(
            stderr.contains("no SQLite database at"),
            "server {args:?}: {stderr}"
        );
    }
    assert_nothing_created(&dir.0);
}
