//! Harness for the end-to-end tests: the project's real binaries and real third-party servers
//! (mosquitto), started on loopback ports reserved for the test (see [`free_port`]) and stopped
//! when the test ends.
//!
//! A missing dependency fails the test with the command that installs it; nothing is skipped.

pub mod alarm_rig;
pub mod postgres;
pub mod qemu;
pub mod smtp;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A built binary of this workspace (`kilowatch-agent`, `kilowatch-gateway`).
///
/// The test command builds them first (`cargo build --workspace --bins`); a plain
/// `cargo test --workspace` builds them too, since their packages are part of the run.
pub fn bin(name: &str) -> PathBuf {
    // The test executable lives in target/<profile>/deps/.
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not found: build the binaries first with `cargo build --workspace --bins` \
         (tests/run-all.sh does)",
        path.display()
    );
    path
}

/// Finds an executable in PATH or the usual sbin folders; fails the test if it is missing.
pub fn require(program: &str, install_hint: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from));
    dirs.into_iter()
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{program}` is required by this test and was not found. Install it ({install_hint}) \
                 or run tests/run-all.sh, which provisions every test dependency."
            )
        })
}

/// A loopback port for a child process to listen on, reserved for the rest of this test binary's
/// life against every other test binary on the machine (all of them run at once).
///
/// Most children cannot be told to bind port 0 and report back (mosquitto, influxd, the
/// simulated devices whose ports the agent's site file names), so instead: the port comes from
/// below the kernel's ephemeral range, where neither `bind(0)` nor an outgoing connection's
/// source port can land on it, and an exclusive lock on a per-port file in the temp directory
/// claims it among test processes. The lock dies with the process, even on SIGKILL.
pub fn free_port() -> u16 {
    static HELD: std::sync::Mutex<Vec<(u16, std::fs::File)>> = std::sync::Mutex::new(Vec::new());
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    let (lo, hi) = reservable_ports();
    let dir = std::env::temp_dir().join("kilowatch-e2e-ports");
    std::fs::create_dir_all(&dir).expect("port lock directory");
    // Start somewhere different in each process so concurrent binaries rarely contend.
    let span = u32::from(hi - lo);
    let seed = std::process::id()
        .wrapping_mul(2_654_435_761)
        .wrapping_add(held.len() as u32 * 7919);
    for i in 0..span {
        let port = lo + ((seed.wrapping_add(i)) % span) as u16;
        if held.iter().any(|(p, _)| *p == port) {
            continue;
        }
        let Ok(lock) = std::fs::File::create(dir.join(format!("{port}.lock"))) else {
            continue;
        };
        if lock.try_lock().is_err() {
            continue; // Another test binary holds it.
        }
        // Something outside the test suite may listen there.
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            held.push((port, lock));
            return port;
        }
    }
    panic!("no free loopback port in {lo}..{hi}");
}

/// Ports below the kernel's ephemeral range (`net.ipv4.ip_local_port_range`) and above the
/// well-known services'.
fn reservable_ports() -> (u16, u16) {
    let ephemeral_lo = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    assert!(
        ephemeral_lo > 12_000,
        "the ephemeral port range starts at {ephemeral_lo}: the tests need ports below it"
    );
    (10_000, ephemeral_lo)
}

/// A fresh scratch directory for one test, removed when the test passes and kept (with its
/// logs) when it fails, so a long run does not fill `/tmp`.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept the failed test's files in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A fresh scratch directory for one test (see [`Scratch`]). Bind it (`let dir = scratch(…)`):
/// a temporary would be removed at the end of its statement, under the processes using it.
pub fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("kilowatch-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    Scratch(dir)
}

/// A child process that is killed when dropped; its output goes to a log file that is printed
/// if the test fails.
pub struct Proc {
    pub name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, program: &Path, args: &[&str], dir: &Path) -> Proc {
        Self::spawn_with_env(name, program, args, dir, &[])
    }

    /// [`Proc::spawn`] with extra environment variables.
    pub fn spawn_with_env(
        name: &str,
        program: &Path,
        args: &[&str],
        dir: &Path,
        env: &[(&str, &str)],
    ) -> Proc {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        Proc {
            name: name.to_owned(),
            child: Some(child),
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the process has a SIGINT handler installed (`SigCgt` in /proc/PID/status):
    /// before that, in the first moments after exec, a Ctrl-C kills any program outright.
    pub fn wait_catches_sigint(&self, timeout: Duration) -> bool {
        let status = format!("/proc/{}/status", self.pid());
        wait_for(timeout, || {
            let text = std::fs::read_to_string(&status).ok()?;
            let mask = text.lines().find_map(|l| l.strip_prefix("SigCgt:"))?;
            let mask = u64::from_str_radix(mask.trim(), 16).ok()?;
            // Signal n is bit n - 1; SIGINT is 2.
            (mask & (1 << (libc::SIGINT - 1)) != 0).then_some(())
        })
        .is_some()
    }

    /// Sends SIGINT (what Ctrl-C sends) and waits for the exit status.
    pub fn interrupt(&mut self, within: Duration) -> Option<ExitStatus> {
        let status = Command::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -INT failed");
        let child = self.child.as_mut().expect("running");
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(s) = child.try_wait().expect("wait") {
                self.child = None;
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// SIGKILL: no chance to clean up, as in a crash or power cut.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!("----- {} log -----\n{}", self.name, self.log());
        }
    }
}

/// Polls `f` until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until something accepts TCP connections on `port`.
pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    wait_for(timeout, || {
        TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
    })
    .is_some()
}

/// `kilowatch-gateway simulate` on the site file, once each simulated device's port accepts.
pub fn start_sim(dir: &Path, config: &str, ports: &[u16]) -> Proc {
    let sim = Proc::spawn(
        "simulate",
        &bin("kilowatch-gateway"),
        &["simulate", "--config", config],
        dir,
    );
    for &p in ports {
        assert!(
            wait_for_port(p, Duration::from_secs(20)),
            "simulator port {p}:\n{}",
            sim.log()
        );
    }
    sim
}

/// `kilowatch-gateway run` then `kilowatch-agent run` on one site file, in that order: the agent
/// starts only once the gateway (HTTP on `http`) reports its broker subscription, see
/// [`wait_gateway_subscribed`]. Returns (gateway, agent).
pub fn start_gateway_then_agent(dir: &Path, config: &str, http: u16) -> (Proc, Proc) {
    let gateway = start_gateway("gateway", dir, config, http);
    let agent = Proc::spawn(
        "agent",
        &bin("kilowatch-agent"),
        &["run", "--config", config],
        dir,
    );
    (gateway, agent)
}

/// `kilowatch-gateway run` on a site file (its process and log called `name`), once it reports
/// its broker subscription on HTTP port `http`.
pub fn start_gateway(name: &str, dir: &Path, config: &str, http: u16) -> Proc {
    let gateway = Proc::spawn(
        name,
        &bin("kilowatch-gateway"),
        &["run", "--config", config],
        dir,
    );
    assert!(
        wait_gateway_subscribed(http, Duration::from_secs(20)),
        "the gateway did not subscribe:\n{}",
        gateway.log()
    );
    gateway
}

/// `kilowatch-gateway demo --history HISTORY` with its data in `dir/data`, serving HTTP on a
/// port the kernel picked (`--http 127.0.0.1:0`). Returns the process and, once the demo has
/// written its history and printed its URL, its address.
pub fn spawn_demo(dir: &Path, history: &str) -> (Proc, String) {
    let mut demo = spawn_demo_unwaited(dir, history);
    let addr = wait_printed_addr(&mut demo, "open http://", Duration::from_secs(300));
    (demo, addr)
}

/// [`spawn_demo`] without waiting for the demo to come up.
pub fn spawn_demo_unwaited(dir: &Path, history: &str) -> Proc {
    let data = dir.join("data");
    Proc::spawn(
        "demo",
        &bin("kilowatch-gateway"),
        &[
            "demo",
            "--http",
            "127.0.0.1:0",
            "--data",
            data.to_str().expect("UTF-8 path"),
            "--history",
            history,
        ],
        dir,
    )
}

/// The `host:port` a child printed after `prefix` (e.g. `open http://` for the demo, `kilowatch
/// gateway: http://` for `run`): how a child that bound port 0 says where it listens.
pub fn wait_printed_addr(proc: &mut Proc, prefix: &str, timeout: Duration) -> String {
    let found = wait_for(timeout, || {
        let log = proc.log();
        // The address ends at the URL's path slash (a line half written has none yet).
        let addr = log
            .split(prefix)
            .nth(1)
            .and_then(|rest| rest.split_once('/'))
            .map(|(addr, _)| addr.to_owned());
        // Stop early on a child that died instead.
        addr.or_else(|| (!proc.alive()).then(String::new))
    });
    match found {
        Some(addr) if !addr.is_empty() => addr,
        _ => panic!(
            "{} did not print `{prefix}ADDRESS`:\n{}",
            proc.name,
            proc.log()
        ),
    }
}

