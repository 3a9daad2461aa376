//! A throwaway PostgreSQL cluster for a test: `initdb` into the test's scratch directory,
//! `pg_ctl start` on a reserved loopback port (TCP only, no shared socket directory), trust
//! authentication for the superuser `kilowatch`, removed with the scratch directory.
//!
//! PostgreSQL refuses to run as root: as root, the cluster belongs to `nobody` and its
//! programs run through `runuser`. The binaries are Debian's (/usr/lib/postgresql/<v>/bin,
//! the newest) or on PATH; a missing PostgreSQL fails the test (apt-get install postgresql).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::{free_port, wait_for_port};

/// The superuser of the test cluster.
pub const USER: &str = "kilowatch";

pub struct Postgres {
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    /// The user the server runs as, when the test runs as root.
    owner: Option<&'static str>,
    running: bool,
}

/// The directory holding initdb, pg_ctl and psql.
fn bin_dir() -> PathBuf {
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    // By major version, newest last.
    debian.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(d) = debian
        .into_iter()
        .rev()
        .find(|d| d.join("initdb").is_file())
    {
        return d;
    }
    let initdb = crate::require("initdb", "apt-get install postgresql");
    initdb.parent().expect("initdb's directory").to_owned()
}

impl Postgres {
    /// Creates and starts a cluster under `dir` (a scratch directory).
    pub fn start(dir: &Path) -> Postgres {
        let bin = bin_dir();
        let root = dir.join("postgres");
        std::fs::create_dir_all(&root).expect("postgres dir");
        // SAFETY: geteuid has no preconditions.
        let owner = (unsafe { libc::geteuid() } == 0).then_some("nobody");
        if let Some(user) = owner {
            // The server's user must reach its directory through the test's and every
            // directory above it (run-all.sh's scratch root is mode 700): add search (o+x)
            // where it is missing, never read.
            use std::os::unix::fs::PermissionsExt as _;
            for d in dir.ancestors() {
                let Ok(meta) = std::fs::metadata(d) else {
                    continue;
                };
                let mode = meta.permissions().mode();
                if mode & 0o001 == 0 {
                    std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode | 0o011))
                        .unwrap_or_else(|e| panic!("chmod o+x {}: {e}", d.display()));
                }
            }
            let status = Command::new("chown")
                .args([user, root.to_str().expect("utf-8 path")])
                .status()
                .expect("chown");
            assert!(status.success(), "chown {user} {}", root.display());
        }
        let mut pg = Postgres {
            port: free_port(),
            bin,
            data: root.join("data"),
            log: root.join("server.log"),
            owner,
            running: false,
        };
        let data = pg.data.to_str().expect("utf-8 path").to_owned();
        let out = pg.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                USER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        assert!(out.status.success(), "initdb failed: {}", text(&out));
        pg.start_server();
        pg
    }

    /// Runs one of the cluster's programs as its owner.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let path = self.bin.join(program);
        let mut cmd = match self.owner {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&path);
                c
            }
            None => Command::new(&path),
        };
        cmd.args(args)
            .current_dir(self.data.parent().expect("cluster root"))
            .env("LC_ALL", "C")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()))
    }

    fn start_server(&mut self) {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off",
            self.port
        );
        let (data, log) = (
            self.data.to_str().expect("utf-8 path").to_owned(),
            self.log.to_str().expect("utf-8 path").to_owned(),
        );
        let out = self.run(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-o", &opts, "-w", "start"],
        );
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}\n{}",
            text(&out),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
        assert!(
            wait_for_port(self.port, Duration::from_secs(30)),
            "postgres did not listen"
        );
        self.running = true;
    }

    /// libpq connection string of the `postgres` database as the superuser.
    pub fn url(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user={USER} dbname=postgres",
            self.port
        )
    }

    /// Runs SQL through psql; returns the rows, `|`-separated, one a line.
    pub fn query(&self, sql: &str) -> String {
        let port = self.port.to_string();
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &port, "-U", USER, "-d", "postgres"])
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("psql");
        assert!(out.status.success(), "psql `{sql}` failed: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
    }

    /// The server's log, for a failing test.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn stop(&mut self) {
        if self.running {
            let data = self.data.to_str().expect("utf-8 path").to_owned();
            let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
            self.running = false;
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("----- postgres log -----\n{}", self.log());
        }
        self.stop();
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
