//! Profile parsing, checking and decoding.

use super::*;

#[test]
fn builtin_library_loads() {
    let lib = ProfileLibrary::builtin();
    let sdm = lib.get("eastron-sdm630").expect("sdm630 is built in");
    assert!(sdm.registers.iter().any(|r| r.quantity == "active_power"));
}

#[test]
fn the_library_covers_the_common_meters() {
    let lib = ProfileLibrary::builtin();
    assert!(lib.names().len() >= 11, "{:?}", lib.names());
    for p in lib.iter() {
        assert!(!p.source.is_empty(), "{} names its source document", p.name);
        // No two registers of a profile overlap.
        // Status flags share their register with other flags of the same word.
        let mut spans: Vec<(Table, u16, u16)> = p
            .registers
            .iter()
            .filter(|r| r.flag_mask().is_none())
            .map(|r| (r.table, p.protocol_address(r), r.data_type.words()))
            .collect();
        spans.sort();
        for w in spans.windows(2) {
            assert!(
                w[0].0 != w[1].0 || w[0].1 + w[0].2 <= w[1].1,
                "{}: overlapping registers at {}",
                p.name,
                w[1].1
            );
        }
    }
}

#[test]
fn analog_channels_scale_per_site() {
    let lib = ProfileLibrary::builtin();
    let adam = lib.get("advantech-adam-4117").unwrap();
    let p = adam
        .for_device(&[ChannelConfig {
            channel: 2,
            quantity: "pressure".into(),
            unit: "bar".into(),
            range: [0.0, 10.0],
        }])
        .unwrap();
    let r = p
        .registers
        .iter()
        .find(|r| r.quantity == "pressure")
        .unwrap();
    assert_eq!(p.protocol_address(r), 2);
    // 4 mA → 0 bar, 20 mA → 10 bar, 12 mA (mid-scale) → 5 bar.
    let at = |raw: u16| r.to_canonical(&[raw], WordOrder::ABCD).unwrap();
    assert_eq!(at(0), Value::Good(0.0));
    assert_eq!(at(65535), Value::Good(10.0));
    match at(32768) {
        Value::Good(v) => assert!((v - 5.0).abs() < 1e-3, "{v}"),
        v => panic!("{v:?}"),
    }
    let err = adam
        .for_device(&[ChannelConfig {
            channel: 9,
            quantity: "pressure".into(),
            unit: "bar".into(),
            range: [0.0, 10.0],
        }])
        .unwrap_err();
    assert!(err.contains("no channel 9"), "{err}");
}

#[test]
fn watts_become_kilowatts() {
    let lib = ProfileLibrary::builtin();
    let sdm = lib.get("eastron-sdm630").unwrap();
    let p = sdm
        .registers
        .iter()
        .find(|r| r.quantity == "active_power")
        .unwrap();
    let words = p.from_canonical(12.5, sdm.order(p));
    // 12 500 W as float32 big-endian = 0x46435000
    assert_eq!(words, vec![0x4643, 0x5000]);
    assert_eq!(
        p.to_canonical(&words, sdm.order(p)).unwrap(),
        Value::Good(12.5)
    );
}

#[test]
fn sentinel_and_scaling() {
    let text = r#"
        name = "t"
        manufacturer = "x"
        model = "y"
        source = "z"
        address_base = 1
        [[registers]]
        quantity = "power_factor"
        table = "holding"
        address = 1
        type = "i16"
        scale = 0.001
        unit = ""
        sentinel = -32768
    "#;
    let p = Profile::from_toml(text, "t.toml").unwrap();
    let r = &p.registers[0];
    assert_eq!(p.protocol_address(r), 0);
    assert_eq!(
        r.to_canonical(&[0x8000], WordOrder::ABCD).unwrap(),
        Value::Unavailable
    );
    assert_eq!(
        r.to_canonical(&[950], WordOrder::ABCD).unwrap(),
        Value::Good(0.95)
    );
}

#[test]
fn status_bits_decode_to_states() {
    let text = r#"
        name = "t"
        manufacturer = "x"
        model = "y"
        source = "z"
        registers = [
          { quantity = "run_state", table = "holding", address = 10, type = "u16", unit = "", bit = 11 },
          { quantity = "fault_state", table = "holding", address = 10, type = "u16", unit = "", bit = 3 },
          { quantity = "load_state", table = "input", address = 20, type = "u32", unit = "", mask = 0x00FF0000, order = "CDAB" },
        ]
    "#;
    let p = Profile::from_toml(text, "t.toml").unwrap();
    let at = |i: usize, words: &[u16]| {
        let r = &p.registers[i];
        r.to_canonical(words, p.order(r)).unwrap()
    };
    // Danfoss-style status word 0x0803: bit 11 (running) set, bit 3 (trip) clear.
    assert_eq!(at(0, &[0x0803]), Value::Good(1.0));
    assert_eq!(at(1, &[0x0803]), Value::Good(0.0));
    assert_eq!(at(1, &[0x0008]), Value::Good(1.0));
    // Bits 16-23 of a word-swapped u32: the high word comes second.
    assert_eq!(at(2, &[0xFFFF, 0x0001]), Value::Good(1.0));
    assert_eq!(at(2, &[0xFFFF, 0xFF00]), Value::Good(0.0));
    // The simulator's words decode back to the same state.
    for (i, v) in [(0, 1.0), (1, 0.0), (2, 1.0)] {
        let r = &p.registers[i];
        let words = r.from_canonical(v, p.order(r));
        assert_eq!(r.to_canonical(&words, p.order(r)).unwrap(), Value::Good(v));
    }
}

#[test]
fn unusable_status_bits_are_refused() {
    let with = |reg: &str| {
        Profile::from_toml(
            &format!(
                "name = \"t\"\nmanufacturer = \"x\"\nmodel = \"y\"\nsource = \"z\"\nregisters = [ {reg} ]\n"
            ),
            "t.toml",
        )
        .unwrap_err()
        .to_string()
    };
    let e = with(
        r#"{ quantity = "run_state", table = "holding", address = 0, type = "u16", unit = "", bit = 16 }"#,
    );
    assert!(e.contains("outside a 16-bit register"), "{e}");
    let e = with(
        r#"{ quantity = "active_power", table = "holding", address = 0, type = "u16", unit = "kW", bit = 2 }"#,
    );
    assert!(e.contains("not a state quantity"), "{e}");
    let e = with(
        r#"{ quantity = "run_state", table = "holding", address = 0, type = "f32", unit = "", bit = 2 }"#,
    );
    assert!(e.contains("u16 or u32"), "{e}");
    let e = with(
        r#"{ quantity = "run_state", table = "holding", address = 0, type = "u16", unit = "", bit = 1, mask = 3 }"#,
    );
    assert!(e.contains("not both"), "{e}");
    let e = with(
        r#"{ quantity = "run_state", table = "holding", address = 0, type = "u16", unit = "", mask = 0 }"#,
    );
    assert!(e.contains("outside"), "{e}");
}

#[test]
fn bad_profiles_are_refused_with_the_reason() {
    let text = r#"
        name = "t"
        manufacturer = "x"
        model = "y"
        source = "z"
        [[registers]]
        quantity = "active_power"
        table = "input"
        address = 0
        type = "f32"
        unit = "kWh"
    "#;
    let e = Profile::from_toml(text, "t.toml").unwrap_err().to_string();
    assert!(e.contains("active_power") && e.contains("kWh"), "{e}");
    let e = Profile::from_toml("name = 1", "t.toml")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("profile t.toml:"), "{e}");
}
