//! The Grafana dashboards in dashboards/grafana/: every panel's InfluxQL query, with Grafana's
//! macros and the dashboard's own variable values substituted, runs against a real influxd
//! holding data from the demo plant (simulators → agent → mosquitto → gateway → influxd) and
//! returns rows.

use std::path::PathBuf;
use std::time::Duration;

use kilowatch_e2e::{
    free_port, get_json, scratch, start_gateway_then_agent, start_sim, wait_for, Influxd, Mosquitto,
};

fn dashboards() -> Vec<(String, serde_json::Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dashboards/grafana");
    let mut out: Vec<(String, serde_json::Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The query as Grafana would send it for the last hour at a 10 s interval.
fn expand(query: &str, board: &serde_json::Value) -> String {
    let mut q = query
        .replace("$timeFilter", "time > now() - 1h")
        .replace("$__interval", "10s");
    for v in board["templating"]["list"].as_array().unwrap() {
        let value = match &v["current"]["value"] {
            serde_json::Value::Array(a) => a
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect::<Vec<_>>()
                .join("|"),
            s => s.as_str().unwrap().to_owned(),
        };
        q = q.replace(&format!("${}", v["name"].as_str().unwrap()), &value);
    }
    q
}

#[test]
fn every_grafana_panel_query_returns_rows_from_the_demo_plant() {
    let boards = dashboards();
    assert_eq!(
        boards.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(),
        [
            "chillers.json",
            "compressor-room.json",
            "plant-overview.json",
            "savings.json",
            "utilities.json"
        ]
    );
    let dir = scratch("grafana");
    let mq = Mosquitto::start(&dir);
    let influx = Influxd::start(&dir);
    influx.query("", "CREATE DATABASE kw");
    let http = free_port();
    // The demo site as it ships, pointed at this test's broker, database and influxd.
    let site = kilowatch_gateway::DEMO_SITE
        .replace(
            "broker = \"127.0.0.1:1883\"",
            &format!("broker = \"127.0.0.1:{}\"", mq.port),
        )
        .replace(
            "http = \"127.0.0.1:8080\"\ndatabase = \"kilowatch.db\"",
            &format!(
                "http = \"127.0.0.1:{http}\"\ndatabase = \"{}\"\n[gateway.influx]\nurl = \"http://127.0.0.1:{}\"\ndatabase = \"kw\"\nbatch_lines = 200\n\n[agent]\nmetrics = \"off\"",
                dir.join("kw.db").display(),
                influx.port
            ),
        );
    assert!(
        site.contains("[gateway.influx]"),
        "the demo site's layout changed"
    );
    // Its simulated devices on reserved ports, not the fixed ones it ships with (another test
    // run on this machine may be using those).
    let mut devices = Vec::new();
    let site = site
        .split_inclusive('\n')
        .map(|line| match line.strip_prefix("tcp = \"127.0.0.1:") {
            Some(_) => {
                devices.push(free_port());
                format!("tcp = \"127.0.0.1:{}\"\n", devices[devices.len() - 1])
            }
            None => line.to_owned(),
        })
        .collect::<String>();
    assert!(devices.len() >= 5, "the demo site's devices moved");
    let config = dir.join("site.toml");
    std::fs::write(&config, site).unwrap();
    let config = config.to_str().unwrap();
    let _sim = start_sim(&dir, config, &devices);
    let (gateway, agent) = start_gateway_then_agent(&dir, config, http);
    // Every measurement the dashboards read, with at least two points (spread needs them).
    let measurements = [
        "active_power",
        "active_energy_import",
        "power_factor",
        "production_count",
        "air_flow",
        "pressure",
        "chw_supply_temp",
        "chw_return_temp",
        "water_flow",
        "outdoor_temp",
        "output_frequency",
        "cw_supply_temp",
        "cw_return_temp",
        "wet_bulb_temp",
        "steam_flow",
        "flue_gas_o2",
        "flue_gas_temp",
        "combustion_air_temp",
        "gas_flow",
    ];
    let ready = wait_for(Duration::from_secs(90), || {
        measurements
            .iter()
            .all(|m| {
                let j = influx.query("kw", &format!("SELECT count(\"value\") FROM \"{m}\""));
                j["results"][0]["series"][0]["values"][0][1]
                    .as_u64()
                    .is_some_and(|n| n >= 2)
            })
            .then_some(())
    });
    if ready.is_none() {
        let counts: Vec<String> = measurements
            .iter()
            .map(|m| {
                let j = influx.query("kw", &format!("SELECT count(\"value\") FROM \"{m}\""));
                format!("{m}: {}", j["results"][0]["series"][0]["values"][0][1])
            })
            .collect();
        let latest = get_json(&format!("http://127.0.0.1:{http}/api/v1/health"));
        panic!(
            "demo data did not reach influxd\ncounts in influxd: {}\ngateway health: {latest:?}\ngateway:\n{}\nagent:\n{}",
            counts.join(", "),
            gateway.log(),
            agent.log()
        );
    }
    let mut checked = 0;
    for (file, board) in &boards {
        for panel in board["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                let q = expand(target["query"].as_str().unwrap(), board);
                // `$/` ends a regex; `$name` would be a variable left unexpanded.
                let unexpanded = q
                    .match_indices('$')
                    .any(|(i, _)| q[i + 1..].starts_with(|c: char| c.is_alphabetic() || c == '_'));
                assert!(!unexpanded, "{file}: unexpanded variable in `{q}`");
                let j = influx.query("kw", &q);
                let series = j["results"][0]["series"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let rows: usize = series
                    .iter()
                    .map(|s| s["values"].as_array().map_or(0, Vec::len))
                    .sum();
                assert!(
                    rows > 0,
                    "{file}: panel `{}` query `{q}` returned no rows: {j}",
                    panel["title"]
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} queries");
}
