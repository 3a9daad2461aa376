//! `kilowatch-bench fault-suite`: the whole stack (simulated meters, `kilowatch-agent run`,
//! mosquitto, `kilowatch-gateway run` into SQLite) under the faults a plant meets, one fresh
//! stack per fault. Per fault it prints polls made (the agent's per-device numbering, read from
//! its spool after a clean stop), polls stored (one active_power sample per poll in SQLite),
//! lost (made but not stored), duplicated (received again by the gateway and stored once), and
//! the recovery time (from the end of the fault until the gateway has every device's newest
//! poll and no hole open).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use super::{flag, sibling, site_config, wait_port};

struct Proc {
    child: std::process::Child,
}

impl Proc {
    fn spawn(program: &Path, args: &[&str], log: &Path) -> anyhow::Result<Self> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let child = Command::new(program)
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(out.try_clone()?)
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        Ok(Self { child })
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait (SIGKILL after 30 s).
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill9();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Broker {
    /// The queue settings of the shipped gateway/deploy/mosquitto.conf.
    Production,
    /// mosquitto's defaults: 1000 queued messages per client, then silent drops.
    Default,
}

/// One stack in its own directory.
struct Stack {
    dir: PathBuf,
    site: PathBuf,
    devices: usize,
    mq_port: u16,
    http: u16,
    spool: PathBuf,
    mosquitto: PathBuf,
    gateway_bin: PathBuf,
    agent_bin: PathBuf,
    broker_conf: PathBuf,
    broker: Option<Proc>,
    gateway: Option<Proc>,
    agent: Option<Proc>,
    _sim: Proc,
}

impl Stack {
    fn start(name: &str, devices: usize, broker: Broker, tmpfs: bool) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("kw-fault-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let spool = dir.join("spool");
        std::fs::create_dir_all(&spool)?;
        if tmpfs {
            let status = Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
                .arg(&spool)
                .status()?;
            if !status.success() {
                bail!("cannot mount a tmpfs for the spool (needs root)");
            }
        }
        let mosquitto = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .context("mosquitto is not installed")?;
        // Every port asked of the kernel at once, each listener held until all are chosen: a
        // port released at once can come back on the next ask, and two meters would share it.
        let held = (0..devices + 2)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut ports = held
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<Result<Vec<_>, _>>()?;
        drop(held);
        let (mq_port, http) = (ports.pop().expect("port"), ports.pop().expect("port"));
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        let queue = match broker {
            Broker::Production => "max_queued_messages 500000\nmax_queued_bytes 1073741824\nmax_inflight_messages 100\n",
            Broker::Default => "",
        };
        let broker_conf = dir.join("mosquitto.conf");
        std::fs::write(
            &broker_conf,
            format!(
                "user {user}\nlistener {mq_port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
                 persistence_location {}/\nautosave_interval 60\n{queue}",
                dir.display()
            ),
        )?;
        // Simulated meters on consecutive ports from a free one.
        let mut config = site_config(devices, 0, "1s");
        for (i, port) in ports.iter().enumerate() {
            config = config.replacen(
                &format!("127.0.0.1:{i}\""),
                &format!("127.0.0.1:{port}\""),
                1,
            );
        }
        let config = config
            .replace("127.0.0.1:1883", &format!("127.0.0.1:{mq_port}"))
            .replacen(
                "\n[mqtt]",
                &format!(
                    "\n[agent]\nspool_dir = \"{}\"\nmetrics = \"off\"\nhealth_interval = \"5s\"\n\
                     [gateway]\nhttp = \"127.0.0.1:{http}\"\ndatabase = \"{}\"\n\n[mqtt]",
                    spool.display(),
                    dir.join("kw.db").display()
                ),
                1,
            );
        let site = dir.join("site.toml");
        std::fs::write(&site, config)?;
        let gateway_bin = sibling("kilowatch-gateway")?;
        let agent_bin = sibling("kilowatch-agent")?;
        let sim = Proc::spawn(
            &gateway_bin,
            &["simulate", "--config", site.to_str().unwrap()],
            &dir.join("simulate.log"),
        )?;
        for &port in &ports {
            wait_port(port, "simulator")?;
        }
        let mut stack = Self {
            dir,
            site,
            devices,
            mq_port,
            http,
            spool,
            mosquitto,
            gateway_bin,
            agent_bin,
            broker_conf,
            broker: None,
            gateway: None,
            agent: None,
            _sim: sim,
        };
        stack.start_broker()?;
        stack.start_gateway()?;
        // The gateway's subscription first: the broker keeps nothing for one that is not there.
        wait(Duration::from_secs(30), || {
            health(stack.http).ok()?["ingest"]["mqtt_subscribed"]
                .as_bool()?
                .then_some(())
        })
        .context("the gateway did not subscribe")?;
        stack.start_agent()?;
        Ok(stack)
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }

