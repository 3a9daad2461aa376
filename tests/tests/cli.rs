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
    // Twice: the upsert keeps one copy.
    assert!(run(&["import", "--config", site_s, csv.to_str().unwrap()])
        .status
        .success());

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
