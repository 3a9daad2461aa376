//! The hub's users and roles end to end: a real mosquitto, a throwaway PostgreSQL cluster, one
//! hub instance serving the portfolio, three sites' records published to the broker as site
//! gateways send them. Accounts are made with `kilowatch-gateway hub user …`. In Chromium a
//! coach assigned two of the three sites signs in (after a wrong password, refused and
//! counted) and sees exactly those two; a plant user's token gets 403 for another site;
//! repeated failures lock an account; state-changing requests need the session's CSRF token.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use kilowatch_e2e::postgres::Postgres;
use kilowatch_e2e::{bin, free_port, publish_all, require, scratch, wait_for, Mosquitto, Proc};
use kilowatch_gateway::enpi::facts::NAMES;
use serde_json::{json, Value};

const SITES: [&str; 3] = ["plant-a", "plant-b", "plant-c"];
const PREFIX: &str = "kilowatch/v1/hub";
const COACH_PW: &str = "coach-pass-123";
const PLANT_PW: &str = "plant-pass-123";

/// `kilowatch-gateway hub user …` with `stdin`; returns stdout.
fn hub_user(dir: &Path, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(bin("kilowatch-gateway"))
        .args(["hub", "--config", "hub.toml", "user"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "hub user {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn facts(pairs: &[(&str, f64)]) -> Value {
    let mut v = vec![Value::Null; NAMES.len()];
    for (n, x) in pairs {
        v[NAMES.iter().position(|m| m == n).unwrap()] = json!(x);
    }
    json!({ "q": 96, "v": v, "w": [] })
}

fn record(site: &str, kind: &str, key: &str, at: i64, body: Value) -> (String, Vec<u8>) {
    let r = json!({ "v": 1, "site": site, "kind": kind, "key": key, "version": 1, "at": at, "body": body });
    (
        format!("{PREFIX}/{site}/{kind}"),
        serde_json::to_vec(&r).unwrap(),
    )
}

/// Each site's records: an hour of rollups, a month of plant and compressor EnPI facts, an
/// alarm, a savings result, completeness.
fn site_records(i: usize, site: &str, now: i64) -> Vec<(String, Vec<u8>)> {
    let hour = (now - 3_600_000) / 900_000 * 900_000;
    let month = now - 10 * 86_400_000;
    let mut out = Vec::new();
    for q in 0..4 {
        let at = hour + q * 900_000;
        out.push(record(site, "rollup", &format!("meter-1/active_power/{at}"), at,
            json!({ "device": "meter-1", "quantity": "active_power", "unit": "kW", "bucket": at, "avg": 100.0, "integral": 25.0 * (i + 1) as f64 })));
    }
    let kwh = 10_000.0 * (i + 1) as f64;
    out.push(record(site, "enpi", &format!("plant/1mo/{month}"), month, json!({ "asset": "plant", "step": "1mo", "bucket": month, "partial": true,
        "facts": facts(&[("kwh", kwh), ("demand_kw", 80.0), ("production", 1000.0), ("energy_cost", 3.0 * kwh), ("scope2_kg", 0.5 * kwh)]) })));
    // Specific power 4.5 (good), 6 (typical), 8 (poor).
    let sp = [4.5, 6.0, 8.0][i];
    out.push(record(site, "enpi", &format!("air/1mo/{month}"), month, json!({ "asset": "air", "step": "1mo", "bucket": month, "partial": true,
        "facts": facts(&[("kwh", sp * 100.0), ("air_m3", 6000.0), ("idle_loaded_h", 1.0), ("idle_run_h", 10.0)]) })));
    // A chilled-water plant at plant-a only: 0.7 kW/TR (well-tuned).
    if i == 0 {
        out.push(record(
            site,
            "enpi",
            &format!("chw/1mo/{month}"),
            month,
            json!({ "asset": "chw", "step": "1mo", "bucket": month, "partial": true,
            "facts": facts(&[("kwh", 600.0), ("aux_kwh", 100.0), ("trh", 1000.0)]) }),
        ));
    }
    out.push(record(
        site,
        "alarm",
        "1/raised",
        now,
        json!({ "id": 1, "alarm": "demand", "state": "raised" }),
    ));
    let u68 = [30.0, 40.0, 50.0][i];
    out.push(record(site, "savings", "retrofit/2026-01-01/2026-11-01", now, json!({ "plan": "retrofit", "from": "2026-01-01", "to": "2026-11-01",
        "result": { "avoided": 1000.0 * (i + 1) as f64, "uncertainty_68": u68, "verified": true } })));
    // plant-a's plan against its guarantee: year 1 met, year 2 (the newest) on track.
    if i == 0 {
        for (year, status, avoided, guaranteed) in
            [(1, "met", 1200.0, 1000.0), (2, "on track", 1000.0, 900.0)]
        {
            out.push(record(site, "guarantee", &format!("retrofit/{year}"), now, json!({ "plan": "retrofit", "name": "Chiller retrofit",
                "year": year, "status": status, "complete": year == 1, "through": "2026-11-01", "avoided_kwh": avoided,
                "guarantee_kwh": guaranteed, "confidence": 0.97, "verified": true })));
        }
    }
    // plant-c also sends malformed figures (strings, objects where numbers go): they read as
    // missing and must not take the portfolio down.
    if i == 2 {
        out.push(record(
            site,
            "savings",
            "bad/x/y",
            now,
            json!({ "plan": "bad", "from": "x", "to": "y",
            "result": { "avoided": "lots", "uncertainty_68": { "a": 1 }, "verified": "yes" } }),
        ));
        out.push(record(
            site,
            "enpi",
            "plant/1mo/soon",
            now,
            json!({ "asset": "plant", "step": "1mo", "bucket": "soon", "facts": {} }),
        ));
        out.push(record(
            site,
            "guarantee",
            "bad/two",
            now,
            json!({ "plan": "bad", "year": "two", "status": "met",
            "avoided_kwh": "many", "guarantee_kwh": [1], "confidence": 7 }),
        ));
    }
    out.push(record(
        site,
        "completeness",
        "meter-1/2026-11-30",
        now,
        json!({ "device": "meter-1", "date": "2026-11-30", "ratio": 0.9 }),
    ));
    out
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// A request with optional headers; (status, Set-Cookie, JSON body).
fn call(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, Option<String>, Value) {
    let a = agent();
    let mut res = match method {
        "GET" => {
            let mut r = a.get(url);
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.call()
        }
        _ => {
            let mut r = a.post(url).header("Content-Type", "application/json");
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.send(body.unwrap_or("{}"))
        }
    }
    .expect("HTTP");
    let status = res.status().as_u16();
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let json = res.body_mut().read_json().unwrap_or_default();
    (status, cookie, json)
}

fn login(base: &str, user: &str, password: &str) -> (u16, Option<String>, Value) {
    let body = json!({ "user": user, "password": password }).to_string();
    call(
        "POST",
        &format!("{base}/api/v1/auth/login"),
        &[],
        Some(&body),
    )
}

fn metric(base: &str, name: &str) -> u64 {
    let text = kilowatch_e2e::get_text(&format!("{base}/metrics")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics:\n{text}"))
}

fn audit_count(pg: &Postgres, event: &str, subject: &str) -> usize {
    pg.query(&format!(
        "SELECT count(*) FROM audit_log WHERE event = '{event}' AND subject = '{subject}'"
    ))
    .parse()
    .unwrap()
}

#[test]
fn a_coach_sees_their_sites_a_plant_user_only_its_own_and_failed_logins_are_counted_and_locked() {
    let node = require("node", "apt-get install nodejs npm");
    let chromium = require("chromium", "apt-get install chromium");
    let browser_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is required: npm ci --prefix tests/browser (tests/run-all.sh does)"
    );
    let dir = scratch("hub-auth");
    let pg = Postgres::start(&dir);
    let mq_dir = dir.join("broker");
    std::fs::create_dir_all(&mq_dir).unwrap();
    let mq = Mosquitto::start(&mq_dir);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    std::fs::write(
        dir.join("hub.toml"),
        format!(
            "[mqtt]\nbroker = \"127.0.0.1:{}\"\n[postgres]\nurl = \"{}\"\npool_size = 4\n\
             [http]\nlisten = \"127.0.0.1:{port}\"\n[auth]\nlockout_failures = 3\n",
            mq.port,
            pg.url()
        ),
    )
    .unwrap();

    // Accounts, before the hub runs (the command applies the migrations itself).
    hub_user(
        &dir,
        &[
            "add",
            "lin",
            "--role",
            "coach",
            "--site",
            "plant-a",
            "--site",
            "plant-b",
            "--password-stdin",
        ],
        &format!("{COACH_PW}\n"),
    );
    hub_user(
        &dir,
        &[
            "add",
            "op-c",
            "--role",
            "plant",
            "--site",
            "plant-c",
            "--password-stdin",
        ],
        &format!("{PLANT_PW}\n"),
    );
    hub_user(
        &dir,
        &["add", "boss", "--role", "admin", "--password-stdin"],
        "admin-pass-123\n",
    );
    hub_user(
        &dir,
        &[
            "add",
            "locky",
            "--role",
            "coach",
            "--site",
            "plant-a",
            "--password-stdin",
        ],
        "locky-pass-123\n",
    );
    hub_user(
        &dir,
        &[
            "add",
            "bursty",
            "--role",
            "coach",
            "--site",
            "plant-a",
            "--password-stdin",
        ],
        "bursty-pass-123\n",
    );
    let token = hub_user(
        &dir,
        &[
            "token",
            "op-c",
            "--token-name",
            "scripts",
            "--scope",
            "portfolio:read",
        ],
        "",
    );
    let token = token.trim().to_owned();
    assert!(token.starts_with("kwt_") && token.len() == 68, "{token}");
    let listed = hub_user(&dir, &["list"], "");
    assert!(
        listed.contains("lin\tcoach\tplant-a,plant-b\tpassword=true"),
        "{listed}"
    );
    // Nothing secret is stored as given.
    let stored = pg.query("SELECT password_hash FROM users WHERE name = 'lin'");
    assert!(
        stored.starts_with("$argon2id$") && !stored.contains(COACH_PW),
        "{stored}"
    );
    assert_eq!(
        pg.query(&format!(
            "SELECT count(*) FROM api_tokens WHERE token_hash = sha256('{token}'::bytea)"
        )),
        "1"
    );
    assert_eq!(audit_count(&pg, "user_added", "lin"), 1);

    let hub = Proc::spawn(
        "hub",
        &bin("kilowatch-gateway"),
        &["hub", "--config", "hub.toml", "--client-id", "hub-auth"],
        &dir,
    );
    let up = wait_for(Duration::from_secs(30), || {
        hub.log().contains("hub subscribed").then_some(())
    });
    assert!(up.is_some(), "hub did not subscribe:\n{}", hub.log());
    let now = chrono::Utc::now().timestamp_millis();
    let messages: Vec<_> = SITES
        .iter()
        .enumerate()
        .flat_map(|(i, s)| site_records(i, s, now))
        .collect();
    publish_all(mq.port, "hub-auth-sites", &messages);
    let stored = wait_for(Duration::from_secs(30), || {
        (pg.query("SELECT count(*) FROM records") == messages.len().to_string()).then_some(())
    });
    assert!(stored.is_some(), "records not stored:\n{}", hub.log());

    // A plant user's token: its own site only.
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];
    let (status, _, body) = call(
        "GET",
        &format!("{base}/api/v1/portfolio/sites/plant-a"),
        &auth,
        None,
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["key"], "hub-err-site");
    let (status, _, body) = call(
        "GET",
        &format!("{base}/api/v1/portfolio/sites"),
        &auth,
        None,
    );
    assert_eq!(status, 200);
    let names: Vec<&str> = body["sites"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["site"].as_str())
        .collect();
    assert_eq!(names, ["plant-c"]);
    let (status, _, own) = call(
        "GET",
        &format!("{base}/api/v1/portfolio/sites/plant-c"),
        &auth,
        None,
    );
    assert_eq!(status, 200, "{own}");
    assert_eq!(own["open_alarms"], 1);
    assert_eq!(own["month"]["sec"], 30.0);
    // The malformed records: read as missing, the good ones still counted.
    assert_eq!(own["savings"]["avoided_kwh"], 3000.0, "{own}");
    let bad = &own["guarantees"][0];
    assert_eq!(
        (
            &bad["plan"],
            &bad["year"],
            &bad["avoided_kwh"],
            &bad["confidence"]
        ),
        (&json!("bad"), &Value::Null, &Value::Null, &Value::Null),
        "{own}"
    );
    let (status, _, bench) = call(
        "GET",
        &format!("{base}/api/v1/portfolio/benchmarks"),
        &auth,
        None,
    );
    assert_eq!(status, 200);
    let rows = &bench["benchmarks"][0]["rows"];
    assert_eq!(rows.as_array().unwrap().len(), 1, "{bench}");
    assert_eq!(
        (rows[0]["site"].as_str(), rows[0]["band"].as_str()),
        (Some("plant-c"), Some("poor"))
    );
    // The token has no audit scope, and a made-up token is nobody.
    assert_eq!(
        call("GET", &format!("{base}/api/v1/auth/audit"), &auth, None).0,
        403
    );
    assert_eq!(
        call(
            "GET",
            &format!("{base}/api/v1/portfolio/sites"),
            &[("Authorization", "Bearer kwt_0000")],
            None
        )
        .0,
        401
    );
    assert_eq!(
        call("GET", &format!("{base}/api/v1/portfolio/sites"), &[], None).0,
        401
    );

    // The coach in Chromium: a wrong password first, then two sites of three.
    let failures_before = metric(&base, "kilowatch_hub_login_failures_total");
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/dashboard-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new(&node)
        .arg(browser_dir.join("hub.mjs"))
        .args([
            &base,
            "lin",
            COACH_PW,
            "plant-a",
            "plant-c",
            shots.join("hub-portfolio.png").to_str().unwrap(),
        ])
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        hub.log()
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["pageErrors"], json!([]), "{r}");
    assert_eq!(
        r["wrongPassword"]["error"], "Wrong user name or password.",
        "{r}"
    );
    assert!(r["wrongPassword"]["url"]
        .as_str()
        .unwrap()
        .ends_with("/login"));
    assert_eq!(
        r["portfolio"]["sites"],
        json!(["plant-a", "plant-b"]),
        "{r}"
    );
    assert_eq!(r["portfolio"]["who"], "lin (coach)");
    // Like assets: the coach's two compressors, best first, with their bands.
    let air = &r["portfolio"]["benchmarks"]["specific_power"];
    assert_eq!(air[0][0], "plant-a");
    assert_eq!(air[0][3], "good");
    assert_eq!(air[1][0], "plant-b");
    assert_eq!(air[1][3], "typical");
    assert_eq!(air.as_array().unwrap().len(), 2, "{r}");
    let chw = &r["portfolio"]["benchmarks"]["plant_kw_per_tr"];
    assert_eq!(chw, &json!([["plant-a", "chw", "0.7", "good"]]), "{r}");
    // Savings 1000 ± 30 and 2000 ± 40: 3000 ± 50 by root-sum-square.
    let total = r["portfolio"]["total"].as_str().unwrap();
    assert!(
        total.contains("3,000") && total.contains("± 50 kWh"),
        "{total}"
    );
    assert!(
        r["drill"].as_str().unwrap().contains("specific_power"),
        "{r}"
    );
    // Savings against the guarantee: plant-a's newest contract year (2) as the site judged it.
    assert_eq!(
        r["portfolio"]["cells"][0][7], "retrofit: on track (1,000 of 900 kWh)",
        "{r}"
    );
    assert_eq!(r["portfolio"]["cells"][1][7], "–", "{r}");
    let drill = r["drill"].as_str().unwrap();
    assert!(
        drill.contains("Savings against the guarantee")
            && drill.contains("year 2, through 2026-11-01")
            && drill.contains("97 %"),
        "{drill}"
    );
    assert_eq!(r["other"]["failure"], "You may not see this site.", "{r}");
    let session = r["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "kw_session")
        .cloned()
        .unwrap();
    assert_eq!(
        (session["httpOnly"].as_bool(), session["sameSite"].as_str()),
        (Some(true), Some("Strict"))
    );
    assert_eq!(r["zh"]["title"], "投資組合");
    assert_eq!(r["zh"]["head"][0], "工廠");
    assert_eq!(r["afterLogout"], 401);
    // The wrong password: refused, in the audit log, and counted.
    assert_eq!(audit_count(&pg, "login_failed", "lin"), 1);
    assert_eq!(audit_count(&pg, "login", "lin"), 1);
    assert_eq!(audit_count(&pg, "logout", "lin"), 1);
    assert_eq!(
        metric(&base, "kilowatch_hub_login_failures_total"),
        failures_before + 1
    );

    // CSRF: a session's POST needs its token and the hub's own origin.
    let (status, cookie, me) = login(&base, "op-c", PLANT_PW);
    assert_eq!(status, 200, "{me}");
    let cookie = cookie.unwrap();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && !cookie.contains("Secure"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let csrf = me["csrf"].as_str().unwrap().to_owned();
    let host = format!("127.0.0.1:{port}");
    let logout = format!("{base}/api/v1/auth/logout");
    assert_eq!(call("POST", &logout, &[("Cookie", &pair)], None).0, 403);
    assert_eq!(
        call(
            "POST",
            &logout,
            &[("Cookie", &pair), ("X-CSRF-Token", "forged")],
            None
        )
        .0,
        403
    );
    assert_eq!(
        call(
            "POST",
            &logout,
            &[
                ("Cookie", &pair),
                ("X-CSRF-Token", &csrf),
                ("Origin", "http://evil.example")
            ],
            None
        )
        .0,
        403
    );
    assert_eq!(
        call(
            "GET",
            &format!("{base}/api/v1/portfolio/sites/plant-a"),
            &[("Cookie", &pair)],
            None
        )
        .0,
        403
    );
    assert_eq!(
        call(
            "POST",
            &logout,
            &[
                ("Cookie", &pair),
                ("X-CSRF-Token", &csrf),
                ("Origin", &format!("http://{host}"))
            ],
            None
        )
        .0,
        204
    );
    assert_eq!(
        call(
            "GET",
            &format!("{base}/api/v1/portfolio/sites"),
            &[("Cookie", &pair)],
            None
        )
        .0,
        401
    );
    assert!(metric(&base, "kilowatch_hub_csrf_refused_total") >= 3);
    // A login form posted from another site is refused before the password is checked.
    let body = json!({ "user": "op-c", "password": PLANT_PW }).to_string();
    assert_eq!(
        call(
            "POST",
            &format!("{base}/api/v1/auth/login"),
            &[("Origin", "http://evil.example")],
            Some(&body)
        )
        .0,
        403
    );

    // Lockout: three failures within the window, then even the right password is refused.
    for _ in 0..3 {
        assert_eq!(login(&base, "locky", "not-the-password").0, 401);
    }
    let (status, _, body) = login(&base, "locky", "locky-pass-123");
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["key"], "hub-err-locked");
    assert_eq!(audit_count(&pg, "login_failed", "locky"), 3);
    assert_eq!(audit_count(&pg, "login_locked", "locky"), 1);
    assert_eq!(metric(&base, "kilowatch_hub_login_locked_total"), 1);
    // Unknown users are counted the same way (nothing tells them apart).
    assert_eq!(login(&base, "nobody", "whatever-it-is").0, 401);

    // A burst of parallel guesses on one account: attempts take turns, so exactly the limit's
    // worth of passwords are checked and every other attempt is refused unchecked.
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let base = base.as_str();
        let guesses: Vec<_> = (0..12)
            .map(|i| s.spawn(move || login(base, "bursty", &format!("guess-{i}-wrong")).0))
            .collect();
        guesses.into_iter().map(|g| g.join().unwrap()).collect()
    });
    let failed = statuses.iter().filter(|&&s| s == 401).count();
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!((failed, refused), (3, 9), "{statuses:?}");
    assert_eq!(audit_count(&pg, "login_failed", "bursty"), 3);
    assert_eq!(audit_count(&pg, "login_locked", "bursty"), 9);

    // The admin reads the audit log through the API.
    let (status, cookie, _) = login(&base, "boss", "admin-pass-123");
    assert_eq!(status, 200);
    let pair = cookie.unwrap().split(';').next().unwrap().to_owned();
    let (status, _, audit) = call(
        "GET",
        &format!("{base}/api/v1/auth/audit?user=locky"),
        &[("Cookie", &pair)],
        None,
    );
    assert_eq!(status, 200);
    let events: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(
        events,
        [
            "login_locked",
            "login_failed",
            "login_failed",
            "login_failed",
            "user_added"
        ]
    );
    let (_, _, all) = call(
        "GET",
        &format!("{base}/api/v1/portfolio/sites"),
        &[("Cookie", &pair)],
        None,
    );
    assert_eq!(all["sites"].as_array().unwrap().len(), 3);
    // A session left idle longer than `session_idle` (1 h by default) is over, though its
    // 12-hour expiry is not: its last request is moved back rather than waited for.
    pg.query("UPDATE sessions SET last_seen_at = now() - interval '61 minutes'");
    let sites = format!("{base}/api/v1/portfolio/sites");
    assert_eq!(call("GET", &sites, &[("Cookie", &pair)], None).0, 401);
    let (status, cookie, _) = login(&base, "boss", "admin-pass-123");
    assert_eq!(status, 200);
    let pair = cookie.unwrap().split(';').next().unwrap().to_owned();
    pg.query("UPDATE sessions SET last_seen_at = now() - interval '59 minutes'");
    assert_eq!(call("GET", &sites, &[("Cookie", &pair)], None).0, 200);
    drop(hub);
}