    fn start_broker(&mut self) -> anyhow::Result<()> {
        let conf = self.broker_conf.to_str().unwrap().to_owned();
        self.broker = Some(Proc::spawn(
            &self.mosquitto,
            &["-c", &conf],
            &self.log("mosquitto"),
        )?);
        wait_port(self.mq_port, "mosquitto")
    }

    fn start_gateway(&mut self) -> anyhow::Result<()> {
        let site = self.site.to_str().unwrap().to_owned();
        self.gateway = Some(Proc::spawn(
            &self.gateway_bin,
            &["run", "--config", &site],
            &self.log("gateway"),
        )?);
        wait_port(self.http, "gateway")
    }

    fn start_agent(&mut self) -> anyhow::Result<()> {
        let site = self.site.to_str().unwrap().to_owned();
        self.agent = Some(Proc::spawn(
            &self.agent_bin,
            &["run", "--config", &site],
            &self.log("agent"),
        )?);
        Ok(())
    }

    /// Seconds until the gateway has no hole open and every device's newest stored poll is
    /// at most 3 s old (the agent's backlog is through).
    fn recover(&self, limit: Duration) -> anyhow::Result<f64> {
        let t = Instant::now();
        wait(limit, || {
            let h = health(self.http).ok()?;
            if h["ingest"]["sequence"]["missing"].as_u64()? != 0 {
                return None;
            }
            let newest = self.newest_per_device().ok()?;
            let now = chrono::Utc::now().timestamp_millis();
            (newest.len() == self.devices && newest.iter().all(|&ts| now - ts < 3_000))
                .then_some(())
        })
        .with_context(|| {
            format!(
                "not recovered within {limit:?}; logs in {}",
                self.dir.display()
            )
        })?;
        Ok(t.elapsed().as_secs_f64())
    }