/// Waits until the gateway serving HTTP on `port` has its data subscription confirmed by the
/// broker. Start agents only after this: a broker keeps nothing for a subscription that does
/// not exist yet, so readings published before a gateway's first subscription are not its.
pub fn wait_gateway_subscribed(port: u16, timeout: Duration) -> bool {
    wait_health_subscribed(&format!("http://127.0.0.1:{port}/api/v1/health"), timeout)
}

/// [`wait_gateway_subscribed`] with the whole health URL, e.g. one carrying `?token=`.
pub fn wait_health_subscribed(url: &str, timeout: Duration) -> bool {
    wait_for(timeout, || {
        get_json(url).ok()?["ingest"]["mqtt_subscribed"]
            .as_bool()?
            .then_some(())
    })
    .is_some()
}

/// A mosquitto broker on a free loopback port, configured by the test.
pub struct Mosquitto {
    pub port: u16,
    pub proc: Proc,
    dir: PathBuf,
    conf: PathBuf,
    restarts: u32,
}

impl Mosquitto {
    pub fn start(dir: &Path) -> Mosquitto {
        let port = free_port();
        Self::start_with(
            dir,
            port,
            &format!("listener {port} 127.0.0.1\nallow_anonymous true\n"),
        )
    }

    /// Starts mosquitto with `listeners` (listener and auth lines); `port` is the one waited for.
    /// Sessions and queued messages persist in `dir` across [`Mosquitto::restart`].
    pub fn start_with(dir: &Path, port: u16, listeners: &str) -> Mosquitto {
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                // As root, mosquitto would switch to its own user and could then not read the
                // test's key files or write its persistence file in the scratch directory.
                "user {user}\n{listeners}\npersistence true\npersistence_location {}/\nautosave_interval 1\n\
                 max_queued_messages 1000000\nmax_inflight_messages 0\nlog_dest stdout\n",
                dir.display(),
                user = std::env::var("USER").unwrap_or_else(|_| "root".into()),
            ),
        )
        .expect("mosquitto.conf");
        let proc = Self::spawn(dir, &conf, port, "mosquitto");
        Mosquitto {
            port,
            proc,
            dir: dir.to_owned(),
            conf,
            restarts: 0,
        }
    }

    fn spawn(dir: &Path, conf: &Path, port: u16, name: &str) -> Proc {
        let program = require("mosquitto", "apt-get install mosquitto");
        let proc = Proc::spawn(
            name,
            &program,
            &["-c", conf.to_str().expect("utf-8 path")],
            dir,
        );
        assert!(
            wait_for_port(port, Duration::from_secs(10)),
            "mosquitto did not listen on {port}"
        );
        proc
    }

    /// Stops the broker (SIGTERM, so it saves its sessions).
    pub fn stop(&mut self) {
        self.proc.interrupt(Duration::from_secs(10));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts it again on the same port with the same configuration.
    pub fn restart(&mut self) {
        self.restarts += 1;
        let name = format!("mosquitto-{}", self.restarts);
        self.proc = Self::spawn(&self.dir, &self.conf, self.port, &name);
    }
}

