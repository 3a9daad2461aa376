use std::collections::BTreeSet;
use std::path::Path;

use super::*;

fn catalogue_keys(lang: Language) -> BTreeSet<String> {
    let src = SOURCES.iter().find(|(l, _)| *l == lang).unwrap().1;
    keys(src).into_iter().collect()
}

/// The string literal passed as argument `skip_args` (from 0) of each call `marker` (a whole
/// name: `t("` does not match the end of `split("`).
fn literal_keys(src: &str, marker: &str, skip_args: usize) -> Vec<String> {
    src.match_indices(marker)
        .filter(|(i, _)| {
            !src[..*i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '.' || c == '$')
        })
        .filter_map(|(i, _)| {
            let mut rest = &src[i + marker.len()..];
            for _ in 0..skip_args {
                rest = &rest[rest.find(',')? + 1..];
            }
            let rest = rest.trim_start().strip_prefix('"')?;
            Some(rest[..rest.find('"')?].to_owned())
        })
        .collect()
}

/// The keys of the engine's message families written as plain string literals (a key chosen
/// in a `match` or a table, then looked up): `"plan-status-met"`, `"tou-peak"`.
fn key_literals(src: &str, families: &[&str]) -> Vec<String> {
    src.split('"')
        .filter(|lit| {
            families.iter().any(|f| lit.starts_with(f))
                && lit.len() > 5
                && lit
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !lit.ends_with('-')
        })
        .map(str::to_owned)
        .collect()
}

/// The families `key_literals` looks for in the Rust code (the dashboard's CSS classes share
/// some prefixes: there only the plan statuses).
const RUST_FAMILIES: [&str; 16] = [
    "enpi-why-",
    "cfg-",
    "csv-",
    "hub-err-",
    "enpi-step-",
    "bl-step-",
    "notify-rule-",
    "cli-bl-kind-",
    "mv-why-",
    "mv-warn-",
    "mv-steps-",
    "plan-",
    "alarm-",
    "tou-",
    "missing-",
    "review-note-",
];

