//! The meter-board firmware core end to end, on socat pseudo-terminals: its RTU master polls a
//! pymodbus RTU meter; its RTU slave is read by a pymodbus client and by `kilowatch-agent`
//! (`run` with the built-in `kilowatch-meterboard` profile, through mosquitto to the gateway's
//! SQLite store).

use std::process::Command;
use std::time::Duration;

use kilowatch_e2e::{
    bin, f32_words, free_port, python, scratch, start_gateway_then_agent, wait_for, Mosquitto,
    Proc, PtyPair, PyDevice,
};
use serde_json::json;

const CLIENT: &str = r#"
import json, sys, time
from pymodbus.client import ModbusSerialClient
c = ModbusSerialClient(port=sys.argv[1], baudrate=9600, timeout=1)
assert c.connect()
# Wait until the board has run long enough for what the test checks: 3 s up, 3 one-second
# intervals, 3 meter polls answered, unit 2's timeout seen.
u32 = lambda r, i: r[i] << 16 | r[i + 1]
deadline = time.monotonic() + 30
while True:
    r = c.read_input_registers(0, count=30, device_id=1)
    s = None if r.isError() else r.registers
    if s and u32(s, 2) >= 3 and s[5] >= 3 and u32(s, 14) >= 3 and u32(s, 16) >= 1:
        break
    assert time.monotonic() < deadline, ("the board did not get going", s)
    time.sleep(0.2)
out = {}
for start, count in [(0, 30), (100, 40), (200, 10), (300, 8), (1000, 34), (1100, 10), (1200, 10)]:
    r = c.read_input_registers(start, count=count, device_id=1)
    assert not r.isError(), (start, r)
    out[str(start)] = r.registers
h = c.read_holding_registers(0, count=2, device_id=1)
out["holding"] = h.registers
w = c.write_register(4, 99, device_id=1)
out["write_exception"] = w.exception_code if w.isError() else None
u = c.read_input_registers(60, count=4, device_id=1)
out["unmapped_exception"] = u.exception_code if u.isError() else None
c.close()
print(json.dumps(out))
"#;

fn f32_at(r: &[u16], i: usize) -> f32 {
    f32::from_bits(u32::from(r[i]) << 16 | u32::from(r[i + 1]))
}

fn u32_at(r: &[u16], i: usize) -> u32 {
    u32::from(r[i]) << 16 | u32::from(r[i + 1])
}

#[test]
fn board_core_polls_a_pymodbus_meter_and_serves_pymodbus_and_the_agent() {
    let py = python();
    let dir = scratch("meterboard");
    let (up_dir, down_dir) = (dir.join("up"), dir.join("down"));
    std::fs::create_dir_all(&up_dir).unwrap();
    std::fs::create_dir_all(&down_dir).unwrap();
    let up = PtyPair::new(&up_dir);
    let down = PtyPair::new(&down_dir);
    // An SDM120-like meter at unit 1: voltage, current, active power as floats (ABCD).
    let mut ir = Vec::new();
    for v in [230.5f32, 12.25, 2.75] {
        ir.extend(f32_words(v));
    }
    let meter = PyDevice::start(
        "meter",
        &dir,
        json!({"transport": "rtu", "device": down.b.to_str().unwrap(), "baud": 9600,
               "units": [{"id": 1, "ir": {"0": ir}}]}),
    );
    let mut board = Proc::spawn(
        "board",
        &bin("kilowatch-meterboard-host"),
        &[
            "--upstream",
            up.a.to_str().unwrap(),
            "--downstream",
            down.a.to_str().unwrap(),
            "--meter",
            "1:4:0:3",
            "--meter",
            "2:4:0:1",
            "--meter",
            "1:4:40:1",
            "--analog-ma",
            "12.0,2.0",
            "--load-period-ms",
            "1000",
            "--pulse-hz",
            "50",
            "--interval-s",
            "1",
        ],
        &dir,
    );
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
    assert!(u32_at(&sys, 2) >= 3, "uptime");
    assert!(sys[5] >= 3, "one-second intervals completed");
    assert!(u32_at(&sys, 14) >= 3, "meter polls answered");
    assert!(u32_at(&sys, 16) >= 1, "unit 2 is absent: timeouts");
    assert_eq!(regs("holding")[..2], sys[..2], "FC 03 serves the same map");
    let a = regs("100");
    assert_eq!(a[0], 0, "analog 0 good");
    assert!((f32_at(&a, 2) - 8.0).abs() < 0.02, "12 mA on 0-16 bar");
    assert!((f32_at(&a, 10) - 12.0).abs() < 0.02);
    assert_eq!(a[20], 1, "analog 1 at 2 mA: open loop");
    assert!(f32_at(&a, 22).is_nan());
    let l = regs("200");
    assert!(u32_at(&l, 6) >= 2, "load cycles at a 1 s period: {l:?}");
    let p = regs("300");
    let pulses = u32_at(&p, 2);
    // At least 3 s up when read; the read itself takes well under 5 s more.
    assert!((100..=400).contains(&pulses), "50 Hz for 3-8 s: {pulses}");
    let m = regs("1000");
    assert_eq!(m[0], 0, "meter 1 good");
    assert_eq!(f32_at(&m, 10), 230.5);
    assert_eq!(f32_at(&m, 18), 12.25);
    assert_eq!(f32_at(&m, 26), 2.75);
    assert_eq!(regs("1100")[0], 1, "meter 2 timed out");
    let m3 = regs("1200");
    assert_eq!(
        m3[..2],
        [3, 2],
        "an unmapped block: exception 02 from pymodbus"
    );
    assert!(u32_at(&sys, 22) >= 1, "exceptions received");
    assert_eq!(r["write_exception"], 1, "writes are refused");
    assert_eq!(r["unmapped_exception"], 2);
    // The board only ever read the meter.
    meter.assert_read_only();

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
id = "comp-board"
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
channel = 4
quantity = "air_volume"
unit = "m³"
range = [0.0, 0.01]
[[devices.channels]]
channel = 10
quantity = "voltage_l1"
unit = "V"
range = [0.0, 1.0]
"#,
        mqtt = mqtt.port,
        db = db.display(),
        tty = up.b.display()
    );
    let config = dir.join("site.toml");
    std::fs::write(&config, site).unwrap();
    let config = config.to_str().unwrap();
    let (_gateway, agent) = start_gateway_then_agent(&dir, config, http);
    let latest = |q: &str| -> Option<f64> {
        let conn =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .ok()?;
        conn.query_row(
            "SELECT x.value FROM samples x JOIN series s ON s.id = x.series_id
             WHERE s.device = 'comp-board' AND s.quantity = ?1 ORDER BY x.ts DESC LIMIT 1",
            [q],
            |r| r.get::<_, Option<f64>>(0),
        )
        .ok()
        .flatten()
    };
    let stored = wait_for(Duration::from_secs(30), || {
        Some((
            latest("pressure")?,
            latest("voltage_l1")?,
            latest("air_volume")?,
            latest("load_state")?,
        ))
    });
    let (pressure, voltage, volume, load) = stored.unwrap_or_else(|| {
        panic!(
            "nothing stored from the board\nagent:\n{}\nboard:\n{}",
            agent.log(),
            board.log()
        )
    });
    assert!((pressure - 8.0).abs() < 0.02, "{pressure}");
    assert!((voltage - 230.5).abs() < 1e-3, "{voltage}");
    assert!(volume > 1.0, "pulses × 0.01 m³: {volume}");
    assert!(load == 0.0 || load == 1.0);
    let _ = board.interrupt(Duration::from_secs(2));
}