/// An HTTP client that gives up after 15 s: a server that stopped answering must fail the test,
/// not hang it.
pub fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(15)))
        .build()
        .into()
}

/// GET a JSON document.
pub fn get_json(url: &str) -> Result<serde_json::Value, String> {
    let mut res = http().get(url).call().map_err(|e| e.to_string())?;
    res.body_mut()
        .read_json::<serde_json::Value>()
        .map_err(|e| e.to_string())
}

/// An API call that may answer an error: (status, JSON body), panicking on a body that is not
/// JSON. A 120 s limit: some analyses of a long demo history take a while in a debug build.
fn call_json(
    req: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    url: &str,
) -> (u16, serde_json::Value) {
    let mut res = req.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = res.status().as_u16();
    let body = res.body_mut().read_to_string().unwrap_or_default();
    let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"));
    (status, v)
}

fn api_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(120)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// GET `url`: (status, JSON body), whatever the status.
pub fn get_status_json(url: &str) -> (u16, serde_json::Value) {
    call_json(api_agent().get(url).call(), url)
}

/// POST a JSON `body` to `url`: (status, JSON body), whatever the status.
pub fn post_status_json(url: &str, body: &str) -> (u16, serde_json::Value) {
    let req = api_agent()
        .post(url)
        .header("Content-Type", "application/json")
        .send(body);
    call_json(req, url)
}

