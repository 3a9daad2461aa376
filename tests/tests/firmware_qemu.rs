//! The meter-board firmware running on an emulated Cortex-M4 (QEMU `mps2-an386`): its RS-485
//! master polls pymodbus meters over a pseudo-terminal, its RS-485 slave is read by a pymodbus
//! client and by `kilowatch-agent` (profile `kilowatch-meterboard`) through mosquitto into the
//! gateway's SQLite store. The board's configuration is a block the host tool
//! (`kilowatch-meterboard-config`) builds from [`BOARD`] and QEMU loads into the board's
//! configuration sector: meters 0-3 are unit 1 (eight floats), unit 1 at an unmapped address,
//! unit 2 (absent) and unit 3 (two floats, low word first). Further tests: a corrupt or
//! missing block (the safe default runs and says so) and the watchdog's reset of a hung loop.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kilowatch_e2e::qemu::{config_block, start_board, BoardOptions};
use kilowatch_e2e::{
    f32_words, free_port, python, scratch, start_gateway_then_agent, wait_for, Mosquitto, PtyPair,
    PyDevice,
};
use serde_json::json;

/// The board's configuration, as a site would write it for the host tool.
const BOARD: &str = r#"
unit = 1
upstream_baud = 9600
meter_baud = 9600
meter_timeout_ms = 300
meter_retries = 1
poll_period_ms = 500
sample_period_ms = 10
interval_s = 1
debounce_samples = 3

[[analog]]
channel = 0
low = 0.0
high = 16.0
[[analog]]
channel = 1
low = -20.0
high = 80.0

[[meters]]
unit = 1
address = 0
values = 8
[[meters]]
unit = 1
address = 40
values = 1
[[meters]]
unit = 2
address = 0
values = 1
[[meters]]
unit = 3
address = 0
values = 2
order = "low-first"
"#;

const CLIENT: &str = r#"
import json, sys, time
from pymodbus.client import ModbusSerialClient
# 3 s: a 125-register answer takes 266 ms at 9600 baud, more when a busy host slows the
# emulated line (timer 0 paces it from the host's clock).
c = ModbusSerialClient(port=sys.argv[1], baudrate=9600, timeout=3)
assert c.connect()
# Until every meter has been polled at least twice: polls answered, timeouts, exceptions.
u32 = lambda r, i: r[i] << 16 | r[i + 1]
deadline = time.monotonic() + 60
while True:
    r = c.read_input_registers(0, count=30, device_id=1)
    s = None if r.isError() else r.registers
    if s and s[5] >= 3 and u32(s, 14) >= 4 and u32(s, 16) >= 2 and u32(s, 22) >= 2:
        break
    assert time.monotonic() < deadline, ("the board did not get going", s)
    time.sleep(0.2)
out = {}
for start, count in [(0, 30), (100, 40), (200, 10), (300, 8), (1000, 34), (1100, 12), (1200, 12), (1300, 20)]:
    r = c.read_input_registers(start, count=count, device_id=1)
    assert not r.isError(), (start, r)
    out[str(start)] = r.registers
w = c.write_register(4, 99, device_id=1)
out["write_exception"] = w.exception_code if w.isError() else None
u = c.read_input_registers(60, count=4, device_id=1)
out["unmapped_exception"] = u.exception_code if u.isError() else None
# The deepest paths: the longest answer (125 registers), then the stack mark once the board
# has measured it again (once a second by its clock).
for _ in range(20):
    assert not c.read_input_registers(1000, count=125, device_id=1).isError()
since = u32(c.read_input_registers(0, count=4, device_id=1).registers, 2)
while True:
    r = c.read_input_registers(0, count=48, device_id=1)
    assert not r.isError(), r
    if u32(r.registers, 2) >= since + 2:
        break
    assert time.monotonic() < deadline + 30, "the board's clock stopped"
    time.sleep(0.2)
out["system"] = r.registers
c.close()
print(json.dumps(out))
"#;

/// Waits until the board's semihosting log shows `boots` boot messages.
fn wait_booted(board: &kilowatch_e2e::Proc, boots: usize) {
    let booted = wait_for(Duration::from_secs(30), || {
        (board
            .log()
            .matches("kilowatch meter board on mps2-an386")
            .count()
            >= boots)
            .then_some(())
    });
    assert!(
        booted.is_some(),
        "not {boots} boot message(s) on semihosting:\n{}",
        board.log()
    );
}

