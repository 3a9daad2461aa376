//! The built-in dashboard in headless Chromium (Debian's, driven by playwright-core from
//! tests/browser/dashboard.mjs): every page on a laptop and a tablet viewport in English and
//! on a laptop in Traditional Chinese, on the demo's stored history. Screenshots are kept in
//! target/dashboard-screenshots/.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use kilowatch_e2e::{
    demo_plant_tz, get_json, plant_midnight, plant_today, require, scratch, spawn_demo, url_time,
    wait_for,
};

#[test]
fn every_page_renders_charts_from_the_demo_plant_without_console_errors() {
    let node = require("node", "apt-get install nodejs npm");
    let chromium = require("chromium", "apt-get install chromium");
    let browser_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is required: npm ci --prefix tests/browser (tests/run-all.sh does)"
    );
    let dir = scratch("dashboard");
    let (demo, addr) = spawn_demo(&dir, "21d");
    // Up, and done computing the indicators of the whole history: until then a page may find
    // today's not yet computed (the answer says `computing`, and the page says so).
    let up = wait_for(Duration::from_secs(240), || {
        let r = get_json(&format!("http://{addr}/api/v1/enpi?asset=plant&step=1d")).ok()?;
        (r["computing"] == false).then_some(())
    });
    assert!(
        up.is_some(),
        "demo did not finish computing its indicators:\n{}",
        demo.log()
    );
    // A custom range in plant dates (the demo plant is in Asia/Taipei).
    let tz = demo_plant_tz();
    let today = plant_today(tz);
    // A saved baseline for the baselines page to track.
    let body = format!(
        r#"{{"name":"plant-dash","asset":"plant","from":"{}","to":"{}","target":"percent:1.5"}}"#,
        today - chrono::Duration::days(20),
        today - chrono::Duration::days(11)
    );
    let saved = kilowatch_e2e::http()
        .post(&format!("http://{addr}/api/v1/baselines"))
        .header("Content-Type", "application/json")
        .send(&body);
    assert!(saved.is_ok(), "saving a baseline: {saved:?}");
    // A demand-response event on a past weekday, for the contract page's section.
    let dr_day = (2..9)
        .map(|k| today - chrono::Duration::days(k))
        .find(|d| {
            use chrono::Datelike;
            d.weekday().num_days_from_monday() < 5
        })
        .unwrap();
    let dr = kilowatch_e2e::http()
        .post(&format!("http://{addr}/api/v1/demand-response/events"))
        .header("Content-Type", "application/json")
        .send(&format!(
            r#"{{"id":"dash-dr","date":"{dr_day}","start":"10:00","end":"11:00","committed_kw":5}}"#
        ));
    assert!(dr.is_ok(), "adding a demand-response event: {dr:?}");
    let (from, to) = (
        today - chrono::Duration::days(6),
        today - chrono::Duration::days(2),
    );
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/dashboard-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let browsed = chrono::Utc::now().with_timezone(&tz);
    let out = Command::new(&node)
        .arg(browser_dir.join("dashboard.mjs"))
        .args([
            format!("http://{addr}"),
            shots.display().to_string(),
            from.to_string(),
            to.to_string(),
            // The day before the history's first (the page's range ends at its midnight): no
            // demand before it, so no whole month.
            (today - chrono::Duration::days(22)).to_string(),
        ])
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        demo.log()
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["errors"], serde_json::json!([]), "console errors");
    let page = |name: &str| &r["pages"][name];
    let points = |v: &serde_json::Value| -> Vec<u64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_u64().unwrap())
            .collect()
    };
    let pages = [
        "plant",
        "air",
        "chillers",
        "pumps",
        "boiler",
        "savings",
        "health",
        "alarms",
        "baselines",
        "review",
        "contract",
        "reports",
    ];
    // No key missing from the catalogue, in either language, on any page (t() records each).
    for view in ["laptop", "tablet", "laptop-zh-TW"] {
        for p in pages {
            let info = page(&format!("{p}-{view}"));
            assert_eq!(info["untranslated"], serde_json::json!([]), "{p}-{view}");
            let lang = if view.ends_with("zh-TW") {
                "zh-TW"
            } else {
                "en"
            };
            assert_eq!(info["lang"], lang, "{p}-{view}");
        }
    }
    for view in ["laptop", "tablet", "laptop-zh-TW"] {
        for (p, charts) in [
            ("plant", 3),
            ("air", 4),
            ("chillers", 3),
            ("pumps", 5),
            ("boiler", 3),
            ("savings", 2),
            ("baselines", 2),
            ("review", 1),
        ] {
            let info = page(&format!("{p}-{view}"));
            let c = points(&info["charts"]);
            assert_eq!(c.len(), charts, "{p}-{view}: {info}");
            assert!(
                c.iter().any(|n| *n > 0),
                "{p}-{view}: charts without data: {info}"
            );
            assert_eq!(
                info["legends"], true,
                "{p}-{view}: a chart without a legend"
            );
            assert_eq!(
                info["axisLabels"], true,
                "{p}-{view}: a chart without a unit label"
            );
        }
        let baselines = page(&format!("baselines-{view}"))["text"].as_str().unwrap();
        let (list, tracking) = if view.ends_with("zh-TW") {
            ("能源基線（1）", "能源基線 plant-dash")
        } else {
            ("Energy baselines (1)", "Energy baseline plant-dash")
        };
        assert!(
            baselines.contains(list) && baselines.contains(tracking) && baselines.contains("SEnPI"),
            "{view}: {baselines}"
        );
        // The alarms page renders (the demo's alarms, if any, are the alarms test's concern).
        let alarms = page(&format!("alarms-{view}"))["text"].as_str().unwrap();
        let (title, history) = if view.ends_with("zh-TW") {
            ("警報", "歷史紀錄")
        } else {
            ("Alarms", "History")
        };
        assert!(
            alarms.contains(title) && alarms.contains(history),
            "{alarms}"
        );
        // The energy review: a row and a bar per use of the API's (in the same order: the
        // ranking), the significant rows highlighted, the rule and the notes section.
        let review = page(&format!("review-{view}"));
        let want = get_json(&format!(
            "http://{addr}/api/v1/review?from={}&to={}",
            url_time(&(browsed - chrono::Duration::hours(24))),
            url_time(&browsed)
        ))
        .unwrap();
        let ids = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|u| u.as_str().unwrap_or_default().to_owned())
                .collect()
        };
        let mut api_uses: Vec<String> = want["uses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect();
        let mut shown = ids(&review["uses"]);
        assert_eq!(ids(&review["bars"]), shown, "{review}");
        // The page's 24 hours end a moment before these: two close uses may swap.
        api_uses.sort();
        shown.sort();
        assert_eq!(shown, api_uses, "{review}");
        let seu = ids(&review["seu"]);
        assert!(seu.contains(&"compressor-1".to_owned()), "{review}");
        assert!(!seu.iter().any(|u| u.contains("unmetered")), "{review}");
        let text = review["text"].as_str().unwrap();
        let wanted: &[&str] = if view.ends_with("zh-TW") {
            &["柏拉圖", "重大能源使用", "前 80 %", "備註"]
        } else {
            &["Pareto", "SEU", "within the first 80 %", "Notes"]
        };
        for want in wanted {
            assert!(text.contains(want), "review page lacks `{want}`: {text}");
        }
        let health = page(&format!("health-{view}"));
        assert!(
            health["text"].as_str().unwrap().contains("incomer"),
            "{health}"
        );
    }
    // 24 hours of 15-minute demand, then 7 days of hourly: the picker changed what is shown.
    for p in ["plant", "air"] {
        let info = page(&format!("{p}-laptop"));
        let (day, week) = (points(&info["charts"]), points(&info["charts7d"]));
        assert!(week[0] > day[0], "{p}: 24h {day:?} vs 7d {week:?}");
        assert!(info["hash7d"].as_str().unwrap().contains("range=7d"));
    }
    let tiles = &page("plant-laptop")["tiles"];
    assert_ne!(tiles["live power"], "—", "plant tile live power: {tiles}");
    // In the first minutes of the plant's day there is nothing of today to sum yet (no
    // 15-minute interval has ended): there the "today" tiles may say "—", but nothing else.
    let into_day = browsed - plant_midnight(tz, browsed.date_naive());
    let day_begun = into_day >= chrono::Duration::minutes(20);
    for t in [
        "energy today",
        "15-min demand today",
        "power factor",
        "CO2e today",
    ] {
        let shown = tiles[t].as_str().unwrap_or_default();
        let number = shown.replace(',', "").parse::<f64>().is_ok();
        assert!(
            number || (!day_begun && shown == "—"),
            "plant tile {t} at {} plant time: {tiles}",
            browsed.format("%H:%M")
        );
    }
    // The utilities' pages show their indicators as numbers, and no complaint about what a
    // site may leave out (a boiler's burner-fan meter).
    for (p, t) in [
        ("pumps", "plant kW/TR"),
        ("pumps", "wire-to-water"),
        ("pumps", "SFP"),
        ("pumps", "approach"),
        ("boiler", "efficiency (direct)"),
        ("boiler", "efficiency (indirect)"),
        ("boiler", "fuel per t"),
    ] {
        let tiles = &page(&format!("{p}-laptop"))["tiles"];
        let shown = tiles[t].as_str().unwrap_or_default().replace(',', "");
        assert!(shown.parse::<f64>().is_ok(), "{p} tile {t}: {tiles}");
    }
    let boiler = page("boiler-laptop")["text"].as_str().unwrap();
    assert!(boiler.contains("nothing to report"), "{boiler}");
    let savings = page("savings-laptop")["text"].as_str().unwrap();
    assert!(savings.contains("kWh"), "{savings}");
    // The demo site's chiller-retrofit plan, with its status (the API's, so it cannot drift).
    let plans = get_json(&format!("http://{addr}/api/v1/mv/plans")).unwrap();
    let status = plans["plans"][0]["status"].as_str().unwrap();
    for want in [
        "M&V plans",
        "Chiller retrofit guarantee",
        "asset chiller",
        "10 %",
        status,
    ] {
        assert!(
            savings.contains(want),
            "savings page lacks `{want}`: {savings}"
        );
    }
    for p in [
        "plant", "air", "chillers", "pumps", "boiler", "savings", "health", "review",
    ] {
        assert!(shots.join(format!("{p}-laptop.png")).is_file());
        assert!(shots.join(format!("{p}-laptop-zh-TW.png")).is_file());
    }
    // In Traditional Chinese: the seeds' terms, and the same figures as numbers.
    for (p, want) in [
        ("plant", "契約容量"),
        ("plant", "功率因數"),
        ("air", "比功率"),
        ("chillers", "冷凍負載"),
        ("pumps", "泵浦"),
        ("boiler", "鍋爐效率"),
        ("savings", "節能績效保證"),
        ("health", "閘道器"),
    ] {
        let info = page(&format!("{p}-laptop-zh-TW"));
        let text = info["text"].as_str().unwrap();
        assert!(text.contains(want), "{p} in zh-TW lacks `{want}`: {text}");
    }
    // The contract page with 21 days of history: the optimum when a whole month ended inside
    // it, else "no whole months yet" (said, not failed); the demand sections; the
    // demand-response event with its chart and table.
    let (status, o) = kilowatch_e2e::http()
        .get(&format!(
            "http://{addr}/api/v1/contract/optimise?allow_empty=true"
        ))
        .call()
        .map(|mut r| {
            (
                r.status().as_u16(),
                r.body_mut().read_json::<serde_json::Value>(),
            )
        })
        .expect("contract optimise");
    let o = o.expect("JSON");
    assert_eq!(status, 200, "{o}");
    let no_months = o["no_months"] == true;
    for (view, optimum, empty, wants) in [
        (
            "laptop",
            "months analysed",
            "No whole months of demand yet",
            ["Demand response", "dash-dr", "baseline (kW)"],
        ),
        (
            "laptop-zh-TW",
            "分析月數",
            "尚無完整月份",
            ["需量反應", "dash-dr", "基準負載（kW）"],
        ),
    ] {
        let info = page(&format!("contract-{view}"));
        let text = info["text"].as_str().unwrap();
        let head = if no_months { empty } else { optimum };
        for want in std::iter::once(head).chain(wants) {
            assert!(
                text.contains(want),
                "contract-{view} lacks `{want}`: {text}"
            );
        }
        assert!(
            !points(&info["charts"]).is_empty(),
            "contract-{view}: no charts: {info}"
        );
    }
    for (lang, want) in [
        ("en", "No whole months of demand yet"),
        ("zh-TW", "尚無完整月份"),
    ] {
        let seen = &r["contractEmpty"][lang];
        assert_eq!(seen["noMonths"], 1, "{seen}");
        assert_eq!(seen["untranslated"], serde_json::json!([]), "{seen}");
        let text = seen["text"].as_str().unwrap();
        assert!(text.contains(want), "{text}");
        assert!(text.contains("dash-dr"), "{text}");
    }
    let zh = page("plant-laptop-zh-TW");
    assert_eq!(zh["nav"][0], "全廠總覽", "{zh}");
    let shown = zh["tiles"]["今日用電量"].as_str().unwrap_or_default();
    assert!(
        shown.replace(',', "").parse::<f64>().is_ok() || (!day_begun && shown == "—"),
        "{zh}"
    );
    // The reports page in both languages: a report made from its form is listed (kind,
    // period, language, format), and its link answers with the file: an HTML page, a PDF.
    for (lang, format, content_type, head) in [
        ("en", "html", "text/html", "<!doctype html"),
        ("zh-TW", "pdf", "application/pdf", "%PDF-"),
    ] {
        let seen = &r["reports"][lang];
        let messages = &get_json(&format!("http://{addr}/api/v1/i18n/{lang}")).unwrap()["messages"];
        assert_eq!(
            seen["status"], messages["reports-made-ok"],
            "{lang}: {seen}"
        );
        assert_eq!(
            seen["untranslated"],
            serde_json::json!([]),
            "{lang}: {seen}"
        );
        assert_eq!(seen["lang"], lang, "{seen}");
        let text = seen["text"].as_str().unwrap();
        for key in ["reports-stored", "reports-make", "reports-kind-monthly"] {
            let want = messages[key].as_str().unwrap();
            assert!(
                text.contains(want),
                "{lang}: reports page lacks `{want}`: {text}"
            );
        }
        let made = &seen["made"];
        assert!(
            made.is_object(),
            "{lang}: the made report is not listed: {seen}"
        );
        assert_eq!(made["cells"][1], seen["period"], "{seen}");
        assert_eq!(made["cells"][3], format.to_uppercase(), "{lang}: {seen}");
        let file = &seen["file"];
        assert_eq!(file["status"], 200, "{lang}: {file}");
        let ct = file["type"].as_str().unwrap_or_default();
        assert!(ct.starts_with(content_type), "{lang}: {ct}");
        assert!(file["bytes"].as_u64().unwrap() > 1000, "{lang}: {file}");
        let got = file["head"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(
            got.starts_with(&head.to_ascii_lowercase()),
            "{lang}: {file}"
        );
    }
    // The header's switch: chosen once, the next visit without ?lang= keeps it.
    let switched = &r["switched"];
    assert_eq!(switched["before"], "en", "{switched}");
    assert_eq!(switched["after"], "zh-TW", "{switched}");
    assert_eq!(switched["stored"], "zh-TW", "{switched}");
    assert_eq!(switched["nav"], "設備狀態", "{switched}");
    assert_eq!(
        switched["untranslated"],
        serde_json::json!([]),
        "{switched}"
    );

    // In a browser in Chicago the plant's days are still Taipei days.
    let abroad = &r["abroad"];
    assert_eq!(abroad["browserZone"], "America/Chicago", "{abroad}");
    assert!(
        abroad["status"].as_str().unwrap().contains("Asia/Taipei"),
        "{abroad}"
    );
    assert_eq!(abroad["from"], from.to_string(), "{abroad}");
    assert_eq!(abroad["to"], to.to_string(), "{abroad}");
    // The range starts at the plant's midnight of `from` (for Taipei 16:00 UTC the day before)
    // and ends at the plant's midnight after `to`.
    let utc_midnight = |d: chrono::NaiveDate| {
        plant_midnight(tz, d)
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let ranged: Vec<_> = abroad["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["step"] != "1d")
        .collect();
    assert!(!ranged.is_empty(), "{abroad}");
    for q in ranged {
        assert_eq!(q["from"], utc_midnight(from), "{q}");
        assert_eq!(q["to"], utc_midnight(to + chrono::Duration::days(1)), "{q}");
    }
    // Five days on the hourly chart: day ticks, each on a Taipei midnight, labelled with its date.
    let ticks = abroad["ticks"].as_array().unwrap();
    assert!(ticks.len() >= 4, "{abroad}");
    for t in ticks {
        let local = chrono::DateTime::from_timestamp_millis(t["t"].as_i64().unwrap())
            .unwrap()
            .with_timezone(&tz);
        assert_eq!(
            local,
            plant_midnight(tz, local.date_naive()),
            "tick {t} not at a Taipei midnight"
        );
        assert_eq!(t["label"], local.format("%m/%d").to_string(), "{t}");
    }
}
