//! The agent's Modbus acquisition against pymodbus devices (an implementation nobody on this
//! project wrote): several real profiles with hand-computed register values, mixed word
//! orders, exceptions, gaps, timeouts, a device that disappears and comes back, RTU over a
//! socat pseudo-terminal pair and RTU over TCP. Every test ends by checking that only read
//! function codes ever reached a device.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use kilowatch_agent::poll::{Bus, PollError, Poller};
use kilowatch_e2e::{bin, f32_words, free_port, scratch, PtyPair, PyDevice};
use kilowatch_site::config::{DeviceConfig, Parity, Transport};
use kilowatch_site::payload::Quality;
use kilowatch_site::profile::{ChannelConfig, Profile, ProfileLibrary};
use serde_json::json;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// A register image as pymodbus spec blocks: {start: words}.
#[derive(Default)]
struct Image(BTreeMap<u16, u16>);

impl Image {
    fn zeros(mut self, start: u16, count: u16) -> Self {
        for a in start..start + count {
            self.0.entry(a).or_insert(0);
        }
        self
    }
    fn set(mut self, start: u16, words: &[u16]) -> Self {
        for (i, w) in words.iter().enumerate() {
            self.0.insert(start + i as u16, *w);
        }
        self
    }
    /// Contiguous runs, so unmapped addresses stay unmapped (exception 2 when read).
    fn blocks(&self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        let mut run: Option<(u16, Vec<u16>)> = None;
        for (&a, &w) in &self.0 {
            match &mut run {
                Some((s, v)) if *s + v.len() as u16 == a => v.push(w),
                _ => {
                    if let Some((s, v)) = run.take() {
                        out.insert(s.to_string(), json!(v));
                    }
                    run = Some((a, vec![w]));
                }
            }
        }
        if let Some((s, v)) = run {
            out.insert(s.to_string(), json!(v));
        }
        serde_json::Value::Object(out)
    }
}

fn device(profile: &str, transport: Transport, unit: u8) -> DeviceConfig {
    DeviceConfig::new(
        profile,
        profile,
        transport,
        unit,
        Duration::from_millis(500),
    )
}

fn values(
    readings: &[kilowatch_site::payload::Reading],
) -> BTreeMap<String, (Option<f64>, Quality)> {
    readings
        .iter()
        .map(|r| (r.quantity.to_string(), (r.value, r.quality)))
        .collect()
}

fn assert_units(got: &BTreeMap<String, String>, want: &[(&str, &str)]) {
    for (quantity, unit) in want {
        assert_eq!(
            got.get(*quantity).map(String::as_str),
            Some(*unit),
            "{quantity}: {got:?}"
        );
    }
}

fn close(got: Option<f64>, want: f64) -> bool {
    got.is_some_and(|g| (g - want).abs() <= 1e-9 * want.abs().max(1.0))
}