/// A JSON number, or a panic naming what was there instead.
pub fn num(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// GET a text document.
pub fn get_text(url: &str) -> Result<String, String> {
    let mut res = http().get(url).call().map_err(|e| e.to_string())?;
    res.body_mut().read_to_string().map_err(|e| e.to_string())
}

/// The Python interpreter of the test virtualenv, with pymodbus and statsmodels importable.
pub fn python() -> PathBuf {
    python_with(
        "pymodbus, serial, statsmodels.api",
        "'pymodbus[serial]==3.16.1' statsmodels==0.15.0 scipy==1.17.1 numpy==2.4.6 pandas==3.1.1",
    )
}

/// The test virtualenv's Python (or `KILOWATCH_TEST_PYTHON`), which must import `modules`;
/// missing, the test fails with the command that installs `packages`.
pub fn python_with(modules: &str, packages: &str) -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-venv/bin/python");
    let python = std::env::var_os("KILOWATCH_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or(venv);
    let ok = Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{modules} are required by this test and {} cannot import them. Run tests/run-all.sh, \
         which creates the virtualenv (python3 -m venv target/test-venv && \
         target/test-venv/bin/pip install {packages}).",
        python.display()
    );
    python
}

/// A Modbus device served by pymodbus (`tests/pymodbus/device.py`), configured by a JSON spec.
pub struct PyDevice {
    pub proc: Proc,
    pub log: PathBuf,
}

impl PyDevice {
    /// Starts the device; `spec` follows the format documented in device.py (its `log` is set
    /// here). Waits until it serves.
    pub fn start(name: &str, dir: &Path, mut spec: serde_json::Value) -> PyDevice {
        let log = dir.join(format!("{name}-requests.log"));
        spec["log"] = serde_json::json!(log.to_str().expect("utf-8 path"));
        let spec_path = dir.join(format!("{name}.json"));
        std::fs::write(&spec_path, spec.to_string()).expect("spec");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("pymodbus/device.py");
        let proc = Proc::spawn(
            name,
            &python(),
            &[script.to_str().unwrap(), spec_path.to_str().unwrap()],
            dir,
        );
        let mut dev = PyDevice { proc, log };
        if let Some(port) = spec["port"].as_u64() {
            assert!(
                wait_for_port(port as u16, Duration::from_secs(15)),
                "pymodbus device {name} did not listen on {port}:\n{}",
                dev.proc.log()
            );
        } else {
            let ready = wait_for(Duration::from_secs(15), || {
                dev.proc.log().contains("ready").then_some(())
            });
            assert!(ready.is_some(), "pymodbus device {name} did not start");
            // The serial server opens its port right after printing "ready": wait until it has.
            if let Some(tty) = spec["device"].as_str() {
                let pid = dev.proc.pid();
                assert!(
                    wait_for(Duration::from_secs(10), || has_open(pid, Path::new(tty))
                        .then_some(()))
                    .is_some(),
                    "pymodbus device {name} did not open {tty}"
                );
            }
        }
        assert!(
            dev.proc.alive(),
            "pymodbus device {name} exited:\n{}",
            dev.proc.log()
        );
        dev
    }

    /// Requests the device received: (unit, function code, address).
    pub fn requests(&self) -> Vec<(u8, u8, u16)> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                Some((
                    it.next()?.parse().ok()?,
                    it.next()?.parse().ok()?,
                    it.next()?.parse().ok()?,
                ))
            })
            .collect()
    }

    /// Asserts that nothing but read function codes (1-4) ever reached the device.
    pub fn assert_read_only(&self) {
        let reqs = self.requests();
        assert!(!reqs.is_empty(), "the device saw no request at all");
        for (unit, fc, addr) in reqs {
            assert!(
                (1..=4).contains(&fc),
                "function code {fc} (unit {unit}, address {addr}) is not a read"
            );
        }
    }
}

/// Whether process `pid` has `path` (after symlinks) open.
fn has_open(pid: u32, path: &Path) -> bool {
    let Ok(target) = std::fs::canonicalize(path) else {
        return false;
    };
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|p| p == target))
}

