//! Reports of the demo plant: the monthly energy-management report and the annual GHG summary
//! printed to PDF by Chromium in English and Traditional Chinese, read back with poppler
//! (pdftotext, pdfinfo, pdffonts): page count, key figures equal to the API's, and every
//! character drawn by an embedded font that has its glyph (fontconfig says which do).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::Datelike;
use kilowatch_e2e::{
    bin, demo_plant_tz, demo_site, get_json, history_back_to, plant_midnight, plant_today, require,
    scratch, spawn_demo, url_time, wait_for,
};
use kilowatch_gateway::i18n::{self, Language};

fn tool(name: &str, dir: &Path, args: &[&str]) -> String {
    let path = require(name, "apt-get install poppler-utils fontconfig");
    let out = Command::new(path)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fetch(url: &str) -> (u16, String, Vec<u8>) {
    // Printing a PDF under a loaded machine takes a while: more than the usual 15 s.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(120)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut res = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = res
        .body_mut()
        .with_config()
        .limit(50 << 20)
        .read_to_vec()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    (res.status().as_u16(), ct, body)
}

/// `text` without whitespace: a table cell may wrap a phrase over lines of the PDF's text.
fn squash(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A CJK font for Chromium to draw Chinese with: the test command installs one
/// (fonts-noto-cjk); without it the Chinese PDF would show empty boxes.
fn require_cjk_font(dir: &Path) {
    let fonts = tool("fc-list", dir, &[":lang=zh-tw", "family"]);
    assert!(
        !fonts.trim().is_empty(),
        "no font covers Traditional Chinese (`fc-list :lang=zh-tw` is empty): install fonts-noto-cjk, or run tests/run-all.sh"
    );
}

/// The checks every printed report passes; returns its text.
fn check_pdf(dir: &Path, name: &str, pdf: &[u8], pages: std::ops::RangeInclusive<u32>) -> String {
    assert!(pdf.starts_with(b"%PDF"), "{name} is not a PDF");
    std::fs::write(dir.join(name), pdf).unwrap();
    let info = tool("pdfinfo", dir, &[name]);
    let n: u32 = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("pdfinfo {name}: {info}"));
    assert!(pages.contains(&n), "{name}: {n} pages, expected {pages:?}");
    let text = tool("pdftotext", dir, &["-layout", name, "-"]);
    assert!(
        !text.contains('\u{FFFD}'),
        "{name}: replacement characters in\n{text}"
    );
    // Every non-ASCII character must be covered by an embedded font: the fonts fontconfig
    // says have all of them, against the fonts the PDF embeds.
    let embedded: Vec<String> = tool("pdffonts", dir, &[name])
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .map(|f| f.rsplit('+').next().unwrap_or(f).to_lowercase())
        .collect();
    assert!(!embedded.is_empty(), "{name} embeds no font");
    let wide: BTreeSet<char> = text
        .chars()
        .filter(|c| !c.is_ascii() && !c.is_whitespace())
        .collect();
    if !wide.is_empty() {
        let charset: Vec<String> = wide.iter().map(|c| format!("{:x}", *c as u32)).collect();
        let covering = tool(
            "fc-list",
            dir,
            &[&format!(":charset={}", charset.join(" ")), "family"],
        );
        let families: Vec<String> = covering
            .lines()
            .flat_map(|l| l.split(','))
            .map(|f| f.replace([' ', '-'], "").to_lowercase())
            .filter(|f| !f.is_empty())
            .collect();
        assert!(
            embedded.iter().any(|e| families.iter().any(|f| e.starts_with(f.as_str()))),
            "{name}: no embedded font ({embedded:?}) has every glyph of {wide:?}; fonts with them: {families:?}"
        );
    }
    text
}

#[test]
fn monthly_and_ghg_reports_print_in_both_languages_with_the_apis_figures() {
    let dir = scratch("reports");
    require("chromium", "apt-get install chromium");
    require_cjk_font(&dir);
    let tz = demo_plant_tz();
    // Last month, whole: the history reaches back to its first day.
    let today = plant_today(tz);
    let this_month = today.with_day(1).unwrap();
    let month = this_month - chrono::Months::new(1);
    let (mut demo, addr) = spawn_demo(&dir, &history_back_to(tz, month));
    let period = format!("{}-{:02}", month.year(), month.month());
    let (from, to) = (
        url_time(&plant_midnight(tz, month)),
        url_time(&plant_midnight(tz, this_month)),
    );
    let enpi_url = format!("http://{addr}/api/v1/enpi?asset=plant&step=1mo&from={from}&to={to}");
    let enpi = wait_for(Duration::from_secs(600), || {
        let r = get_json(&enpi_url).ok()?;
        let row = &r["rows"][0];
        (r["computing"] == false
            && row["partial"] == false
            && row["values"]["energy_kwh"].is_number())
        .then_some(r)
    })
    .unwrap_or_else(|| {
        panic!(
            "no monthly plant indicators: {:?}\n{}",
            get_json(&enpi_url),
            demo.log()
        )
    });
    let values = &enpi["rows"][0]["values"];
    let kwh = values["energy_kwh"].as_f64().unwrap();
    assert!(kwh > 10_000.0, "a month of the demo plant: {kwh} kWh");

    for (lang, tag) in [
        (Language::English, "en"),
        (Language::TraditionalChinese, "zh-TW"),
    ] {
        let url =
            format!("http://{addr}/api/v1/reports/monthly?month={period}&lang={tag}&format=pdf");
        let (status, ct, body) = fetch(&url);
        assert_eq!(status, 200, "{url}: {}", String::from_utf8_lossy(&body));
        assert_eq!(ct, "application/pdf");
        let text = squash(&check_pdf(
            &dir,
            &format!("monthly-{tag}.pdf"),
            &body,
            1..=6,
        ));
        for key in [
            "rep-monthly-title",
            "rep-tou",
            "rep-demand",
            "rep-co2e",
            "rep-seu",
            "rep-enpi",
            "rep-alarms",
            "rep-savings",
        ] {
            let want = squash(&i18n::t(lang, key));
            assert!(
                text.contains(&want),
                "{tag}: `{want}` ({key}) missing from\n{text}"
            );
        }
        // The month's electricity as the API gives it, in the language's number format.
        let figure = i18n::number_fixed(lang, kwh, 0);
        assert!(
            text.contains(&figure),
            "{tag}: energy {figure} kWh missing from\n{text}"
        );
        let contract = i18n::number_fixed(lang, values["contract_kw"].as_f64().unwrap(), 0);
        assert!(
            text.contains(&contract),
            "{tag}: contract {contract} missing"
        );
        // Time-of-use periods by their names in the language (尖峰, 離峰, …).
        assert!(
            text.contains(&squash(&i18n::t(lang, "tou-peak"))),
            "{tag}: no peak period in\n{text}"
        );
        assert!(
            text.contains(&squash(&i18n::t(lang, "tou-off-peak"))),
            "{tag}: no off-peak period"
        );
    }

    // The HTML, from the command line on the demo's database, holds the same figure and
    // needs no script to show its charts.
    let html_path = dir.join("monthly.html");
    let out = Command::new(bin("kilowatch-gateway"))
        .args(["report", "monthly", "--config"])
        .arg(demo_site())
        .arg("--db")
        .arg(dir.join("data/kilowatch.db"))
        .args(["--month", &period, "--lang", "zh-TW", "--html"])
        .arg(&html_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(
        html.contains("<svg") && !html.contains("<script"),
        "inline SVG, no script"
    );
    assert!(html.contains(&i18n::number_fixed(Language::TraditionalChinese, kwh, 0)));
    assert!(html.contains("lang=\"zh-TW\""));

    // The year's GHG summary: scope 1 from the boiler's gas, scope 2 by factor year.
    let year = month.year();
    for (lang, tag) in [
        (Language::English, "en"),
        (Language::TraditionalChinese, "zh-TW"),
    ] {
        let url = format!("http://{addr}/api/v1/reports/ghg?year={year}&lang={tag}&format=pdf");
        let (status, _, body) = fetch(&url);
        assert_eq!(status, 200, "{url}: {}", String::from_utf8_lossy(&body));
        let text = squash(&check_pdf(&dir, &format!("ghg-{tag}.pdf"), &body, 1..=4));
        for key in [
            "rep-ghg-title",
            "rep-scope1",
            "rep-scope2",
            "rep-ghg-by-source",
            "rep-ghg-monthly",
        ] {
            let want = squash(&i18n::t(lang, key));
            assert!(
                text.contains(&want),
                "{tag}: `{want}` ({key}) missing from\n{text}"
            );
        }
        assert!(
            text.contains("natural_gas"),
            "{tag}: the boiler's gas is a scope 1 source:\n{text}"
        );
        assert!(text.contains(&format!("{year}")), "{tag}: the factor year");
    }

    // Malformed requests are refused with the parameter named.
    let (status, _, body) = fetch(&format!(
        "http://{addr}/api/v1/reports/monthly?month=2026-13"
    ));
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("month"));
    let (status, _, _) = fetch(&format!("http://{addr}/api/v1/reports/monthly?format=docx"));
    assert_eq!(status, 400);
    let _ = demo.interrupt(Duration::from_secs(10));
}