fn files(dir: &Path, ext: &str, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

#[test]
fn both_catalogues_parse_and_have_the_same_keys() {
    for (lang, src) in SOURCES {
        if let Err((_, errors)) = FluentResource::try_new(src.to_owned()) {
            panic!("{lang}.ftl: {errors:?}");
        }
        let keys = keys(src);
        let unique: BTreeSet<_> = keys.iter().collect();
        assert_eq!(unique.len(), keys.len(), "{lang}.ftl defines a key twice");
    }
    let en = catalogue_keys(Language::English);
    let zh = catalogue_keys(Language::TraditionalChinese);
    assert!(en.len() > 50, "{en:?}");
    let only_en: Vec<_> = en.difference(&zh).collect();
    let only_zh: Vec<_> = zh.difference(&en).collect();
    assert!(
        only_en.is_empty() && only_zh.is_empty(),
        "only in en.ftl: {only_en:?}; only in zh-TW.ftl: {only_zh:?}"
    );
}

#[test]
fn both_languages_take_the_same_variables_and_no_selectors() {
    let vars = |text: &str| -> BTreeSet<String> {
        text.match_indices("{$")
            .map(|(i, _)| {
                let rest = &text[i + 2..];
                rest[..rest.find('}').unwrap_or(rest.len())].to_owned()
            })
            .collect()
    };
    let en = messages(Language::English);
    let zh = messages(Language::TraditionalChinese);
    for (k, text) in &en {
        assert_eq!(vars(text), vars(&zh[k]), "{k}: `{text}` vs `{}`", zh[k]);
    }
    for (lang, src) in SOURCES {
        // The dashboard substitutes `{$name}` itself: selectors and terms it could not.
        assert!(!src.contains("->"), "{lang}.ftl has a selector");
        assert!(!src.contains("{ -"), "{lang}.ftl has a term reference");
    }
}

#[test]
fn every_key_the_dashboard_and_the_code_use_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let en = catalogue_keys(Language::English);
    let mut js = Vec::new();
    files(&root.join("../dashboards/web"), "js", &mut js);
    assert!(js.len() >= 3, "{js:?}");
    let mut used = Vec::new();
    // Comments show how to call t() with made-up keys: code lines only.
    let code = |src: String| -> String {
        src.lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for f in &js {
        let src = code(std::fs::read_to_string(f).unwrap());
        for k in literal_keys(&src, "t(", 0) {
            used.push((f.display().to_string(), k));
        }
        for k in key_literals(&src, &["plan-status-"]) {
            used.push((f.display().to_string(), k));
        }
    }
    // The hub's pages: t("…") in the script, data-t="…" in the HTML, keys spelled whole.
    let mut hub = Vec::new();
    files(&root.join("../dashboards/hub"), "js", &mut hub);
    files(&root.join("../dashboards/hub"), "html", &mut hub);
    assert!(hub.len() >= 3, "{hub:?}");
    for f in &hub {
        let src = code(std::fs::read_to_string(f).unwrap());
        for k in literal_keys(&src, "t(", 0)
            .into_iter()
            .chain(literal_keys(&src, "data-t=", 0))
            .chain(key_literals(&src, &["hub-"]))
            // A prefix completed at run time (checked in hub::portfolio's tests).
            .filter(|k| !k.ends_with('-'))
        {
            used.push((f.display().to_string(), k));
        }
    }
    let js_calls = used.len();
    let mut rs = Vec::new();
    files(&root.join("src"), "rs", &mut rs);
    for f in rs.iter().filter(|f| !f.ends_with("i18n/tests.rs")) {
        let src = code(std::fs::read_to_string(f).unwrap());
        for marker in ["i18n::t(", "i18n::tr("] {
            for k in literal_keys(&src, marker, 1) {
                used.push((f.display().to_string(), k));
            }
        }
        // The engine's sentences: `Msg::new("key")`, and keys picked in a `match` first.
        for k in literal_keys(&src, "Msg::new(", 0) {
            used.push((f.display().to_string(), k));
        }
        for k in key_literals(&src, &RUST_FAMILIES) {
            used.push((f.display().to_string(), k));
        }
    }
    assert!(
        js_calls > 100,
        "found only {js_calls} t() calls in the dashboard"
    );
    assert!(
        used.len() > js_calls,
        "no i18n::t call found in the Rust code"
    );
    let missing: Vec<_> = used.iter().filter(|(_, k)| !en.contains(k)).collect();
    assert!(missing.is_empty(), "keys not in the catalogue: {missing:?}");
}

#[test]
fn messages_fill_their_variables_and_fall_back_to_the_key() {
    let zh = Language::TraditionalChinese;
    assert_eq!(t(zh, "no-such-key"), "no-such-key");
    let en = messages(Language::English);
    let (key, text) = en.iter().find(|(_, v)| v.contains("{$")).unwrap();
    assert!(!tr(Language::English, key, &[]).is_empty(), "{key}: {text}");
}

#[test]
fn the_seed_terms_are_the_catalogue_terms() {
    let zh = SOURCES[1].1;
    for term in [
        "能源績效指標",
        "能源基線",
        "契約容量",
        "功率因數",
        "尖峰",
        "半尖峰",
        "離峰",
        "碳排放",
    ] {
        assert!(zh.contains(term), "zh-TW.ftl lacks {term}");
    }
}

#[test]
fn numbers_group_thousands_and_dates_follow_the_language() {
    let (en, zh) = (Language::English, Language::TraditionalChinese);
    assert_eq!(number_fixed(en, 1234567.891, 1), "1,234,567.9");
    assert_eq!(number_fixed(zh, -1234.0, 0), "-1,234");
    assert_eq!(number_fixed(en, -0.0001, 2), "0.00");
    assert_eq!(number(en, 12.3456), "12.35");
    assert_eq!(number(en, f64::NAN), "—");
    let d = chrono::NaiveDate::from_ymd_opt(2026, 3, 5).unwrap();
    assert_eq!(date(en, d), "2026-03-05");
    assert_eq!(date(zh, d), "2026年3月5日");
}

#[test]
fn the_asked_language_wins_over_the_site_default() {
    let zh = Some(Language::TraditionalChinese);
    assert_eq!(pick(None, zh), Ok(Language::TraditionalChinese));
    assert_eq!(pick(Some("en"), zh), Ok(Language::English));
    assert_eq!(pick(Some(""), None), Ok(Language::English));
    assert!(pick(Some("xx"), zh).is_err());
}

/// Messages that are the same in both languages on purpose: placeholders and symbols only.
const SAME_IN_BOTH: [&str; 3] = ["banner-count", "rep-senpi", "rep-mail-subject"];

#[test]
fn every_chinese_message_is_translated() {
    let en = messages(Language::English);
    let zh = messages(Language::TraditionalChinese);
    let cjk = |s: &str| {
        s.chars()
            .any(|c| matches!(c, '\u{3000}'..='\u{303f}' | '\u{4e00}'..='\u{9fff}' | '\u{ff00}'..='\u{ffef}'))
    };
    let untranslated: Vec<_> = zh
        .iter()
        .filter(|(k, v)| !SAME_IN_BOTH.contains(&k.as_str()) && (!cjk(v) || en.get(*k) == Some(v)))
        .map(|(k, v)| format!("{k} = {v}"))
        .collect();
    assert!(
        untranslated.is_empty(),
        "zh-TW.ftl messages still in English: {untranslated:?}"
    );
    // Every key has a value in both (a key with an empty or unparsable value would not be in
    // `messages`).
    assert_eq!(zh.len(), catalogue_keys(Language::TraditionalChinese).len());
    assert_eq!(en.len(), catalogue_keys(Language::English).len());
}

#[test]
fn an_engine_sentence_renders_in_either_language_and_survives_storage() {
    let reason = Msg::new("mv-why-model")
        .arg("check", "CV(RMSE)")
        .arg("value", "34.0 %")
        .arg("limit", "≤ 20 %");
    let placebo = Msg::new("mv-why-indistinguishable");
    let verdict = Msg::new("mv-verdict-not-verified")
        .arg("reasons", vec![reason, placebo])
        .arg(
            "figure",
            Msg::new("mv-figure-no-uncertainty")
                .arg("avoided", "1000")
                .arg("unit", "kWh")
                .arg("pct", ""),
        );
    assert_eq!(
        verdict.en(),
        "not verified: model not valid: CV(RMSE) 34.0 % (needs ≤ 20 %); savings not distinguishable from zero at 90% confidence; savings 1000 kWh, no uncertainty"
    );
    let zh = verdict.render(Language::TraditionalChinese);
    assert!(
        zh.starts_with("未通過查證：模型無效：CV(RMSE) 34.0 %"),
        "{zh}"
    );
    assert!(zh.contains("；") && !zh.contains("not verified"), "{zh}");
    let json = serde_json::to_string(&verdict).unwrap();
    let back: Msg = serde_json::from_str(&json).unwrap();
    assert_eq!(back, verdict, "{json}");
    // A row stored before messages had keys keeps its English.
    assert_eq!(
        stored_or(None, "old text", Language::TraditionalChinese),
        "old text"
    );
}

/// The English words left in `text` (ASCII words of three letters or more), less `allowed`
/// (units, acronyms and names that are the same in both languages).
fn english_words<'a>(text: &'a str, allowed: &[&str]) -> Vec<&'a str> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| w.len() >= 3 && !allowed.contains(w))
        .collect()
}