/// Once the board has been up for `argv[2]` seconds: its system block and the registers of
/// meter 0.
const SNAPSHOT: &str = r#"
import json, sys, time
from pymodbus.client import ModbusSerialClient
# 3 s: a 125-register answer takes 266 ms at 9600 baud, more when a busy host slows the
# emulated line (timer 0 paces it from the host's clock).
c = ModbusSerialClient(port=sys.argv[1], baudrate=9600, timeout=3)
assert c.connect()
deadline = time.monotonic() + 60
while True:
    r = c.read_input_registers(0, count=48, device_id=1)
    if not r.isError() and (r.registers[2] << 16 | r.registers[3]) >= int(sys.argv[2]):
        break
    assert time.monotonic() < deadline, ("the board did not answer", r)
    time.sleep(0.2)
m = c.read_input_registers(1000, count=10, device_id=1)
assert not m.isError(), m
print(json.dumps({"system": r.registers, "meter0": m.registers}))
"#;

fn snapshot(tty: &Path, min_uptime_s: u32, board: &kilowatch_e2e::Proc) -> serde_json::Value {
    let out = Command::new(python())
        .args([
            "-c",
            SNAPSHOT,
            tty.to_str().unwrap(),
            &min_uptime_s.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\nboard:\n{}",
        String::from_utf8_lossy(&out.stderr),
        board.log()
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn words(v: &serde_json::Value) -> Vec<u16> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_u64().unwrap() as u16)
        .collect()
}

/// A damaged configuration block (one byte changed after the tool wrote it, as a bad flash
/// write or a wrong image would leave it) is refused: the board runs the safe default (unit 1,
/// 9600 baud, no meter polled), reports it in registers 6, 37, 38 and 40, and says so in its
/// log. Without any block it does the same, reporting the block missing.
#[test]
fn a_corrupt_or_missing_configuration_block_is_reported_and_the_safe_default_runs() {
    let _one = one_board_at_a_time();
    use kilowatch_firmware::settings::{crc32, encode, safe_default, BLOCK_MAX};
    let mut default = [0u8; BLOCK_MAX];
    let n = encode(&safe_default(16, false), &mut default);
    let default_crc = crc32(&default[..n - 4]);
    let dir = scratch("firmware-qemu-config");
    let block = config_block(&dir, BOARD);
    let mut image = std::fs::read(&block).unwrap();
    // The first meter's unit (payload offset 28): a plausible value, so only the CRC tells.
    image[8 + 28] = 9;
    let corrupt = dir.join("corrupt.bin");
    std::fs::write(&corrupt, &image).unwrap();
    for (case, block, source, error) in [
        ("corrupt", Some(corrupt.as_path()), 2, 5),
        ("missing", None, 1, 1),
    ] {
        let dir = dir.join(case);
        let (up_dir, down_dir) = (dir.join("up"), dir.join("down"));
        std::fs::create_dir_all(&up_dir).unwrap();
        std::fs::create_dir_all(&down_dir).unwrap();
        let (up, down) = (PtyPair::new(&up_dir), PtyPair::new(&down_dir));
        let meters = PyDevice::start(
            "meters",
            &dir,
            json!({"transport": "rtu", "device": down.b.to_str().unwrap(), "baud": 9600,
                   "units": [{"id": 1, "ir": {"0": [0, 0]}}, {"id": 9, "ir": {"0": [0, 0]}}]}),
        );
        let opts = BoardOptions {
            config_block: block,
            ..BoardOptions::default()
        };
        let mut board = start_board(&dir, &up.a, &down.a, &opts);
        wait_booted(&board, 1);
        // Three seconds of the board's own clock: six poll periods of the configuration it
        // would have run.
        let snap = snapshot(&up.b, 3, &board);
        let (sys, m0) = (words(&snap["system"]), words(&snap["meter0"]));
        assert_eq!((sys[37], sys[38]), (source, error), "{case}: {sys:?}");
        assert_eq!(
            sys[6] & 0b1000,
            0b1000,
            "{case}: status bit 3 (default config)"
        );
        assert_eq!(u32_at(&sys, 40), default_crc, "{case}: the default's CRC");
        assert_eq!(
            u32_at(&sys, 14) + u32_at(&sys, 16),
            0,
            "{case}: no meter polled"
        );
        assert_eq!(m0[0], 4, "{case}: meter 0 never polled");
        assert!(
            meters.requests().is_empty(),
            "{case}: a meter was addressed"
        );
        let expected = if source == 2 { "Corrupt" } else { "Missing" };
        assert!(
            board
                .log()
                .contains(&format!("configuration {expected} (error {error}")),
            "{case}: {}",
            board.log()
        );
        let _ = board.interrupt(Duration::from_secs(2));
    }
}

/// A main loop that stops (here on purpose, `hang-once`, three seconds after a power-on) no
/// longer feeds the watchdog: the watchdog resets the board, which comes back, serves again
/// and reports the watchdog as its reset cause.
#[test]
fn the_watchdog_resets_a_hung_board_which_reports_it() {
    let _one = one_board_at_a_time();
    let dir = scratch("firmware-qemu-watchdog");
    let (up_dir, down_dir) = (dir.join("up"), dir.join("down"));
    std::fs::create_dir_all(&up_dir).unwrap();
    std::fs::create_dir_all(&down_dir).unwrap();
    let (up, down) = (PtyPair::new(&up_dir), PtyPair::new(&down_dir));
    let opts = BoardOptions {
        cmdline: "hang-once",
        ..BoardOptions::default()
    };
    let mut board = start_board(&dir, &up.a, &down.a, &opts);
    wait_booted(&board, 1);
    let hung = wait_for(Duration::from_secs(20), || {
        board
            .log()
            .contains("hang-once: the main loop stops")
            .then_some(())
    });
    assert!(hung.is_some(), "{}", board.log());
    wait_booted(&board, 2);
    let snap = snapshot(&up.b, 1, &board);
    let sys = words(&snap["system"]);
    assert_eq!(sys[36], 1 << 3, "reset cause: watchdog; {}", board.log());
    let log = board.log();
    assert_eq!(
        log.matches("hang-once:").count(),
        1,
        "hangs only once:\n{log}"
    );
    assert!(log.contains("reset cause 0x0008"), "{log}");
    let _ = board.interrupt(Duration::from_secs(2));
    drop(down);
}

/// Reads long blocks from the board back to back, as a busy master on the upstream bus does,
/// until it has sent `argv[2]` requests and the board has polled its meters `argv[3]` times
/// meanwhile (however slow a loaded host makes the emulated board), then prints the board's
/// error counters. A request left unanswered (pymodbus raises rather than returning an error
/// when `retries=0`) counts as failed.
const BUSY_MASTER: &str = r#"
import json, sys, time
from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ModbusException
c = ModbusSerialClient(port=sys.argv[1], baudrate=9600, timeout=3, retries=0)
assert c.connect()
u32 = lambda r, i: r[i] << 16 | r[i + 1]
def read(start, count):
    try:
        r = c.read_input_registers(start, count=count, device_id=1)
    except ModbusException:
        return None
    return None if r.isError() else r.registers
def system():
    for _ in range(60):
        r = read(0, 30)
        if r:
            return r
    raise SystemExit("the board never answered")
start = system()
ok = failed = 0
want_requests, want_polls = int(sys.argv[2]), int(sys.argv[3])
deadline = time.monotonic() + 120
while True:
    if read(1000, 60):
        ok += 1
    else:
        failed += 1
    if ok >= want_requests and (ok + failed) % 5 == 0:
        s = system()
        if u32(s, 14) - u32(start, 14) >= want_polls or time.monotonic() > deadline:
            break
print(json.dumps({"ok": ok, "failed": failed,
    "meter_polls": u32(s, 14) - u32(start, 14),
    "upstream_crc": u32(s, 10) - u32(start, 10),
    "meter_bad_frames": u32(s, 18) + u32(s, 20) - u32(start, 18) - u32(start, 20)}))
"#;

/// One run of [`BUSY_MASTER`] against the board built with `cmdline`.
fn busy_run(cmdline: &str) -> (serde_json::Value, String) {
    let dir = scratch(&format!("firmware-qemu-busy{}", cmdline.len()));
    let (up_dir, down_dir) = (dir.join("up"), dir.join("down"));
    std::fs::create_dir_all(&up_dir).unwrap();
    std::fs::create_dir_all(&down_dir).unwrap();
    let up = PtyPair::new(&up_dir);
    let down = PtyPair::new(&down_dir);
    let mut unit1 = Vec::new();
    for i in 0..8 {
        unit1.extend(f32_words(i as f32 * 1.5));
    }
    let _meters = PyDevice::start(
        "meters",
        &dir,
        json!({"transport": "rtu", "device": down.b.to_str().unwrap(), "baud": 9600,
               "units": [{"id": 1, "ir": {"0": unit1}}, {"id": 3, "ir": {"0": [0, 0, 0, 0]}}]}),
    );
    let block = config_block(&dir, BOARD);
    let opts = BoardOptions {
        cmdline,
        config_block: Some(&block),
    };
    let mut board = start_board(&dir, &up.a, &down.a, &opts);
    wait_booted(&board, 1);
    let out = Command::new(python())
        .args(["-c", BUSY_MASTER, up.b.to_str().unwrap(), "20", "10"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\nboard:\n{}",
        String::from_utf8_lossy(&out.stderr),
        board.log()
    );
    let _ = board.interrupt(Duration::from_secs(2));
    (serde_json::from_slice(&out.stdout).unwrap(), board.log())
}

/// While the board sends 125-byte answers upstream back to back (130 ms each at 9600 baud),
/// its meters' 37-byte answers arrive on the other port. The interrupt-fed design loses no
/// byte of either port.
///
/// This test once failed now and then with the client getting no answer: QEMU feeds the
/// UART one byte at a time with the host's scheduling pauses between them, which split
/// requests into corrupt frames at 3.5 characters' silence; the emulated board now ends
/// frames after a longer pause (board_mps2's `EMULATED_FRAME_GAP_MS`).
#[test]
fn sending_on_one_port_costs_no_bytes_on_the_other() {
    let _one = one_board_at_a_time();
    let (buffered, log) = busy_run("");
    assert!(log.contains("interrupt-fed serial"), "{log}");
    let (ok, failed) = (
        buffered["ok"].as_u64().unwrap(),
        buffered["failed"].as_u64().unwrap(),
    );
    assert!(ok >= 20, "{buffered}\n{log}");
    // The point of the test: the meter port, receiving while the board transmits upstream,
    // loses nothing. Upstream, QEMU still corrupts a request now and then (2 of 3 runs on an
    // idle host at this stop: 2 requests unanswered, 4 bad frames; the calm tests above show
    // "bad upstream frames" too, so it is the emulator's input path, not the load): every
    // unanswered request must then be one the board counted as a corrupt frame (no byte lost
    // in the board), and they must stay rare. Left open in issue 23.
    assert!(
        failed * 10 <= ok && buffered["upstream_crc"].as_u64().unwrap() >= failed,
        "{buffered}\n{log}"
    );
    assert_eq!(buffered["meter_bad_frames"], 0, "{buffered}\n{log}");
    assert!(
        buffered["meter_polls"].as_u64().unwrap() >= 10,
        "{buffered}\n{log}"
    );
    assert!(log.contains("bytes lost 0/0"), "{log}");
    println!("interrupt-fed: {buffered}");
}

/// The same load on the polled design (`blocking-serial`): the board still answers upstream,
/// but while it waits out each answer's bytes the meters' answers overrun its one-byte
/// receive register, so meter frames arrive corrupt: what the interrupt-fed design fixed.
#[test]
fn the_polled_design_loses_meter_bytes_while_it_answers_upstream() {
    let _one = one_board_at_a_time();
    let (polled, log) = busy_run("blocking-serial");
    assert!(log.contains("polled serial"), "{log}");
    assert!(polled["ok"].as_u64().unwrap() > 0, "{polled}\n{log}");
    assert!(
        polled["meter_bad_frames"].as_u64().unwrap() > 0,
        "{polled}\n{log}"
    );
    println!("polled: {polled}");
}

/// One emulated board at a time: QEMU paces each board's lines from the host's clock, and four
/// of them with their meters, agents and clients on a loaded two-core host slow every line and
/// stretch timeouts; a run with them in parallel once answered one test's client from
/// another's board. Poisoning is ignored: a failed test must not fail the others.
fn one_board_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static QEMU: std::sync::Mutex<()> = std::sync::Mutex::new(());
    QEMU.lock().unwrap_or_else(|e| e.into_inner())
}

fn f32_at(r: &[u16], i: usize) -> f32 {
    f32::from_bits(u32::from(r[i]) << 16 | u32::from(r[i + 1]))
}

fn u32_at(r: &[u16], i: usize) -> u32 {
    u32::from(r[i]) << 16 | u32::from(r[i + 1])
}

#[test]
fn emulated_board_polls_pymodbus_meters_and_serves_the_agent() {
    let _one = one_board_at_a_time();
    let py = python();
    let dir = scratch("firmware-qemu");
    let (up_dir, down_dir) = (dir.join("up"), dir.join("down"));
    std::fs::create_dir_all(&up_dir).unwrap();
    std::fs::create_dir_all(&down_dir).unwrap();
    let up = PtyPair::new(&up_dir);
    let down = PtyPair::new(&down_dir);
    let mut unit1 = Vec::new();
    for v in [230.5f32, 12.25, 2.75, 1.0, 2.0, 3.0, 4.0, 5.0] {
        unit1.extend(f32_words(v));
    }
    // Unit 3 sends its floats low word first (CDAB); the board puts them back in order.
    let mut unit3 = Vec::new();
    for v in [49.95f32, 0.98] {
        let [hi, lo] = f32_words(v);
        unit3.extend([lo, hi]);
    }
    let meters = PyDevice::start(
        "meters",
        &dir,
        json!({"transport": "rtu", "device": down.b.to_str().unwrap(), "baud": 9600,
               "units": [{"id": 1, "ir": {"0": unit1}}, {"id": 3, "ir": {"0": unit3}}]}),
    );
    let block = config_block(&dir, BOARD);
    let opts = BoardOptions {
        config_block: Some(&block),
        ..BoardOptions::default()
    };
    let mut board = start_board(&dir, &up.a, &down.a, &opts);
    wait_booted(&board, 1);

    let out = Command::new(&py)
        .args(["-c", CLIENT, up.b.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\nboard:\n{}",
        String::from_utf8_lossy(&out.stderr),
        board.log()
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let regs = |k: &str| -> Vec<u16> {
        r[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u16)
            .collect()
    };
    let sys = regs("0");
    assert_eq!(sys[0], 2, "register map version");
    assert_eq!(sys[6] & 0b10, 0b10, "status: a meter is not good");
    let a = regs("100");
    assert_eq!(a[0], 0, "analog 0 good");
    assert!((f32_at(&a, 2) - 8.0).abs() < 0.02, "12 mA on 0-16 bar");
    assert_eq!(a[20], 1, "analog 1 at 2 mA: open loop");
    assert!(u32_at(&regs("300"), 2) > 0, "pulses counted");
    let m0 = regs("1000");
    assert_eq!(m0[0], 0, "meter 0 good");
    assert_eq!(
        [f32_at(&m0, 10), f32_at(&m0, 18), f32_at(&m0, 26)],
        [230.5, 12.25, 2.75]
    );
    assert_eq!(regs("1100")[..2], [3, 2], "meter 1: exception 02");
    assert_eq!(regs("1200")[0], 1, "meter 2 (absent unit 2): timeout");
    assert!(f32_at(&regs("1200"), 10).is_nan(), "no value from unit 2");
    let m3 = regs("1300");
    assert_eq!(m3[0], 0, "meter 3 good");
    assert_eq!([f32_at(&m3, 10), f32_at(&m3, 18)], [49.95, 0.98]);
    assert_eq!(r["write_exception"], 1, "writes are refused");
    assert_eq!(r["unmapped_exception"], 2);
    meters.assert_read_only();
    // Stack high-water mark after all of the above (painted at boot, measured by the board).
    let system = regs("system");
    let (stack_used, stack_size) = (u32_at(&system, 32), u32_at(&system, 34));
    let stack_boot = u32_at(&system, 46);
    assert!(
        stack_used > 0 && stack_used < 4096 && stack_boot <= stack_used,
        "stack high-water {stack_used} B (start-up {stack_boot} B) of {stack_size} B (goal < 4 KiB)"
    );
    println!(
        "stack high-water mark: {stack_used} B (start-up alone {stack_boot} B) of a {stack_size} B stack region"
    );
    // Field robustness: a power-on start, the block's configuration and its CRC, the watchdog
    // running, the firmware's version.
    let image = std::fs::read(&block).unwrap();
    let crc = kilowatch_firmware::settings::crc32(&image[..image.len() - 4]);
    assert_eq!(system[36], 1, "reset cause: power-on");
    assert_eq!(
        (system[37], system[38]),
        (0, 0),
        "configuration from the block"
    );
    assert_eq!(system[6] & 0b1000, 0, "not the default configuration");
    assert_eq!(u32_at(&system, 40), crc, "the block's CRC-32");
    assert_eq!(system[39], 4_000, "watchdog timeout, ms");
    assert_eq!(system[42], 1, "configuration format version");
    assert_eq!(
        system[43..46],
        kilowatch_firmware::system::FIRMWARE_VERSION,
        "firmware version"
    );

    // Through the agent, mosquitto and the gateway into SQLite.
    let mqtt = Mosquitto::start(&dir);
    let (http, metrics) = (free_port(), free_port());
    let db = dir.join("kw.db");
    let site = format!(
        r#"
[site]
id = "e2e"
timezone = "Asia/Taipei"

[mqtt]
broker = "127.0.0.1:{mqtt}"

[agent]
metrics = "127.0.0.1:{metrics}"

[gateway]
http = "127.0.0.1:{http}"
database = "{db}"

[[devices]]
id = "qemu-board"
profile = "kilowatch-meterboard"
rtu = "{tty}"
baud = 9600
unit = 1
interval = "1s"
[[devices.channels]]
channel = 0
quantity = "pressure"
unit = "bar"
range = [0.0, 16.0]
[[devices.channels]]
channel = 10
quantity = "voltage_l1"
unit = "V"
range = [0.0, 1.0]
[[devices.channels]]
channel = 20
quantity = "current_l2"
unit = "A"
range = [0.0, 1.0]
[[devices.channels]]
channel = 30
quantity = "current_l3"
unit = "A"
range = [0.0, 1.0]
[[devices.channels]]
channel = 40
quantity = "frequency"
unit = "Hz"
range = [0.0, 1.0]
[[devices.channels]]
channel = 41
quantity = "power_factor"
unit = ""
range = [0.0, 1.0]
"#,
        mqtt = mqtt.port,
        db = db.display(),
        tty = up.b.display()
    );
    let config = dir.join("site.toml");
    std::fs::write(&config, site).unwrap();
    let (_gateway, agent) = start_gateway_then_agent(&dir, config.to_str().unwrap(), http);
    let latest = |q: &str| -> Option<(Option<f64>, String)> {
        let conn =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .ok()?;
        conn.query_row(
            "SELECT x.value, x.quality FROM samples x JOIN series s ON s.id = x.series_id
             WHERE s.device = 'qemu-board' AND s.quantity = ?1 ORDER BY x.ts DESC LIMIT 1",
            [q],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ok()
    };
    let quantities = [
        "pressure",
        "voltage_l1",
        "current_l2",
        "current_l3",
        "frequency",
        "power_factor",
    ];
    let stored = wait_for(Duration::from_secs(30), || {
        quantities
            .iter()
            .map(|q| latest(q))
            .collect::<Option<Vec<_>>>()
    })
    .unwrap_or_else(|| {
        panic!(
            "not everything stored from the board\nagent:\n{}\nboard:\n{}",
            agent.log(),
            board.log()
        )
    });
    let good = |i: usize| -> f64 {
        let (v, q) = &stored[i];
        assert_eq!(q, "good", "{}: {stored:?}", quantities[i]);
        v.unwrap()
    };
    assert!((good(0) - 8.0).abs() < 0.02, "{stored:?}");
    assert!((good(1) - 230.5).abs() < 1e-3, "{stored:?}");
    assert!((good(4) - 49.95).abs() < 1e-3, "{stored:?}");
    assert!((good(5) - 0.98).abs() < 1e-3, "{stored:?}");
    // The meter that answered exception 02 and the one that never answered: no value, bad.
    for i in [2, 3] {
        assert_eq!(
            stored[i],
            (None, "bad".to_string()),
            "{}: {stored:?}",
            quantities[i]
        );
    }
    // The board's own log (semihosting) reports its work.
    let heartbeat = wait_for(Duration::from_secs(15), || {
        board.log().contains("requests answered").then_some(())
    });
    assert!(heartbeat.is_some(), "no heartbeat:\n{}", board.log());
    println!("board log (semihosting):\n{}", board.log());
    let _ = board.interrupt(Duration::from_secs(2));
}
