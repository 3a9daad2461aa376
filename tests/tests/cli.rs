//! Bad configuration → exit code 2 and one line naming the file, the key and the problem.

use std::process::Command;

use kilowatch_e2e::{bin, scratch};

fn run(program: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(bin(program)).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const GOOD: &str = r#"
[site]
id = "plant"

[[devices]]
id = "incomer"
profile = "eastron-sdm630"
tcp = "127.0.0.1:5020"
"#;

#[test]
fn config_errors_name_file_and_key() {
    let dir = scratch("cli");
    let cases = [
        (
            "unit",
            GOOD.replace("tcp =", "unit = 300\ntcp ="),
            "devices[0].unit",
        ),
        (
            "profile",
            GOOD.replace("eastron-sdm630", "acme-9000"),
            "devices[0].profile",
        ),
        (
            "interval",
            GOOD.replace("tcp =", "interval = \"often\"\ntcp ="),
            "devices[0].interval",
        ),
        (
            "typo",
            GOOD.replace("[site]", "[site]\nnmae = \"x\""),
            "site",
        ),
        (
            "tz",
            GOOD.replace("[site]", "[site]\ntimezone = \"Mars/Olympus\""),
            "site.timezone",
        ),
        (
            "missing",
            GOOD.replace("profile = \"eastron-sdm630\"\n", ""),
            "devices[0]",
        ),
    ];
    for (name, text, key) in cases {
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, text).unwrap();
        let f = file.to_str().unwrap();
        for (program, cmd) in [
            ("kilowatch-agent", "check"),
            ("kilowatch-agent", "run"),
            ("kilowatch-gateway", "run"),
        ] {
            let (code, _, err) = run(program, &[cmd, "--config", f]);
            assert_eq!(code, Some(2), "{program} {cmd} {name}: {err}");
            assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
            assert!(
                err.contains(f) && err.contains(key),
                "{program} {cmd} {name}: {err}"
            );
        }
    }
    let (code, _, err) = run(
        "kilowatch-agent",
        &["check", "--config", "/nonexistent/site.toml"],
    );
    assert_eq!(code, Some(2));
    assert!(
        err.contains("/nonexistent/site.toml") && err.contains("cannot read"),
        "{err}"
    );
}

