//! Simulator → agent → mosquitto → gateway → SQLite, as separate real processes. Every stored
//! sample of every channel must equal what the simulated SDM630 served, decoded here
//! independently from the published register map.

use std::collections::BTreeMap;
use std::time::Duration;

use kilowatch_e2e::{free_port, scratch, start_gateway_then_agent, start_sim, wait_for, Mosquitto};
use tokio_modbus::client::{tcp, Reader};
use tokio_modbus::Slave;

/// SDM630 input registers (Eastron protocol V1.5: 3X, float32, high word first) and the factor
/// from the meter's unit to kilowatch's canonical one. Written from the datasheet, not from the
/// agent's profile file, so a wrong profile fails this test.
const SDM630: &[(&str, u16, f64)] = &[
    ("voltage_l1", 0x00, 1.0),
    ("voltage_l2", 0x02, 1.0),
    ("voltage_l3", 0x04, 1.0),
    ("current_l1", 0x06, 1.0),
    ("current_l2", 0x08, 1.0),
    ("current_l3", 0x0A, 1.0),
    ("active_power_l1", 0x0C, 1e-3),
    ("active_power_l2", 0x0E, 1e-3),
    ("active_power_l3", 0x10, 1e-3),
    ("active_power", 0x34, 1e-3),
    ("apparent_power", 0x38, 1e-3),
    ("reactive_power", 0x3C, 1e-3),
    ("power_factor", 0x3E, 1.0),
    ("frequency", 0x46, 1.0),
    ("active_energy_import", 0x48, 1.0),
    ("active_energy_export", 0x4A, 1.0),
    ("reactive_energy_import", 0x4C, 1.0),
    ("active_power_demand", 0x54, 1e-3),
    ("voltage_l1_l2", 0xC8, 1.0),
    ("voltage_l2_l3", 0xCA, 1.0),
    ("voltage_l3_l1", 0xCC, 1.0),
    ("current_n", 0xE0, 1.0),
];

/// Reads what the simulator serves, with a plain Modbus client and a hand-written decode.
fn served(port: u16, unit: u8) -> BTreeMap<String, f64> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut ctx = tcp::connect_slave(addr, Slave(unit)).await.unwrap();
        let mut out = BTreeMap::new();
        for &(q, addr, factor) in SDM630 {
            let w = ctx.read_input_registers(addr, 2).await.unwrap().unwrap();
            let raw = f32::from_bits((u32::from(w[0]) << 16) | u32::from(w[1]));
            out.insert(q.to_owned(), f64::from(raw) * factor);
        }
        out
    })
}

