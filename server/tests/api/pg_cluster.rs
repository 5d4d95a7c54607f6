//! A throwaway PostgreSQL cluster of one test's own, for the tests that do to a database
//! what no other test may share: stop it (`outage.rs`) or fill its disk (`full_disk.rs`).
//! It runs initdb and pg_ctl from /usr/lib/postgresql/*/bin, as the `postgres` user when
//! the tests run as root, on a free port.
use std::path::{Path, PathBuf};

use tokio::process::Command;

/// The newest PostgreSQL server binaries installed.
pub fn pg_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    dirs.sort_by_key(|dir| {
        dir.parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
}

/// A throwaway PostgreSQL cluster of this test's own, stopped and removed on drop.
pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_root: bool,
}

impl Cluster {
    pub async fn create(bin: PathBuf) -> Cluster {
        let dir =
            std::env::temp_dir().join(format!("oncewallet-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .await
            .is_ok_and(|out| out.stdout.starts_with(b"0\n"));
        if as_root {
            // PostgreSQL refuses to run as root: the cluster belongs to `postgres`.
            run("chown", &["-R", "postgres:", path(&dir)]).await;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cluster = Cluster {
            bin,
            dir,
            port,
            as_root,
        };
        let data = cluster.dir.join("data");
        cluster
            .pg(
                "initdb",
                &[
                    "-D",
                    path(&data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
            )
            .await;
        cluster
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub async fn start(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {}",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log");
        let data = self.dir.join("data");
        self.pg(
            "pg_ctl",
            &[
                "-D",
                path(&data),
                "-l",
                path(&log),
                "-w",
                "-t",
                "60",
                "-o",
                &options,
                "start",
            ],
        )
        .await;
    }

    /// An immediate shutdown: connections are cut, the next start recovers from the WAL.
    pub async fn stop(&self) {
        let data = self.dir.join("data");
        self.pg(
            "pg_ctl",
            &["-D", path(&data), "-m", "immediate", "-w", "stop"],
        )
        .await;
    }

    async fn pg(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let mut command = if self.as_root {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        let output = command
            .args(args)
            .kill_on_drop(true)
            .output()
            .await
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(
            output.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Teardown, after the test's own runtime work: a blocking stop is fine here.
        let data = self.dir.join("data");
        let pg_ctl = self.bin.join("pg_ctl");
        let mut command = if self.as_root {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&pg_ctl);
            command
        } else {
            std::process::Command::new(&pg_ctl)
        };
        let _ = command
            .args(["-D", path(&data), "-m", "immediate", "-w", "stop"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

async fn run(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .await
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(status.success(), "{program} {args:?} failed");
}