/// `m` in Chinese holds `term` and no English word beyond `allowed`.
fn assert_chinese(m: &Msg, term: &str, allowed: &[&str]) {
    let zh = m.render(Language::TraditionalChinese);
    assert!(zh.contains(term), "{}: `{zh}` lacks {term}", m.key);
    let left = english_words(&zh, allowed);
    assert!(left.is_empty(), "{}: `{zh}` keeps English {left:?}", m.key);
    assert_ne!(zh, m.en());
}

#[test]
fn enpi_and_baseline_warnings_render_in_chinese() {
    assert_chinese(
        &Msg::new("enpi-warn-factor-year")
            .arg("year", "2026")
            .arg("factors", "台電")
            .arg("used", "2025")
            .arg("factor", "0.474"),
        "碳排放",
        &["CO2e", "kWh"],
    );
    assert_chinese(&Msg::new("enpi-warn-computing"), "能源績效指標", &[]);
    assert_chinese(
        &Msg::new("enpi-warn-whole-intervals")
            .arg("step", Msg::new("enpi-step-month"))
            .arg("first", "2026-10-01 00:00")
            .arg("zone", "Asia/Taipei"),
        "計費月",
        &["from", "Asia", "Taipei"],
    );
    assert_chinese(
        &Msg::new("bl-warn-nothing-to-track").arg("step", Msg::new("bl-step-month")),
        "能源基線",
        &[],
    );
    assert_chinese(&Msg::new("bl-warn-data-changed"), "能源基線", &[]);
    assert_chinese(
        &Msg::new("bl-note-no-period").arg("year", "2027"),
        "2027 年",
        &[],
    );
}