    fn db(&self) -> anyhow::Result<rusqlite::Connection> {
        Ok(rusqlite::Connection::open_with_flags(
            self.dir.join("kw.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?)
    }

    fn newest_per_device(&self) -> anyhow::Result<Vec<i64>> {
        let db = self.db()?;
        let mut stmt = db.prepare(
            "SELECT max(x.ts) FROM samples x JOIN series s ON s.id = x.series_id
             WHERE s.quantity = 'active_power' GROUP BY s.device",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stops the agent cleanly, lets the gateway drain, and counts.
    fn finish(mut self, fault: &str, recovery: f64) -> anyhow::Result<Row> {
        if let Some(mut a) = self.agent.take() {
            a.stop();
        }
        // Drained: the gateway's message count stands still for 3 s.
        let mut last = (u64::MAX, Instant::now());
        wait(Duration::from_secs(60), || {
            let n = health(self.http).ok()?["ingest"]["messages"].as_u64()?;
            if n != last.0 {
                last = (n, Instant::now());
            }
            (last.1.elapsed() > Duration::from_secs(3)).then_some(())
        })
        .context("the gateway did not settle")?;
        let h = health(self.http)?;
        let spool = kilowatch_agent::spool::Spool::open(kilowatch_agent::spool::SpoolConfig {
            dir: self.spool.clone(),
            budget: u64::MAX,
            fsync: false,
            // Read only the numbering: nothing may be deleted.
            retention: Duration::from_secs(10 * 365 * 86_400),
        })?;
        let db = self.db()?;
        let mut polled = 0;
        let mut stored = 0;
        for i in 0..self.devices {
            let device = format!("m{i:03}");
            polled += spool.last_seq(&device);
            let n: u64 = db.query_row(
                "SELECT count(*) FROM samples x JOIN series s ON s.id = x.series_id
                 WHERE s.quantity = 'active_power' AND s.device = ?1",
                [&device],
                |r| r.get(0),
            )?;
            stored += n;
        }
        let duplicated = h["ingest"]["sequence"]["duplicates"].as_u64().unwrap_or(0);
        let repaired = h["ingest"]["sequence"]["repaired"].as_u64().unwrap_or(0);
        let _ = Command::new("umount")
            .arg(&self.spool)
            .stderr(Stdio::null())
            .status();
        Ok(Row {
            fault: fault.to_owned(),
            polled,
            stored,
            lost: polled.saturating_sub(stored),
            duplicated,
            repaired,
            recovery,
        })
    }
}

fn health(http: u16) -> anyhow::Result<serde_json::Value> {
    super::health(http)
}

fn wait<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let t = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if t.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Row {
    fault: String,
    polled: u64,
    stored: u64,
    lost: u64,
    duplicated: u64,
    repaired: u64,
    recovery: f64,
}

/// Fills the spool's file system until a write fails; returns the filler file.
fn fill(dir: &Path) -> anyhow::Result<PathBuf> {
    use std::io::Write as _;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path)?;
    let block = vec![0u8; 64 << 10];
    while f.write_all(&block).and_then(|()| f.sync_data()).is_ok() {}
    Ok(path)
}

pub fn fault_suite(args: &[String]) -> anyhow::Result<()> {
    let devices: usize = flag(args, "--devices").unwrap_or("30").parse()?;
    let only = flag(args, "--only");
    let warm = Duration::from_secs(10);
    let limit = Duration::from_secs(240);
    type Scenario = fn(&mut Stack) -> anyhow::Result<()>;
    let scenarios: [(&str, Broker, bool, Scenario); 6] = [
        ("broker down 30 s", Broker::Production, false, |s| {
            if let Some(mut b) = s.broker.take() {
                b.stop();
            }
            std::thread::sleep(Duration::from_secs(30));
            s.start_broker()
        }),
        ("agent kill -9 ×5", Broker::Production, false, |s| {
            for _ in 0..5 {
                if let Some(mut a) = s.agent.take() {
                    a.kill9();
                }
                s.start_agent()?;
                std::thread::sleep(Duration::from_secs(5));
            }
            Ok(())
        }),
        (
            "gateway kill -9 (down 10 s)",
            Broker::Production,
            false,
            |s| {
                if let Some(mut g) = s.gateway.take() {
                    g.kill9();
                }
                std::thread::sleep(Duration::from_secs(10));
                s.start_gateway()
            },
        ),
        ("spool disk full 90 s", Broker::Production, true, |s| {
            let filler = fill(&s.spool)?;
            std::thread::sleep(Duration::from_secs(90));
            std::fs::remove_file(filler)?;
            Ok(())
        }),
        (
            "default mosquitto, gateway down 60 s",
            Broker::Default,
            false,
            |s| {
                if let Some(mut g) = s.gateway.take() {
                    g.kill9();
                }
                std::thread::sleep(Duration::from_secs(60));
                s.start_gateway()
            },
        ),
        (
            "poison messages (1.5 MB, 10 MB, junk, 100 unknown devices)",
            Broker::Production,
            false,
            |s| {
                let mut messages = vec![
                    (
                        "kilowatch/v1/bench/m000/data".to_owned(),
                        vec![b'x'; 1_572_864],
                    ),
                    (
                        "kilowatch/v1/bench/m001/data".to_owned(),
                        vec![b'{'; 10 << 20],
                    ),
                    (
                        "kilowatch/v1/bench/m002/data".to_owned(),
                        b"\xff\xfe not json".to_vec(),
                    ),
                ];
                for i in 0..100 {
                    let ts = chrono::Utc::now().to_rfc3339();
                    messages.push((
                    format!("kilowatch/v1/bench/ghost{i}/data"),
                    format!(r#"{{"version":1,"site":"bench","device":"ghost{i}","seq":1,"ts":"{ts}","readings":[]}}"#).into_bytes(),
                ));
                }
                super::publish_polls(s.mq_port, &messages)
            },
        ),
    ];
    println!("| fault | polled | stored | lost | duplicated | repaired by replay | recovery (s) |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut failed = false;
    for (i, (name, broker, tmpfs, fault)) in scenarios.into_iter().enumerate() {
        if only.is_some_and(|o| !o.split(',').any(|n| n.trim().parse() == Ok(i + 1))) {
            continue;
        }
        let run = || -> anyhow::Result<Row> {
            let mut stack = Stack::start(&format!("f{i}"), devices, broker, tmpfs)?;
            std::thread::sleep(warm);
            fault(&mut stack)?;
            let recovery = stack.recover(limit)?;
            // Run on a little after recovery, so late repairs and the end are counted too.
            std::thread::sleep(Duration::from_secs(5));
            stack.finish(name, recovery)
        };
        match run() {
            Ok(r) => {
                failed |= r.lost > 0;
                println!(
                    "| {} | {} | {} | {} | {} | {} | {:.1} |",
                    r.fault, r.polled, r.stored, r.lost, r.duplicated, r.repaired, r.recovery
                );
            }
            Err(e) => {
                failed = true;
                println!("| {name} | failed: {e:#} | | | | | |");
            }
        }
    }
    if failed {
        bail!("a fault lost readings or did not recover");
    }
    Ok(())
}
