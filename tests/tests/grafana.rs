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

/// The dashboard of what the gateway derives (EnPIs, alarms, savings); the demo's history
/// feeds it, in its own test below.
const DERIVED: &str = "enpi.json";

/// The query as Grafana would send it over the dashboard's default range (`time.from`, e.g.
/// `now-24h`) at a 10 s interval.
fn expand(query: &str, board: &serde_json::Value) -> String {
    let range = board["time"]["from"]
        .as_str()
        .and_then(|f| f.strip_prefix("now-"))
        .unwrap_or("1h");
    let mut q = query
        .replace("$timeFilter", &format!("time > now() - {range}"))
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
            "enpi.json",
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
    for (file, board) in boards.iter().filter(|(f, _)| f != DERIVED) {
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

/// Rows of a query result that carry at least one value (`fill(null)` makes empty ones).
fn valued_rows(j: &serde_json::Value) -> usize {
    j["results"][0]["series"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
        .filter(|row| {
            row.as_array()
                .is_some_and(|r| r.iter().skip(1).any(|v| !v.is_null()))
        })
        .count()
}

/// `demo --history 3d --scenario meter-silent --influx`: the EnPIs the gateway computes from the
/// history, and the alarm the scenario raises, reach a real influxd as measurements `enpi` and
/// `alarm`; every panel of dashboards/grafana/enpi.json reads values from them; and a stored
/// daily EnPI equals the API's figure for the same day.
#[test]
fn the_enpi_dashboard_reads_the_gateways_indicators_and_alarms_from_influxdb() {
    let boards = dashboards();
    let (_, board) = boards.iter().find(|(f, _)| f == DERIVED).unwrap();
    let dir = scratch("grafana-enpi");
    let influx = Influxd::start(&dir);
    influx.query("", "CREATE DATABASE kw");
    let url = format!("http://127.0.0.1:{}", influx.port);
    let data = dir.join("data");
    let mut demo = kilowatch_e2e::Proc::spawn(
        "demo",
        &kilowatch_e2e::bin("kilowatch-gateway"),
        &[
            "demo",
            "--http",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
            "--history",
            "3d",
            "--scenario",
            "meter-silent",
            "--influx",
            &url,
            "--influx-database",
            "kw",
        ],
        &dir,
    );
    let addr =
        kilowatch_e2e::wait_printed_addr(&mut demo, "open http://", Duration::from_secs(300));
    // Every panel's query, as Grafana would send it; the savings table's runs but need not find
    // values (the demo's savings plan has no closed billing month in three days of history).
    let queries: Vec<(String, String)> = board["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["targets"].as_array().unwrap().iter().map(move |t| {
                (
                    p["title"].as_str().unwrap().to_owned(),
                    expand(t["query"].as_str().unwrap(), board),
                )
            })
        })
        .collect();
    assert!(queries.len() >= 8, "{} queries", queries.len());
    for (_, q) in &queries {
        assert!(!q.contains('$'), "unexpanded variable in `{q}`");
    }
    // Wait until the gateway has computed and sent the indicators of every asset, and the
    // silent meter's alarm.
    let empty = || {
        queries
            .iter()
            .filter(|(_, q)| !q.contains("FROM \"savings\""))
            .filter(|(_, q)| valued_rows(&influx.query("kw", q)) == 0)
            .map(|(title, _)| title.clone())
            .collect::<Vec<_>>()
    };
    let filled = wait_for(Duration::from_secs(240), || {
        empty().is_empty().then_some(())
    });
    assert!(
        filled.is_some(),
        "panels without values: {:?}\ndemo:\n{}",
        empty(),
        demo.log()
    );
    for (title, q) in &queries {
        let j = influx.query("kw", q);
        assert!(
            j["results"][0]["error"].is_null(),
            "panel `{title}` query `{q}` failed: {j}"
        );
    }
    let alarm = influx.query(
        "kw",
        "SELECT last(\"active\"), last(\"message\") FROM \"alarm\" WHERE \"alarm\" = 'device_silent.compressor-2'",
    );
    assert_eq!(
        alarm["results"][0]["series"][0]["values"][0][1], 1,
        "the silent meter's alarm is active: {alarm}"
    );
    // Yesterday's chiller kW/TR (a completed plant-local day): InfluxDB holds the API's figure.
    let tz = kilowatch_e2e::demo_plant_tz();
    let yesterday = kilowatch_e2e::plant_today(tz) - chrono::Duration::days(1);
    let api = get_json(&format!(
        "http://{addr}/api/v1/enpi?asset=chiller&step=1d&from={yesterday}&to={}",
        yesterday + chrono::Duration::days(1)
    ))
    .unwrap();
    let row = api["rows"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["partial"] == false))
        .unwrap_or_else(|| panic!("no complete day: {api}"));
    let ts = chrono::DateTime::parse_from_rfc3339(row["ts"].as_str().unwrap()).unwrap();
    let j = influx.query(
        "kw",
        &format!(
            "SELECT \"kw_per_tr\" FROM \"enpi\" WHERE \"asset\" = 'chiller' AND \"step\" = '1d' AND time = {}ms",
            ts.timestamp_millis()
        ),
    );
    let stored = j["results"][0]["series"][0]["values"][0][1]
        .as_f64()
        .unwrap_or_else(|| panic!("no enpi point at {ts}: {j}"));
    let expected = row["values"]["kw_per_tr"].as_f64().unwrap();
    assert!(
        (stored - expected).abs() <= 1e-9 * expected.abs(),
        "influxd {stored}, API {expected}"
    );
    assert!(demo
        .interrupt(Duration::from_secs(10))
        .is_some_and(|s| s.success()));
}