#[test]
fn the_shipped_demo_site_checks() {
    let site = concat!(env!("CARGO_MANIFEST_DIR"), "/../seeds/demo-site.toml");
    let (code, out, err) = run("kilowatch-agent", &["check", "--config", site]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("incomer") && out.contains("eastron-sdm630"),
        "{out}"
    );
    let (code, out, _) = run("kilowatch-agent", &["profiles"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("eastron-sdm630"));
}

#[test]
fn csv_import_and_export_round_trip_with_clear_errors() {
    let dir = kilowatch_e2e::scratch("csv");
    let db = dir.join("kw.db");
    let site = dir.join("site.toml");
    std::fs::write(
        &site,
        format!(
            "[site]\nid = \"plant\"\ntimezone = \"Asia/Taipei\"\n[gateway]\ndatabase = \"{}\"\n",
            db.display()
        ),
    )
    .unwrap();
    let csv = dir.join("production.csv");
    let mut text = String::from("ts,device,quantity,value,unit\n");
    for h in 0..24 {
        // Plant-local hours on 2 March 2026; 100 units an hour, counted cumulatively.
        text.push_str(&format!(
            "2026-03-02 {h:02}:00,line-1,production_count,{},\n",
            h * 100
        ));
    }
    std::fs::write(&csv, &text).unwrap();
    let gw = kilowatch_e2e::bin("kilowatch-gateway");
    let run = |args: &[&str]| std::process::Command::new(&gw).args(args).output().unwrap();
    let site_s = site.to_str().unwrap();
    let out = run(&["import", "--config", site_s, csv.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 24 values"));
    // Twice: the upsert keeps one copy. Said in Traditional Chinese when KILOWATCH_LANG asks.
    let again = std::process::Command::new(&gw)
        .args(["import", "--config", site_s, csv.to_str().unwrap()])
        .env("KILOWATCH_LANG", "zh-TW")
        .output()
        .unwrap();
    assert!(again.status.success());
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(said.contains("匯入 24 筆數值"), "{said}");

    let out = run(&[
        "export",
        "--config",
        site_s,
        "--series",
        "plant/line-1/production_count",
        "--from",
        "2026-03-02 00:00",
        "--to",
        "2026-03-03 00:00",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 25, "{body}");
    assert_eq!(lines[0], "ts,site,device,quantity,value,unit");
    assert_eq!(
        lines[1],
        "2026-03-01T16:00:00.000Z,plant,line-1,production_count,0,count"
    );
    assert_eq!(
        lines[24],
        "2026-03-02T15:00:00.000Z,plant,line-1,production_count,2300,count"
    );
    // The daily rollup of the plant-local day holds the counter's increase.
    let out = run(&[
        "export",
        "--config",
        site_s,
        "--series",
        "plant/line-1/production_count",
        "--from",
        "2026-03-02 00:00",
        "--to",
        "2026-03-03 00:00",
        "--step",
        "1d",
    ]);
    let body = String::from_utf8(out.stdout).unwrap();
    let day: Vec<&str> = body.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(day[0], "2026-03-01T16:00:00.000Z");
    assert_eq!((day[5], day[9]), ("24", "2300"), "{body}");

    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "ts,device,quantity,value\n2026-03-02 01:00,line-1,production_count,12\n2026-03-02 02:00,line-1,productoin_count,13\n").unwrap();
    let out = run(&["import", "--config", site_s, bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.csv:3: column `quantity`") && err.contains("productoin_count"),
        "{err}"
    );
    let out = run(&["export", "--config", site_s, "--series", "plant/nope/x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("plant/line-1/production_count"));
}

/// The 1-based line of the first line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

/// Runs `program cmd --config FILE` for each of `commands` and checks the one-line, exit-2
/// answer names the file, the key and its line.
fn assert_config_error(file: &std::path::Path, commands: &[(&str, &str)], key: &str, line: usize) {
    let f = file.to_str().unwrap();
    for (program, cmd) in commands {
        let (code, _, err) = run(program, &[cmd, "--config", f]);
        assert_eq!(code, Some(2), "{program} {cmd} ({key}): {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        let prefix = format!("error: {f}: {key}: ");
        assert!(
            err.starts_with(&prefix) && err.trim_end().ends_with(&format!("(line {line})")),
            "{program} {cmd}: want `{prefix}… (line {line})`, got: {err}"
        );
    }
}

const ALL: [(&str, &str); 3] = [
    ("kilowatch-agent", "check"),
    ("kilowatch-agent", "run"),
    ("kilowatch-gateway", "run"),
];

#[test]
fn an_overlong_duration_is_a_config_error_not_a_panic() {
    let dir = scratch("cli-duration");
    for key in ["interval", "timeout"] {
        let text = GOOD.replace("tcp =", &format!("{key} = \"999999999999999d\"\ntcp ="));
        let file = dir.join(format!("{key}.toml"));
        std::fs::write(&file, &text).unwrap();
        let line = line_of(&text, "999999999999999d");
        assert_config_error(&file, &ALL, &format!("devices[0].{key}"), line);
        let (_, _, err) = run(
            "kilowatch-agent",
            &["check", "--config", file.to_str().unwrap()],
        );
        assert!(err.contains("is too long"), "{err}");
    }
    let text = format!("{GOOD}\n[gateway]\ngap_limit = \"99999999999999999999999h\"\n");
    let file = dir.join("gap.toml");
    std::fs::write(&file, &text).unwrap();
    assert_config_error(
        &file,
        &ALL,
        "gateway.gap_limit",
        line_of(&text, "gap_limit"),
    );
}

#[test]
fn a_bad_broker_address_is_a_config_error() {
    let dir = scratch("cli-broker");
    for (i, broker) in ["nohost", "host:99999", ":1883", ""].iter().enumerate() {
        let text = format!("{GOOD}\n[mqtt]\nbroker = \"{broker}\"\n");
        let file = dir.join(format!("broker{i}.toml"));
        std::fs::write(&file, &text).unwrap();
        assert_config_error(&file, &ALL, "mqtt.broker", line_of(&text, "broker ="));
    }
}

#[test]
fn missing_secrets_are_config_errors_and_check_finds_them() {
    let dir = scratch("cli-secrets");
    let missing = dir.join("no-such-file");
    let missing = missing.to_str().unwrap();
    let agent_side: [(&str, String, &str); 3] = [
        (
            "password_file",
            format!("[mqtt]\nusername = \"u\"\npassword_file = \"{missing}\"\n"),
            "mqtt.password_file",
        ),
        (
            "password_env",
            "[mqtt]\nusername = \"u\"\npassword_env = \"KW_CLI_TEST_UNSET_VARIABLE\"\n".into(),
            "mqtt.password_env",
        ),
        (
            "ca_file",
            format!("[mqtt]\nca_file = \"{missing}\"\n"),
            "mqtt.ca_file",
        ),
    ];
    for (name, extra, key) in &agent_side {
        let text = format!("{GOOD}\n{extra}");
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, &text).unwrap();
        let setting = key.rsplit('.').next().unwrap();
        assert_config_error(&file, &ALL, key, line_of(&text, &format!("{setting} =")));
    }
    // The agent does not need the gateway's token, but `check` and the gateway do.
    let text = format!("{GOOD}\n[gateway]\naccess_token_file = \"{missing}\"\n");
    let file = dir.join("token.toml");
    std::fs::write(&file, &text).unwrap();
    assert_config_error(
        &file,
        &[("kilowatch-agent", "check"), ("kilowatch-gateway", "run")],
        "gateway.access_token_file",
        line_of(&text, "access_token_file"),
    );
    let empty = dir.join("empty-token");
    std::fs::write(&empty, "\n").unwrap();
    let text = format!(
        "{GOOD}\n[gateway]\naccess_token_file = \"{}\"\n",
        empty.display()
    );
    let file = dir.join("empty.toml");
    std::fs::write(&file, &text).unwrap();
    let (code, _, err) = run(
        "kilowatch-agent",
        &["check", "--config", file.to_str().unwrap()],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("is empty"), "{err}");
}

#[test]
fn a_network_address_without_a_token_is_a_config_error() {
    let dir = scratch("cli-open");
    let text = format!("{GOOD}\n[gateway]\nhttp = \"0.0.0.0:8080\"\n");
    let file = dir.join("open.toml");
    std::fs::write(&file, &text).unwrap();
    assert_config_error(&file, &ALL, "gateway.http", line_of(&text, "http ="));
    let (_, _, err) = run(
        "kilowatch-agent",
        &["check", "--config", file.to_str().unwrap()],
    );
    assert!(
        err.contains("gateway.access_token_file") && err.contains("127.0.0.1:8080"),
        "the message says how to fix it: {err}"
    );
    // `run --http` moving a loopback file onto the network is refused the same way.
    let site = dir.join("loopback.toml");
    std::fs::write(&site, GOOD).unwrap();
    let (code, _, err) = run(
        "kilowatch-gateway",
        &[
            "run",
            "--config",
            site.to_str().unwrap(),
            "--http",
            "0.0.0.0:1",
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("gateway.http") && err.contains("0.0.0.0:1"),
        "{err}"
    );
}

#[test]
fn the_demo_refuses_a_network_address_without_a_token() {
    let port = kilowatch_e2e::free_port();
    let http = format!("0.0.0.0:{port}");
    let (code, out, err) = run("kilowatch-gateway", &["demo", "--http", &http]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("--access-token-file") && err.contains(&format!("--http 127.0.0.1:{port}")),
        "says how to set a token or use loopback: {err}"
    );
    assert!(!out.contains("open http"), "nothing was started: {out}");
    let (code, _, err) = run(
        "kilowatch-gateway",
        &[
            "demo",
            "--http",
            &http,
            "--access-token-file",
            "/nonexistent/token",
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot read /nonexistent/token"), "{err}");
}

#[test]
fn a_bad_mv_plan_is_a_config_error_naming_file_and_key() {
    let dir = scratch("cli-mv-plan");
    let plan = r#"
[[mv_plans]]
id = "retrofit"
meters = ["incomer"]
baseline = "2025-01-01..2025-12-31"
reporting_start = "2026-01-01"
guarantee = { percent = 10 }
contract_years = 2
"#;
    let gateway = [
        ("kilowatch-gateway", "run"),
        ("kilowatch-gateway", "mv-plan"),
    ];
    for (name, text, key, needle) in [
        (
            "meter",
            plan.replace("[\"incomer\"]", "[\"ghost\"]"),
            "mv_plans[0].meters[0]",
            "ghost",
        ),
        (
            "years",
            plan.replace("contract_years = 2", "contract_years = 31"),
            "mv_plans[0].contract_years",
            "contract_years = 31",
        ),
        (
            "overlap",
            plan.replace("\"2026-01-01\"", "\"2025-06-01\""),
            "mv_plans[0].reporting_start",
            "2025-06-01",
        ),
        (
            "guarantee",
            plan.replace("{ percent = 10 }", "{ percent = 10, kwh_per_year = 1 }"),
            "mv_plans[0].guarantee",
            "kwh_per_year",
        ),
    ] {
        let text = format!("{GOOD}{text}");
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, &text).unwrap();
        assert_config_error(&file, &gateway, key, line_of(&text, needle));
    }
    // The agent ignores the plans: a good file still checks.
    let file = dir.join("good.toml");
    std::fs::write(&file, format!("{GOOD}{plan}")).unwrap();
    let f = file.to_str().unwrap();
    let (code, _, err) = run("kilowatch-agent", &["check", "--config", f]);
    assert_eq!(code, Some(0), "{err}");
    // A plan the site does not have, and a missing database, are usage errors.
    let db = dir.join("none.db");
    let db = db.to_str().unwrap();
    let (code, _, err) = run(
        "kilowatch-gateway",
        &["mv-plan", "--config", f, "--db", db, "--plan", "nope"],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("no plan `nope`") && err.contains("retrofit"),
        "{err}"
    );
    let (code, _, err) = run("kilowatch-gateway", &["mv-plan", "--config", f, "--db", db]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no database"), "{err}");
}

/// `export` and `enpi` read `--from`/`--to` one way (RFC 3339, plant-local date-time or date)
/// and offer their own steps; a bad value is a usage error naming the flag.
#[test]
fn times_and_steps_are_read_one_way_and_bad_ones_name_the_flag() {
    let dir = scratch("cli-times");
    let site = dir.join("site.toml");
    std::fs::write(&site, GOOD).unwrap();
    let (site, db) = (site.to_str().unwrap(), dir.join("kw.db"));
    let db = db.to_str().unwrap();
    let export = ["export", "--config", site, "--db", db, "--series"];
    let enpi = ["enpi", "--config", site, "--db", db];
    let times = [
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-02 08:00",
        "--step",
        "1h",
    ];
    // The store is empty: the times were read when the series is what is missing.
    let (code, _, err) = run(
        "kilowatch-gateway",
        &[&export[..], &["plant/incomer/active_power"], &times].concat(),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--series: no series"), "{err}");
    let (code, out, err) = run("kilowatch-gateway", &[&enpi[..], &times].concat());
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("defines no [[assets]]"), "{out}");
    let bad = [
        ("--from", "yesterday", "`yesterday` is not a time"),
        ("--to", "0000-06-01", "use a year from 1 to 9999"),
    ];
    for args in [
        &[&export[..], &["plant/incomer/active_power"]].concat(),
        &enpi[..].to_vec(),
    ] {
        for (flag, value, why) in bad {
            let (code, _, err) = run("kilowatch-gateway", &[&args[..], &[flag, value]].concat());
            assert_eq!(code, Some(2), "{flag} {value}: {err}");
            assert!(
                err.contains(&format!("{flag}: ")) && err.contains(why),
                "{err}"
            );
        }
    }
    let (code, _, err) = run(
        "kilowatch-gateway",
        &[
            &export[..],
            &["plant/incomer/active_power", "--step", "1mo"],
        ]
        .concat(),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--step: `1mo`: use 1m, 15m, 1h or 1d"),
        "{err}"
    );
    let (code, _, err) = run(
        "kilowatch-gateway",
        &[&enpi[..], &["--step", "1m"]].concat(),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--step: `1m`: use 15m, 1h, 1d or 1mo"),
        "{err}"
    );
}

#[test]
fn a_bad_alarm_rule_is_a_config_error_naming_file_and_key() {
    let dir = scratch("cli-alarms");
    let plant = "\n[[assets]]\nid = \"plant\"\ntype = \"plant\"\npower = [\"incomer\"]\n";
    for (name, alarm, key, needle) in [
        (
            "unit",
            "id = \"demand\"\nthreshold = \"480\"",
            "alarms[0].threshold",
            "\"480\"",
        ),
        (
            "asset",
            "id = \"demand\"\nasset = \"boiler\"",
            "alarms[0].asset",
            "boiler",
        ),
        (
            "device",
            "id = \"meter-silent\"\nrule = \"device_silent\"\ndevice = \"ghost\"",
            "alarms[0].device",
            "ghost",
        ),
        (
            "quiet",
            "id = \"demand\"\nquiet_hours = [[\"22:00\", \"06:00\"],\n  [\"05:00\", \"07:00\"]]",
            "alarms[0].quiet_hours[1]",
            "05:00",
        ),
    ] {
        let text = format!("{GOOD}{plant}\n[[alarms]]\n{alarm}\n");
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, &text).unwrap();
        assert_config_error(&file, &ALL, key, line_of(&text, needle));
    }
    // Found by the gateway, which knows the contract: a demand rule without one.
    let text = format!("{GOOD}{plant}\n[[alarms]]\nid = \"demand\"\nwarn_at = 0.9\n");
    let file = dir.join("contract.toml");
    std::fs::write(&file, &text).unwrap();
    assert_config_error(
        &file,
        &[("kilowatch-gateway", "run")],
        "alarms[0].threshold",
        line_of(&text, "id = \"demand\""),
    );
}

/// `kilowatch-gateway` with `KILOWATCH_LANG` (or `--lang`) set to `lang`, none when `None`.
fn gateway_in(lang: Option<&str>, args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = Command::new(bin("kilowatch-gateway"));
    cmd.args(args).env_remove("KILOWATCH_LANG");
    if let Some(l) = lang {
        cmd.env("KILOWATCH_LANG", l);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).trim_end().to_owned(),
    )
}

/// A bad site file and a bad CSV file are said in Traditional Chinese when the user asks for
/// it (`KILOWATCH_LANG`, `--lang`) or the site file says so (`[site] language`), naming the
/// file, the key or column and the line; in English by default; exit code 2 either way.
#[test]
fn config_and_csv_errors_speak_the_users_language() {
    let dir = scratch("cli-lang");
    let text = GOOD.replace("tcp =", "unit = 0\ntcp =");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, &text).unwrap();
    let f = bad.to_str().unwrap();
    let line = line_of(&text, "unit = 0");
    let zh = format!(
        "錯誤：設定檔 {f} 第 {line} 行，devices[0].unit：`0` 超出範圍：須介於 1 與 247 之間"
    );
    let en = format!("error: {f}: devices[0].unit: `0` must be between 1 and 247 (line {line})");
    assert_eq!(
        gateway_in(Some("zh-TW"), &["run", "--config", f]),
        (Some(2), zh.clone())
    );
    assert_eq!(
        gateway_in(None, &["run", "--config", f, "--lang", "zh-TW"]),
        (Some(2), zh)
    );
    assert_eq!(
        gateway_in(None, &["run", "--config", f]),
        (Some(2), en.clone())
    );
    assert_eq!(
        gateway_in(Some("en"), &["enpi", "--config", f]),
        (Some(2), en)
    );

    // The site file's own language, when the file reads as TOML that far.
    let text = text.replace("id = \"plant\"", "id = \"plant\"\nlanguage = \"zh-TW\"");
    let own = dir.join("own.toml");
    std::fs::write(&own, &text).unwrap();
    let o = own.to_str().unwrap();
    let line = line_of(&text, "unit = 0");
    let (code, err) = gateway_in(None, &["enpi", "--config", o]);
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        format!(
            "錯誤：設定檔 {o} 第 {line} 行，devices[0].unit：`0` 超出範圍：須介於 1 與 247 之間"
        )
    );
    // A file that is not TOML says nothing of its language: English, the parser quoted in Chinese.
    let broken = dir.join("broken.toml");
    std::fs::write(&broken, format!("{GOOD}\n[[devices]\n")).unwrap();
    let b = broken.to_str().unwrap();
    let (code, err) = gateway_in(None, &["run", "--config", b]);
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with(&format!("error: {b}: TOML syntax: ")),
        "{err}"
    );
    let (code, err) = gateway_in(Some("zh-TW"), &["run", "--config", b]);
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with(&format!("錯誤：設定檔 {b} 第 10 行：TOML 語法錯誤：「")),
        "{err}"
    );

    // CSV import: the file, the line and the column.
    let site = dir.join("site.toml");
    std::fs::write(&site, GOOD).unwrap();
    let csv = dir.join("bad.csv");
    std::fs::write(
        &csv,
        "ts,device,quantity,value\n2026-03-02 01:00,incomer,active_power,abc\n",
    )
    .unwrap();
    let db = dir.join("kw.db");
    let args = [
        "import",
        "--config",
        site.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        csv.to_str().unwrap(),
    ];
    let c = csv.to_str().unwrap();
    assert_eq!(
        gateway_in(Some("zh-TW"), &args),
        (
            Some(2),
            format!("錯誤：CSV 檔 {c} 第 2 行，欄位 `value`：`abc` 不是數字")
        )
    );
    assert_eq!(
        gateway_in(None, &args),
        (
            Some(2),
            format!("error: {c}:2: column `value`: `abc` is not a number")
        )
    );
    // With the site file's language, once the site file has been read.
    std::fs::write(
        &site,
        GOOD.replace("id = \"plant\"", "id = \"plant\"\nlanguage = \"zh-TW\""),
    )
    .unwrap();
    let (code, err) = gateway_in(None, &args);
    assert_eq!(code, Some(2));
    assert!(err.starts_with("錯誤：CSV 檔 "), "{err}");
}