/// Two connected pseudo-terminals made by socat: a virtual RS-485 line.
pub struct PtyPair {
    pub a: PathBuf,
    pub b: PathBuf,
    pub proc: Proc,
}

impl PtyPair {
    pub fn new(dir: &Path) -> PtyPair {
        let socat = require("socat", "apt-get install socat");
        let (a, b) = (dir.join("tty-a"), dir.join("tty-b"));
        let arg = |p: &Path| format!("pty,raw,echo=0,link={}", p.display());
        let proc = Proc::spawn("socat", &socat, &["-d", &arg(&a), &arg(&b)], dir);
        let up = wait_for(Duration::from_secs(10), || {
            (a.exists() && b.exists()).then_some(())
        });
        assert!(up.is_some(), "socat did not create the pty pair");
        PtyPair { a, b, proc }
    }
}

/// Register words of a float32, high word first (ABCD), computed by the standard library
/// rather than by the code under test.
pub fn f32_words(v: f32) -> [u16; 2] {
    let b = v.to_bits();
    [(b >> 16) as u16, b as u16]
}

/// One message a [`Subscriber`] received.
#[derive(Debug, Clone)]
pub struct Received {
    pub topic: String,
    pub payload: Vec<u8>,
    /// The QoS it was delivered at: the publisher's, as the subscription is QoS 1.
    pub qos: u8,
}