#[test]
fn real_profiles_decode_hand_computed_registers() {
    let dir = scratch("profiles");
    let port = free_port();
    // Carlo Gavazzi EM24: INT32 least significant word first (CDAB), weights V*10, A*1000, W*10.
    let em24 = Image::default()
        .zeros(0, 0x38)
        .set(0x00, &[2305, 0]) // 230.5 V
        .set(0x0C, &[12345, 0]) // 12.345 A
        .set(0x28, &[0x1DC0, 0xFFFE]) // -123456 → -12345.6 W
        .set(0x31, &[950]) // PF 0.950
        .set(0x33, &[500]) // 50.0 Hz
        .set(0x34, &[0xD687, 0x0012]); // 1234567 → 123456.7 kWh
                                       // ABB B23: big-endian integers; all-ones marks an invalid value.
    let abb = Image::default()
        .zeros(0x5000, 0x10)
        .zeros(0x5B00, 0x3C)
        .set(0x5000, &[0, 0, 0x00BC, 0x614E]) // 12345678 → 123456.78 kWh
        .set(0x5B00, &[0, 2301]) // 230.1 V
        .set(0x5B12, &[0xFFFF, 0xFFFF]) // neutral current: invalid
        .set(0x5B14, &[0xFFFC, 0x2F70]) // -250000 → -2500.00 W
        .set(0x5B2C, &[5002]); // 50.02 Hz
                               // Schneider iEM3155: document register N is protocol address N-1; energies INT64 Wh.
    let iem = Image::default()
        .zeros(2999, 36)
        .zeros(3053, 26)
        .zeros(3109, 2)
        .zeros(3203, 9)
        .set(3059, &f32_words(12.5)) // register 3060: 12.5 kW
        .set(3109, &f32_words(50.0))
        .set(3203, &[0, 0, 0x3ADE, 0x68B1]); // 987654321 Wh
                                             // CHINT DTSU666: floats holding scaled numbers (2305.0 = 230.5 V).
    let dtsu = Image::default()
        .zeros(0x2000, 0x46)
        .zeros(0x401E, 0x0C)
        .set(0x2006, &f32_words(2305.0))
        .set(0x2012, &f32_words(-1234.5))
        .set(0x2044, &f32_words(5001.0))
        .set(0x401E, &f32_words(4321.5));
    // Eastron SDM630 on the same server: float32 high word first (ABCD) beside CDAB above.
    let sdm = Image::default()
        .zeros(0, 0x100)
        .set(0x0000, &f32_words(231.25))
        .set(0x0034, &f32_words(6930.0))
        .set(0x0046, &f32_words(60.0));
    // Delta C2000: 2100H warning byte set but no error byte (no fault), 2101H = 11b operating,
    // 48.50 Hz, 12.34 A, 1455 rpm, 5.432 kW; Pr.05-32 = 412 days.
    let delta = Image::default()
        .zeros(0x2100, 0x10)
        .set(0x2100, &[0x1200])
        .set(0x2101, &[0x0003])
        .set(0x2103, &[4850, 1234])
        .set(0x210C, &[1455])
        .set(0x210F, &[5432])
        .set(0x0520, &[412]);
    // Danfoss FC 102 (register = PNU × 10 − 1): status word 0x0803 (bit 11 running, bit 3 trip
    // clear), 16-10 = 1850 × 10 W, 16-13 = 482 × 0.1 Hz, 16-14 = 3456 × 0.01 A, 1440 rpm,
    // 15-01 = 23 456 h, 15-02 = 123 456 kWh (0x0001E240).
    let danfoss = Image::default()
        .set(16029, &[0x0803])
        .set(16099, &[0, 1850])
        .set(16129, &[482])
        .set(16139, &[0, 3456])
        .set(16169, &[0, 1440])
        .set(15009, &[0, 23456])
        .set(15019, &[0x0001, 0xE240]);
    // ABB ACS580 (register − 400001 on the wire): ABB Drives status word 0x0337 (bit 2 RDY_REF
    // set, bit 3 TRIPPED clear); 32-bit FbEq32 copies, low word first: 01.01 = 147 825
    // (0x0002_4171) → 1478.25 rpm, 01.06 = 4987 → 49.87 Hz, 01.07 = 12 345 → 123.45 A, 01.14 =
    // −1234 (0xFFFF_FB2E) → −12.34 kW while braking, 05.02 = 1000 days.
    let acs580 = Image::default()
        .zeros(20201, 28)
        .set(3, &[0x0337])
        .set(20201, &[0x4171, 0x0002])
        .set(20211, &[4987, 0])
        .set(20213, &[12345, 0])
        .set(20227, &[0xFB2E, 0xFFFF])
        .set(21003, &[1000, 0]);
    // Siemens MAG 6000: 0.015625 m³/s (exact in f32) → 56.25 m³/h; totalizer 1 as a double.
    let f64_words = |v: f64| {
        let b = v.to_bits();
        [
            (b >> 48) as u16,
            (b >> 32) as u16,
            (b >> 16) as u16,
            b as u16,
        ]
    };
    let mag = Image::default()
        .zeros(3000, 28)
        .set(3002, &f32_words(0.015625))
        .set(3014, &f64_words(123_456.789));
    // Bell VFM-60 on steam, set to kg/h and kg: 2500 kg/h and 1 234 567 kg.
    let vortex = Image::default()
        .zeros(0, 38)
        .set(0, &f32_words(2500.0))
        .set(36, &f32_words(1_234_567.0));
    // Kamstrup MULTICAL default datagram: t1 70.5 °C, t2 40.25 °C.
    let multical = Image::default()
        .zeros(0, 14)
        .set(6, &f32_words(70.5))
        .set(8, &f32_words(40.25));
    // Kaeser SIGMA CONTROL (register − 40001 on the wire): pN 7250 mbar, ADT 825 × 0.1 °C.
    let sigma = Image::default()
        .zeros(20, 32)
        .set(40, &[7250])
        .set(42, &[825]);
    // Aquametro CALEC ST (protocol addresses, floats ABCD): status 2 = ALARM (a fault); heat
    // 123 456.5 kWh, cooling 4321.25 kWh, 9876.5 m³, 352.75 kW, 12.5 m³/h, hot 45.5 °C, cold
    // 40.25 °C.
    let calec = Image::default()
        .zeros(0, 2)
        .zeros(100, 4)
        .zeros(200, 2)
        .zeros(500, 2)
        .zeros(600, 2)
        .zeros(800, 12)
        .set(1, &[2])
        .set(100, &f32_words(123_456.5))
        .set(102, &f32_words(4321.25))
        .set(200, &f32_words(9876.5))
        .set(500, &f32_words(352.75))
        .set(600, &f32_words(12.5))
        .set(800, &f32_words(45.5))
        .set(810, &f32_words(40.25));
    // Datakom DK-40 (register − 40001 on the wire): 72 × 0.1 bar, 85 °C, engine hours 123 456
    // × 0.1 h, load hours 98 765 (0x0001_81CD) × 0.1 h, alarm bit 16 set (high word first).
    let dk40 = Image::default()
        .zeros(7, 23)
        .set(7, &[72, 85])
        .set(24, &[0x0001, 0xE240])
        .set(26, &[0x0001, 0x81CD])
        .set(28, &[0x0001, 0x0000]);
    // Kaeser SIGMA CONTROL 2: alarm word (input register 30022, protocol 21) with alarm 0004
    // EMERGENCY STOP, bit 3.
    let sigma2 = Image::default().zeros(21, 1).set(21, &[0x0008]);
    // Meter board with a gas meter on pulse input 0 (0.01 m³ per pulse): 123 456 pulses since
    // start and 30 pulses per minute over the last interval.
    let board = Image::default()
        .zeros(200, 2)
        .zeros(300, 8)
        .set(302, &[0x0001, 0xE240])
        .set(306, &f32_words(30.0));
    let spec = json!({"transport": "tcp", "port": port, "units": [
        {"id": 6, "hr": delta.blocks()},
        {"id": 7, "hr": danfoss.blocks()},
        {"id": 8, "ir": board.blocks()},
        {"id": 9, "hr": acs580.blocks()},
        {"id": 10, "hr": mag.blocks()},
        {"id": 11, "hr": vortex.blocks()},
        {"id": 12, "hr": multical.blocks()},
        {"id": 13, "hr": sigma.blocks()},
        {"id": 14, "hr": calec.blocks()},
        {"id": 15, "hr": dk40.blocks()},
        {"id": 16, "ir": sigma2.blocks()},
        {"id": 1, "hr": em24.blocks()},
        {"id": 2, "hr": abb.blocks()},
        {"id": 3, "hr": iem.blocks()},
        {"id": 4, "hr": dtsu.blocks()},
        {"id": 5, "ir": sdm.blocks(), "hr": Image::default()
            .set(42, &[0x00BC, 0x614E]) // serial number 12345678
            .set(100, &[0x5344, 0x4D36, 0x3330, 0x0000]) // "SDM630", for a user profile's string
            .blocks()},
    ]});
    let dev = PyDevice::start("profiles", &dir, spec);
    let lib = ProfileLibrary::builtin();
    let tcp = Transport::Tcp(format!("127.0.0.1:{port}"));
    let bus = Bus::new(tcp.clone());
    // One runtime for the whole test: the bus keeps its connection between polls.
    let rt = rt();
    let poll = |name: &str, unit: u8| {
        let mut p = Poller::new(
            device(name, tcp.clone(), unit),
            lib.get(name).unwrap().clone(),
            bus.clone(),
        );
        values(
            &rt.block_on(p.poll())
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .readings,
        )
    };

    // The unit each reading is published in: the vocabulary's canonical unit of its quantity.
    let units = |name: &str, unit: u8| -> BTreeMap<String, String> {
        let mut p = Poller::new(
            device(name, tcp.clone(), unit),
            lib.get(name).unwrap().clone(),
            bus.clone(),
        );
        rt.block_on(p.poll())
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .readings
            .iter()
            .map(|r| (r.quantity.to_string(), r.unit.to_string()))
            .collect()
    };

    let v = poll("carlo-gavazzi-em24", 1);
    assert!(close(v["voltage_l1"].0, 230.5), "{v:?}");
    assert!(close(v["current_l1"].0, 12.345), "{v:?}");
    assert!(close(v["active_power"].0, -12.3456), "{v:?}");
    assert!(close(v["power_factor"].0, 0.95), "{v:?}");
    assert!(close(v["frequency"].0, 50.0), "{v:?}");
    assert!(close(v["active_energy_import"].0, 123456.7), "{v:?}");

    let v = poll("abb-b23", 2);
    assert!(close(v["active_energy_import"].0, 123456.78), "{v:?}");
    assert!(close(v["voltage_l1"].0, 230.1), "{v:?}");
    assert!(close(v["active_power"].0, -2.5), "{v:?}");
    assert!(close(v["frequency"].0, 50.02), "{v:?}");
    assert_eq!(
        v["current_n"],
        (None, Quality::Unavailable),
        "sentinel → unavailable, not a number"
    );

    let v = poll("schneider-iem3155", 3);
    assert!(close(v["active_power"].0, 12.5), "{v:?}");
    assert!(close(v["frequency"].0, 50.0), "{v:?}");
    assert!(close(v["active_energy_import"].0, 987654.321), "{v:?}");

    let v = poll("chint-dtsu666", 4);
    assert!(close(v["voltage_l1"].0, 230.5), "{v:?}");
    assert!(close(v["active_power"].0, -0.12345), "{v:?}");
    assert!(close(v["frequency"].0, 50.01), "{v:?}");
    assert!(close(v["active_energy_import"].0, 4321.5), "{v:?}");

    let v = poll("eastron-sdm630", 5);
    assert!(close(v["voltage_l1"].0, 231.25), "{v:?}");
    assert!(close(v["active_power"].0, 6.93), "{v:?}");

    let v = poll("delta-c2000", 6);
    assert_eq!(
        v["fault_state"].0,
        Some(0.0),
        "a warning is not a fault: {v:?}"
    );
    assert_eq!(v["run_state"].0, Some(1.0), "{v:?}");
    assert!(close(v["output_frequency"].0, 48.5), "{v:?}");
    assert!(close(v["motor_current"].0, 12.34), "{v:?}");
    assert!(close(v["motor_speed"].0, 1455.0), "{v:?}");
    assert!(close(v["active_power"].0, 5.432), "{v:?}");
    assert!(close(v["running_hours"].0, 412.0 * 24.0), "{v:?}");

    let v = poll("danfoss-fc102", 7);
    assert_eq!(v["fault_state"].0, Some(0.0), "{v:?}");
    assert_eq!(v["run_state"].0, Some(1.0), "{v:?}");
    assert!(close(v["active_power"].0, 18.5), "{v:?}");
    assert!(close(v["output_frequency"].0, 48.2), "{v:?}");
    assert!(close(v["motor_current"].0, 34.56), "{v:?}");
    assert!(close(v["motor_speed"].0, 1440.0), "{v:?}");
    assert!(close(v["running_hours"].0, 23456.0), "{v:?}");
    assert!(close(v["active_energy_import"].0, 123456.0), "{v:?}");

    let v = poll("abb-acs580", 9);
    assert_eq!(v["run_state"].0, Some(1.0), "{v:?}");
    assert_eq!(v["fault_state"].0, Some(0.0), "{v:?}");
    assert!(close(v["motor_speed"].0, 1478.25), "{v:?}");
    assert!(close(v["output_frequency"].0, 49.87), "{v:?}");
    assert!(close(v["motor_current"].0, 123.45), "{v:?}");
    assert!(close(v["active_power"].0, -12.34), "{v:?}");
    assert!(close(v["running_hours"].0, 1000.0 * 24.0), "{v:?}");

    let v = poll("siemens-mag6000", 10);
    assert!(close(v["water_flow"].0, 56.25), "{v:?}");
    assert!(close(v["water_volume"].0, 123_456.789), "{v:?}");

    let v = poll("bell-vfm60", 11);
    assert!(close(v["steam_flow"].0, 2.5), "kg/h → t/h: {v:?}");
    assert!(close(v["steam_mass"].0, 1234.567), "kg → t: {v:?}");

    let v = poll("kamstrup-multical603", 12);
    assert!(close(v["supply_temp"].0, 70.5), "{v:?}");
    assert!(close(v["return_temp"].0, 40.25), "{v:?}");

    let v = poll("kaeser-sigma-control", 13);
    assert!(close(v["pressure"].0, 7.25), "mbar → bar: {v:?}");
    assert!(close(v["temperature"].0, 82.5), "{v:?}");
    assert_eq!(v["fault_state"].0, Some(0.0), "no alarm bit: {v:?}");

    let v = poll("aquametro-calec-st", 14);
    assert_eq!(
        v["fault_state"].0,
        Some(1.0),
        "ALARM status is a fault: {v:?}"
    );
    assert!(close(v["heat_energy"].0, 123_456.5), "{v:?}");
    assert!(close(v["cooling_energy"].0, 4321.25), "{v:?}");
    assert!(close(v["water_volume"].0, 9876.5), "{v:?}");
    assert!(close(v["thermal_power"].0, 352.75), "{v:?}");
    assert!(close(v["water_flow"].0, 12.5), "{v:?}");
    assert!(close(v["supply_temp"].0, 45.5), "{v:?}");
    assert!(close(v["return_temp"].0, 40.25), "{v:?}");
    assert_units(
        &units("aquametro-calec-st", 14),
        &[
            ("heat_energy", "kWh"),
            ("cooling_energy", "kWh"),
            ("water_volume", "m³"),
            ("thermal_power", "kW"),
            ("water_flow", "m³/h"),
            ("supply_temp", "°C"),
            ("fault_state", ""),
        ],
    );

    let v = poll("datakom-dk40", 15);
    assert!(close(v["pressure"].0, 7.2), "{v:?}");
    assert!(close(v["temperature"].0, 85.0), "{v:?}");
    assert!(close(v["running_hours"].0, 12_345.6), "{v:?}");
    assert!(close(v["load_hours"].0, 9_876.5), "{v:?}");
    assert_eq!(
        v["fault_state"].0,
        Some(1.0),
        "an alarm bit in the high word: {v:?}"
    );
    assert_units(
        &units("datakom-dk40", 15),
        &[
            ("pressure", "bar"),
            ("temperature", "°C"),
            ("running_hours", "h"),
            ("load_hours", "h"),
        ],
    );

    let v = poll("kaeser-sigma-control-2", 16);
    assert_eq!(v["fault_state"].0, Some(1.0), "EMERGENCY STOP: {v:?}");

    // The gas meter through the board, and an SDM630 behind 50/5 A CTs and 22 kV/110 V PTs:
    // the site file's channels and ratios, resolved as the agent does.
    let resolved = |d: &DeviceConfig| d.resolve(lib.get(&d.profile).unwrap()).unwrap();
    let mut gas = device("kilowatch-meterboard", tcp.clone(), 8);
    gas.channels = vec![
        ChannelConfig {
            channel: 4,
            quantity: "gas_volume".into(),
            unit: "m3".into(),
            range: [0.0, 0.01],
        },
        ChannelConfig {
            channel: 6,
            quantity: "gas_flow".into(),
            unit: "m3/h".into(),
            range: [0.0, 0.6],
        },
    ];
    let mut sdm_ct = device("eastron-sdm630", tcp.clone(), 5);
    sdm_ct.ct_ratio = Some(10.0);
    sdm_ct.pt_ratio = Some(200.0);
    for (d, checks) in [
        // 123 456 pulses × 0.01 m³; 30 pulses/min × 0.01 m³ × 60 min/h.
        (gas, vec![("gas_volume", 1234.56), ("gas_flow", 18.0)]),
        // 231.25 V × 200; 6.93 kW × 10 × 200.
        (
            sdm_ct,
            vec![("voltage_l1", 46_250.0), ("active_power", 13_860.0)],
        ),
    ] {
        let profile = resolved(&d);
        let mut p = Poller::new(d, profile, bus.clone());
        let v = values(&rt.block_on(p.poll()).unwrap().readings);
        for (q, want) in checks {
            assert!(close(v[q].0, want), "{q}: {v:?}");
        }
    }

    // The CLI prints the same numbers as one JSON object.
    let out = Command::new(bin("kilowatch-agent"))
        .args([
            "read",
            "--profile",
            "carlo-gavazzi-em24",
            "--tcp",
            &format!("127.0.0.1:{port}"),
            "--unit",
            "1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["voltage_l1"], 230.5);
    assert_eq!(j["active_energy_import"], 123456.7);

    // Identification fields: the built-in SDM630 serial number (u32) and a string from a user
    // profile that extends the built-in one.
    let profiles_dir = dir.join("profiles");
    std::fs::create_dir_all(&profiles_dir).unwrap();
    let builtin = include_str!("../../agent/profiles/eastron-sdm630.toml");
    std::fs::write(
        profiles_dir.join("site-sdm630.toml"),
        builtin.replace("name = \"eastron-sdm630\"", "name = \"site-sdm630\"")
            + "\n[[info]]\nname = \"model\"\ntable = \"holding\"\naddress = 100\ntype = \"string\"\nlength = 4\n",
    )
    .unwrap();
    let info = |profile: &str| {
        let out = Command::new(bin("kilowatch-agent"))
            .args([
                "read",
                "--info",
                "--profile",
                profile,
                "--profiles-dir",
                profiles_dir.to_str().unwrap(),
                "--tcp",
                &format!("127.0.0.1:{port}"),
                "--unit",
                "5",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    assert_eq!(info("eastron-sdm630"), json!({"serial_number": "12345678"}));
    assert_eq!(
        info("site-sdm630"),
        json!({"serial_number": "12345678", "model": "SDM630"})
    );
    dev.assert_read_only();
}

#[test]
fn analog_channels_scale_as_the_site_says() {
    let dir = scratch("adam");
    let port = free_port();
    // ADAM-4117 registers 40001-40008 → protocol addresses 0-7; 0-65535 spans 4-20 mA.
    let img = Image::default()
        .zeros(0, 8)
        .set(0, &[32768])
        .set(3, &[0])
        .set(5, &[65535]);
    let dev = PyDevice::start(
        "adam",
        &dir,
        json!({"transport": "tcp", "port": port, "units": [{"id": 7, "hr": img.blocks()}]}),
    );
    let lib = ProfileLibrary::builtin();
    let channels = vec![
        ChannelConfig {
            channel: 0,
            quantity: "pressure".into(),
            unit: "bar".into(),
            range: [0.0, 10.0],
        },
        ChannelConfig {
            channel: 3,
            quantity: "chw_supply_temp".into(),
            unit: "°C".into(),
            range: [-20.0, 120.0],
        },
        ChannelConfig {
            channel: 5,
            quantity: "air_flow".into(),
            unit: "cfm".into(),
            range: [0.0, 500.0],
        },
    ];
    let profile = lib
        .get("advantech-adam-4117")
        .unwrap()
        .for_device(&channels)
        .unwrap();
    let tcp = Transport::Tcp(format!("127.0.0.1:{port}"));
    let mut p = Poller::new(
        device("advantech-adam-4117", tcp.clone(), 7),
        profile,
        Bus::new(tcp),
    );
    let v = values(&rt().block_on(p.poll()).unwrap().readings);
    let pressure = v["pressure"].0.unwrap();
    assert!(
        (pressure - 5.0).abs() < 1e-3,
        "12 mA on a 0-10 bar transmitter: {pressure}"
    );
    assert!(close(v["chw_supply_temp"].0, -20.0), "{v:?}");
    // 500 cfm full scale, converted to the canonical m³/min.
    assert!(close(v["air_flow"].0, 500.0 * 0.028_316_846_592), "{v:?}");
    assert_eq!(v.len(), 3, "only configured channels become readings");
    dev.assert_read_only();
}

/// A test profile whose registers sit at the given input-register addresses.
fn profile_at(addrs: &[(&str, u16)]) -> Profile {
    let regs: String = addrs
        .iter()
        .map(|(q, a)| format!("{{ quantity = \"{q}\", table = \"input\", address = {a}, type = \"f32\", unit = \"V\" }},\n"))
        .collect();
    Profile::from_toml(
        &format!("name = \"t\"\nmanufacturer = \"x\"\nmodel = \"y\"\nsource = \"test\"\nregisters = [\n{regs}]\n"),
        "t",
    )
    .unwrap()
}

#[test]
fn exceptions_gaps_and_timeouts() {
    let dir = scratch("exceptions");
    let port = free_port();
    // Unit 1 maps 0-3 and 10-11 and 100-101; 4-9 are unmapped (a gap the planner reads
    // through, which the device refuses). Unit 9 is not on the line at all.
    let img = Image::default()
        .set(0, &f32_words(230.0))
        .set(2, &f32_words(231.0))
        .set(10, &f32_words(232.0))
        .set(100, &f32_words(400.0));
    let dev = PyDevice::start(
        "exceptions",
        &dir,
        json!({"transport": "tcp", "port": port, "units": [{"id": 1, "ir": img.blocks()}]}),
    );
    let tcp = Transport::Tcp(format!("127.0.0.1:{port}"));
    let bus = Bus::new(tcp.clone());
    let profile = profile_at(&[
        ("voltage_l1", 0),
        ("voltage_l2", 2),
        ("voltage_l3", 10),
        ("voltage_l1_l2", 100),
    ]);
    let mut p = Poller::new(device("t", tcp.clone(), 1), profile.clone(), bus.clone());
    // 0..12 is one read (gap of 6 ≤ 16); 100 is beyond the gap limit: a read of its own.
    let planned: Vec<(u16, u16)> = p.blocks().iter().map(|b| (b.start, b.count)).collect();
    assert_eq!(planned, vec![(0, 12), (100, 2)]);

    let rt = rt();
    let first = rt.block_on(p.poll()).unwrap();
    let v = values(&first.readings);
    for (q, want) in [
        ("voltage_l1", 230.0),
        ("voltage_l2", 231.0),
        ("voltage_l3", 232.0),
        ("voltage_l1_l2", 400.0),
    ] {
        assert_eq!(v[q], (Some(want), Quality::Good), "{q}");
    }
    // The refused span was split per field and the split is remembered.
    let planned: Vec<(u16, u16)> = p.blocks().iter().map(|b| (b.start, b.count)).collect();
    assert_eq!(planned, vec![(0, 2), (2, 2), (10, 2), (100, 2)]);
    let before = dev.requests().len();
    rt.block_on(p.poll()).unwrap();
    assert_eq!(
        dev.requests().len() - before,
        4,
        "second poll: one request per field, no retry of the span"
    );
    // Nothing read between 12 and 100.
    assert!(
        dev.requests().iter().all(|r| r.2 < 12 || r.2 == 100),
        "{:?}",
        dev.requests()
    );

    // A register the device does not have: exception on its own read → that reading is bad,
    // the others stay good.
    let with_missing = profile_at(&[("voltage_l1", 0), ("voltage_l1_l2", 50)]);
    let mut q = Poller::new(device("m", tcp.clone(), 1), with_missing, bus.clone());
    let out = rt.block_on(q.poll()).unwrap();
    let v = values(&out.readings);
    assert_eq!(v["voltage_l1"], (Some(230.0), Quality::Good));
    assert_eq!(v["voltage_l1_l2"], (None, Quality::Bad));
    assert_eq!(out.exceptions, 1);

    // A unit that is not there: a timeout, reported as such, within the configured time.
    let mut ghost = Poller::new(
        device("ghost", tcp.clone(), 9),
        profile.clone(),
        bus.clone(),
    );
    let t0 = std::time::Instant::now();
    let err = rt.block_on(ghost.poll()).unwrap_err();
    assert!(matches!(err, PollError::Timeout { unit: 9, .. }), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    // The connection was re-made after the timeout: unit 1 on the same bus reads cleanly (no
    // late reply for unit 9 is taken for unit 1's answer).
    let v = values(&rt.block_on(p.poll()).unwrap().readings);
    assert_eq!(v["voltage_l1"], (Some(230.0), Quality::Good));
    dev.assert_read_only();
}

#[test]
fn a_device_that_disappears_and_comes_back() {
    let dir = scratch("disappear");
    let port = free_port();
    let spec = json!({"transport": "tcp", "port": port, "units": [{"id": 1, "ir": Image::default().zeros(0, 0x100).set(0x34, &f32_words(5000.0)).blocks()}]});
    let dev = PyDevice::start("dev1", &dir, spec.clone());
    let tcp = Transport::Tcp(format!("127.0.0.1:{port}"));
    let lib = ProfileLibrary::builtin();
    let mut p = Poller::new(
        device("eastron-sdm630", tcp.clone(), 1),
        lib.get("eastron-sdm630").unwrap().clone(),
        Bus::new(tcp),
    );
    let rt = rt();
    assert!(rt.block_on(p.poll()).is_ok());
    dev.assert_read_only();
    drop(dev); // the device goes away
    let err = rt.block_on(p.poll()).unwrap_err();
    assert!(
        matches!(err.kind(), "connect" | "transport" | "timeout"),
        "{err}"
    );
    let err = rt.block_on(p.poll()).unwrap_err();
    assert_eq!(err.kind(), "connect", "{err}");
    let dev = PyDevice::start("dev2", &dir, spec); // and comes back on the same address
    let v = values(
        &rt.block_on(p.poll())
            .expect("reconnects by itself")
            .readings,
    );
    assert!(close(v["active_power"].0, 5.0));
    dev.assert_read_only();
}

#[test]
fn rtu_over_a_serial_line_and_over_tcp() {
    let dir = scratch("rtu");
    let pty = PtyPair::new(&dir);
    // Two meters on one RS-485 line (socat pseudo-terminals), 9600 8N1.
    let sdm120 = Image::default()
        .zeros(0, 0x50)
        .set(0x00, &f32_words(229.5))
        .set(0x0C, &f32_words(1500.0))
        .set(0x48, &f32_words(42.25));
    let em24 = Image::default()
        .zeros(0, 0x38)
        .set(0x00, &[2301, 0])
        .set(0x28, &[30000, 0]);
    let dev = PyDevice::start(
        "rtu",
        &dir,
        json!({"transport": "rtu", "device": pty.a.to_str().unwrap(), "baud": 9600,
               "units": [{"id": 11, "ir": sdm120.blocks()}, {"id": 12, "hr": em24.blocks()}]}),
    );
    let rtu = Transport::Rtu {
        path: pty.b.to_str().unwrap().into(),
        baud: 9600,
        parity: Parity::None,
        stop_bits: 1,
    };
    let lib = ProfileLibrary::builtin();
    let bus = Bus::new(rtu.clone());
    let mut a = Poller::new(
        device("eastron-sdm120", rtu.clone(), 11),
        lib.get("eastron-sdm120").unwrap().clone(),
        bus.clone(),
    );
    let mut b = Poller::new(
        device("carlo-gavazzi-em24", rtu.clone(), 12),
        lib.get("carlo-gavazzi-em24").unwrap().clone(),
        bus.clone(),
    );
    // Both pollers run concurrently; the shared bus serialises them on the line.
    let (ra, rb) = rt().block_on(async { tokio::join!(a.poll(), b.poll()) });
    let va = values(&ra.unwrap().readings);
    let vb = values(&rb.unwrap().readings);
    assert!(close(va["voltage_l1"].0, 229.5), "{va:?}");
    assert!(close(va["active_power"].0, 1.5), "{va:?}");
    assert!(close(va["active_energy_import"].0, 42.25), "{va:?}");
    assert!(close(vb["voltage_l1"].0, 230.1), "{vb:?}");
    assert!(close(vb["active_power"].0, 3.0), "{vb:?}");
    // The units' requests never interleave: each poll's requests arrive together.
    let units: Vec<u8> = dev.requests().iter().map(|r| r.0).collect();
    let switches = units.windows(2).filter(|w| w[0] != w[1]).count();
    assert_eq!(switches, 1, "requests interleaved on the line: {units:?}");
    drop(bus);
    drop((a, b));

    // The CLI over the same line.
    let out = Command::new(bin("kilowatch-agent"))
        .args([
            "read",
            "--profile",
            "eastron-sdm120",
            "--rtu",
            pty.b.to_str().unwrap(),
            "--baud",
            "9600",
            "--unit",
            "11",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["voltage_l1"], 229.5);
    dev.assert_read_only();

    // RTU frames over TCP, as a serial device server passes them.
    let port = free_port();
    let dev = PyDevice::start(
        "rtutcp",
        &dir,
        json!({"transport": "rtu_over_tcp", "port": port, "units": [{"id": 11, "ir": sdm120.blocks()}]}),
    );
    let out = Command::new(bin("kilowatch-agent"))
        .args([
            "read",
            "--profile",
            "eastron-sdm120",
            "--rtu-over-tcp",
            &format!("127.0.0.1:{port}"),
            "--unit",
            "11",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["active_power"], 1.5);
    dev.assert_read_only();
}

#[test]
fn scan_finds_the_devices_and_suggests_their_profiles() {
    let dir = scratch("scan");
    let port = free_port();
    let sdm630 = Image::default()
        .zeros(0, 0x100)
        .set(0x00, &f32_words(230.0))
        .set(0x02, &f32_words(231.0))
        .set(0x04, &f32_words(229.0))
        .set(0x06, &f32_words(10.0))
        .set(0x34, &f32_words(6900.0))
        .set(0x3E, &f32_words(0.98))
        .set(0x46, &f32_words(60.0))
        .set(0xC8, &f32_words(400.0));
    let abb = Image::default()
        .zeros(0x5000, 0x10)
        .zeros(0x5B00, 0x3C)
        .set(0x5B00, &[0, 2301])
        .set(0x5B2C, &[5000])
        .set(0x5B3A, &[990]);
    let dev = PyDevice::start(
        "scan",
        &dir,
        json!({"transport": "tcp", "port": port, "units": [
        {"id": 3, "ir": sdm630.blocks()}, {"id": 4, "hr": abb.blocks()}]}),
    );
    let out = Command::new(bin("kilowatch-agent"))
        .args([
            "scan",
            "--tcp",
            &format!("127.0.0.1:{port}"),
            "--units",
            "1-5",
            "--timeout",
            "200ms",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("unit 3: answers; suggested profile eastron-sdm630"),
        "{stdout}"
    );
    assert!(
        stdout.contains("unit 4: answers; suggested profile abb-b23"),
        "{stdout}"
    );
    assert!(stdout.contains("2 device(s) found"), "{stdout}");
    assert!(
        !stdout.contains("unit 1:") && !stdout.contains("unit 5:"),
        "{stdout}"
    );
    dev.assert_read_only();
}