#[test]
fn readings_reach_sqlite_unchanged() {
    let dir = scratch("pipeline");
    let mqtt = Mosquitto::start(&dir);
    let (m1, m2, http, metrics) = (free_port(), free_port(), free_port(), free_port());
    let db = dir.join("kw.db");
    // step = 1h: the simulated meters hold their values for the whole test, so "what was
    // served" is one well-defined set of numbers per device.
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
id = "feeder-a"
profile = "eastron-sdm630"
tcp = "127.0.0.1:{m1}"
unit = 3
interval = "200ms"
[devices.simulate]
base_kw = 150.0
peak_kw = 150.0
seed = 11
step = "1h"

[[devices]]
id = "feeder-b"
profile = "eastron-sdm630"
tcp = "127.0.0.1:{m2}"
unit = 1
interval = "300ms"
[devices.simulate]
base_kw = 40.0
peak_kw = 40.0
voltage_ln = 230.0
frequency = 50.0
seed = 12
step = "1h"
"#,
        mqtt = mqtt.port,
        db = db.display()
    );
    let config = dir.join("site.toml");
    std::fs::write(&config, site).unwrap();
    let config = config.to_str().unwrap();

    let _sim = start_sim(&dir, config, &[m1, m2]);
    let (_gateway, _agent) = start_gateway_then_agent(&dir, config, http);

    let expected = [("feeder-a", served(m1, 3)), ("feeder-b", served(m2, 1))];

    // Wait for at least 10 polls of each device in the store.
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY);
    let polls_of = |device: &str| -> i64 {
        let Ok(conn) = &conn else { return 0 };
        conn.query_row(
            "SELECT count(*) FROM samples x JOIN series s ON s.id = x.series_id
             WHERE s.device = ?1 AND s.quantity = 'active_power'",
            [device],
            |r| r.get(0),
        )
        .unwrap_or(0)
    };
    let enough = wait_for(Duration::from_secs(30), || {
        (polls_of("feeder-a") >= 10 && polls_of("feeder-b") >= 10).then_some(())
    });
    assert!(
        enough.is_some(),
        "fewer than 10 polls per device stored within 30 s"
    );

    let conn = rusqlite::Connection::open(&db).unwrap();
    for (device, values) in &expected {
        let mut stmt = conn
            .prepare(
                "SELECT s.quantity, s.unit, x.value, x.quality, count(*) OVER (PARTITION BY s.id)
                 FROM samples x JOIN series s ON s.id = x.series_id WHERE s.device = ?1",
            )
            .unwrap();
        let rows: Vec<(String, String, Option<f64>, String, i64)> = stmt
            .query_map([device], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let quantities: std::collections::BTreeSet<&str> =
            rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(
            quantities,
            SDM630.iter().map(|s| s.0).collect(),
            "{device}: every channel is stored"
        );
        let per_series: std::collections::BTreeSet<i64> = rows.iter().map(|r| r.4).collect();
        assert_eq!(
            per_series.len(),
            1,
            "{device}: every channel has every poll: {per_series:?}"
        );
        for (quantity, unit, value, quality, _) in &rows {
            let want = values[quantity];
            let got = value.unwrap_or_else(|| panic!("{device}/{quantity}: NULL ({quality})"));
            assert_eq!(quality, "good");
            let tol = 1e-6 * want.abs().max(1.0);
            assert!(
                (got - want).abs() <= tol,
                "{device}/{quantity}: stored {got} {unit}, simulator served {want}"
            );
        }
        // Plausibility of the served physics, in canonical units.
        assert!(values["active_power"] > 30.0 && values["active_power"] < 200.0);
        let p: f64 = ["active_power_l1", "active_power_l2", "active_power_l3"]
            .iter()
            .map(|q| values[*q])
            .sum();
        assert!((p - values["active_power"]).abs() < 1e-3 * values["active_power"]);
    }
    let units: Vec<(String, String)> = conn
        .prepare("SELECT DISTINCT quantity, unit FROM series ORDER BY quantity")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(units.contains(&("active_power".into(), "kW".into())));
    assert!(units.contains(&("active_energy_import".into(), "kWh".into())));
    let dead: i64 = conn
        .query_row("SELECT count(*) FROM dead_letter", [], |r| r.get(0))
        .unwrap();
    assert_eq!(dead, 0, "nothing was dead-lettered");

    // The API serves the same numbers.
    let latest =
        kilowatch_e2e::get_json(&format!("http://127.0.0.1:{http}/api/v1/latest")).unwrap();
    let readings = latest["readings"].as_array().unwrap();
    assert_eq!(readings.len(), 2 * SDM630.len());
    for r in readings {
        let device = r["device"].as_str().unwrap();
        let q = r["quantity"].as_str().unwrap();
        let want = expected.iter().find(|e| e.0 == device).unwrap().1[q];
        let got = r["value"].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-6 * want.abs().max(1.0),
            "{device}/{q}"
        );
        assert!(
            chrono_like(r["ts"].as_str().unwrap()),
            "RFC 3339 ts: {}",
            r["ts"]
        );
    }
}

fn chrono_like(ts: &str) -> bool {
    ts.len() >= 20 && ts.as_bytes()[4] == b'-' && ts.as_bytes()[10] == b'T' && ts.ends_with('Z')
}