/// A QoS 1 subscriber with a persistent session (as the gateway has), recording every message
/// it receives, duplicates included, on a background thread; it reconnects by itself.
pub struct Subscriber {
    pub messages: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Subscriber {
    pub fn start(port: u16, client_id: &str, filter: &str) -> Subscriber {
        use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
        let mut opts = MqttOptions::new(client_id, "127.0.0.1", port);
        opts.set_clean_session(false)
            .set_keep_alive(Duration::from_secs(5))
            .set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut connection) = Client::new(opts, 100);
        let messages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (m, st, filter) = (messages.clone(), stop.clone(), filter.to_owned());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for event in connection.iter() {
                if st.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = client.try_subscribe(filter.as_str(), QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        m.lock().unwrap().push(Received {
                            topic: p.topic.clone(),
                            payload: p.payload.to_vec(),
                            qos: p.qos as u8,
                        });
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(200)),
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("test subscriber did not subscribe");
        Subscriber { messages, stop }
    }

    pub fn snapshot(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Publishes each (topic, payload) at QoS 1 and waits until the broker acknowledged them all.
pub fn publish_all(port: u16, client_id: &str, messages: &[(String, Vec<u8>)]) {
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
    let mut opts = MqttOptions::new(client_id, "127.0.0.1", port);
    // As large as MQTT allows: tests publish oversized payloads on purpose.
    opts.set_max_packet_size(268_435_455, 268_435_455);
    let (client, mut connection) = Client::new(opts, messages.len() + 10);
    for (topic, payload) in messages {
        client
            .publish(topic.as_str(), QoS::AtLeastOnce, false, payload.clone())
            .expect("queue publish");
    }
    let mut acked = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    for event in connection.iter() {
        if let Ok(Event::Incoming(Packet::PubAck(_))) = event {
            acked += 1;
            if acked == messages.len() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "publishes not acknowledged");
    }
    let _ = client.disconnect();
}

/// A real InfluxDB 1.x server (Debian's `influxd`) on free loopback ports, with its data in the
/// test's scratch directory, stoppable and restartable on the same ports and data.
pub struct Influxd {
    pub port: u16,
    pub proc: Proc,
    dir: PathBuf,
    conf: PathBuf,
    restarts: u32,
}

impl Influxd {
    pub fn start(dir: &Path) -> Influxd {
        let port = free_port();
        let rpc = free_port();
        let data = dir.join("influxdb");
        let conf = dir.join("influxdb.conf");
        std::fs::write(
            &conf,
            format!(
                "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n\
                 [meta]\n  dir = \"{d}/meta\"\n\
                 [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
                 [monitor]\n  store-enabled = false\n\
                 [http]\n  bind-address = \"127.0.0.1:{port}\"\n  log-enabled = false\n\
                 [continuous_queries]\n  enabled = false\n",
                d = data.display()
            ),
        )
        .expect("influxdb.conf");
        let proc = Self::spawn(dir, &conf, port, "influxd");
        Influxd {
            port,
            proc,
            dir: dir.to_owned(),
            conf,
            restarts: 0,
        }
    }

    fn spawn(dir: &Path, conf: &Path, port: u16, name: &str) -> Proc {
        let program = require("influxd", "apt-get install influxdb");
        let proc = Proc::spawn(
            name,
            &program,
            &["-config", conf.to_str().expect("utf-8 path")],
            dir,
        );
        let up = wait_for(Duration::from_secs(30), || {
            http()
                .get(&format!("http://127.0.0.1:{port}/ping"))
                .call()
                .ok()
                .map(|_| ())
        });
        assert!(up.is_some(), "influxd did not answer /ping on {port}");
        proc
    }

    /// Runs an InfluxQL statement (POST /query) and returns the JSON answer.
    pub fn query(&self, db: &str, q: &str) -> serde_json::Value {
        let mut res = http()
            .post(&format!("http://127.0.0.1:{}/query", self.port))
            .query("db", db)
            .query("q", q)
            .send_empty()
            .unwrap_or_else(|e| panic!("influx query `{q}`: {e}"));
        res.body_mut().read_json().expect("influx JSON")
    }

    pub fn stop(&mut self) {
        self.proc.interrupt(Duration::from_secs(20));
    }

    pub fn restart(&mut self) {
        self.restarts += 1;
        let name = format!("influxd-{}", self.restarts);
        self.proc = Self::spawn(&self.dir, &self.conf, self.port, &name);
    }
}

/// The demo plant's site file (`seeds/demo-site.toml`), which `kilowatch-gateway demo` runs.
pub fn demo_site() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds/demo-site.toml")
}

/// The demo plant's time zone, read from its site file (`site.timezone`).
pub fn demo_plant_tz() -> chrono_tz::Tz {
    let text = std::fs::read_to_string(demo_site()).expect("seeds/demo-site.toml");
    let site: toml::Value = toml::from_str(&text).expect("demo site TOML");
    let zone = site["site"]["timezone"].as_str().expect("site.timezone");
    zone.parse()
        .unwrap_or_else(|e| panic!("site.timezone {zone}: {e}"))
}

/// The demo plant's working days before today, latest first: Monday to Friday and not one of
/// its holidays (`site.holidays`), when its simulated line produces. Weekends and holidays
/// have no production, so no specific energy to report and no production term to fit.
pub fn demo_working_days(tz: chrono_tz::Tz) -> impl Iterator<Item = chrono::NaiveDate> {
    use chrono::Datelike;
    let text = std::fs::read_to_string(demo_site()).expect("seeds/demo-site.toml");
    let site: toml::Value = toml::from_str(&text).expect("demo site TOML");
    let holidays: Vec<chrono::NaiveDate> = site["site"]["holidays"]
        .as_array()
        .expect("site.holidays")
        .iter()
        .map(|d| d.as_str().and_then(|d| d.parse().ok()).expect("a date"))
        .collect();
    let today = plant_today(tz);
    (1..)
        .map(move |back| today - chrono::Duration::days(back))
        .filter(move |d| d.weekday().num_days_from_monday() < 5 && !holidays.contains(d))
}

/// A `--history` long enough to hold all of plant-local `day` (and everything after it).
pub fn history_back_to(tz: chrono_tz::Tz, day: chrono::NaiveDate) -> String {
    format!("{}d", (plant_today(tz) - day).num_days() + 1)
}

/// Today's date at the plant. Days, "yesterday" and midnights a plant reports on are the
/// plant's, whatever the UTC date or the machine's zone.
pub fn plant_today(tz: chrono_tz::Tz) -> chrono::NaiveDate {
    chrono::Utc::now().with_timezone(&tz).date_naive()
}

/// The instant the plant-local `date` begins (the first existing local time that day, should a
/// DST change skip midnight).
pub fn plant_midnight(
    tz: chrono_tz::Tz,
    date: chrono::NaiveDate,
) -> chrono::DateTime<chrono_tz::Tz> {
    use chrono::TimeZone;
    (0..24)
        .find_map(|h| {
            tz.from_local_datetime(&date.and_hms_opt(h, 0, 0)?)
                .earliest()
        })
        .expect("a day has some hour")
}

/// `t` as RFC 3339 for a URL query (the offset's `+` escaped).
pub fn url_time<Z: chrono::TimeZone>(t: &chrono::DateTime<Z>) -> String
where
    Z::Offset: std::fmt::Display,
{
    t.to_rfc3339().replace('+', "%2B")
}
