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