#[test]
fn the_cost_assumptions_render_in_chinese() {
    assert_chinese(
        &Msg::new("mvr-as-demand").arg("contract", "1000"),
        "契約容量",
        &[],
    );
    assert_chinese(&Msg::new("mvr-as-no-pf-rule"), "功率因數", &[]);
    assert_chinese(
        &Msg::new("mvr-as-factors").arg("factors", "台電"),
        "碳排放",
        &[],
    );
    assert_chinese(
        &Msg::new("mvr-as-tariff")
            .arg("tariff", "台電高壓三段式")
            .arg("source", Msg::new("mvr-as-no-source"))
            .arg("step", Msg::new("bl-step-day")),
        "電價",
        &[],
    );
    assert_chinese(
        &Msg::new("mvr-as-demand-not-priced").arg("why", Msg::new("mvr-as-plant-only")),
        "計費需量",
        &[],
    );
}

/// Every indicator the EnPI engine defines (`def("name", …)` in `enpi/*.rs`) has its
/// description in both languages, and the Chinese one is Chinese.
#[test]
fn every_enpi_indicator_is_described_in_chinese() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/enpi");
    let mut found = 0;
    for (file, kinds) in [
        ("indicators.rs", &["compressor", "chiller", "plant"][..]),
        ("pump.rs", &["pump"]),
        ("fan.rs", &["fan"]),
        ("boiler.rs", &["boiler"]),
        ("cooling_tower.rs", &["cooling_tower"]),
        ("chw_plant.rs", &["chw_plant"]),
        ("heat_recovery.rs", &["heat_recovery"]),
        ("lighting.rs", &["lighting"]),
    ] {
        let src = std::fs::read_to_string(dir.join(file)).unwrap();
        // indicators.rs defines three kinds in turn, each starting with `energy_kwh`.
        let (mut i, mut seen_energy) = (0, false);
        for part in src.split("def(").skip(1) {
            let Some(name) = part
                .trim_start()
                .strip_prefix('"')
                .and_then(|p| p.split('"').next())
            else {
                continue;
            };
            if name == "energy_kwh" {
                if seen_energy {
                    i = (i + 1).min(kinds.len() - 1);
                }
                seen_energy = true;
            }
            let current = kinds[i];
            let d = crate::enpi::defs::Definition {
                name: name.to_owned(),
                unit: String::new(),
                description: String::new(),
                fuel: Some("diesel".into()),
            };
            let key = format!(
                "enpi-desc-{}-{}",
                current.replace('_', "-"),
                name.replace('_', "-")
            );
            assert!(super::has(&key), "{file}: no {key}");
            let zh = d.describe(Language::TraditionalChinese, current);
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{key}: {zh}"
            );
            found += 1;
        }
    }
    assert!(found >= 110, "found only {found} indicators");
}

#[test]
fn baseline_input_errors_render_in_chinese() {
    let Err(crate::baseline::BaselineError::Invalid(name)) = crate::baseline::check_name("a b")
    else {
        panic!("a name with a space is refused with a catalogue message");
    };
    assert_eq!(
        name.en(),
        "baseline name `a b`: use 1-64 letters, digits, `-`, `_` or `.`"
    );
    assert_chinese(&name, "能源基線名稱 `a b`", &[]);
    let many = Msg::new("bl-err-too-many")
        .arg("max", "200000")
        .arg("steps", Msg::new("mv-steps-hour"));
    assert_eq!(
        many.en(),
        "the baseline holds more than 200000 hours; use a coarser granularity"
    );
    assert_chinese(&many, "能源基線超過 200000 個小時", &[]);
    let none = Msg::new("bl-err-no-data").arg("step", Msg::new("bl-step-day"));
    assert_eq!(none.en(), "the baseline period has no complete day of data");
    assert_chinese(&none, "沒有任何一個完整的日資料", &[]);
    let period = Msg::new("bl-err-period").arg("detail", "`2025-13-01` is not a date");
    assert!(period
        .render(Language::TraditionalChinese)
        .starts_with("能源基線期間不正確：「`2025-13-01` is not a date」"));
}
