//! Configuration and CSV errors in the reader's language. The libraries keep them structured
//! (a kind, the file, the key or column, the line); they are put into words here, at the edge.
//! A kind that only has English text (`Problem::Other`) is shown quoted inside a translated
//! frame that still names the file, the key and the line.

use kilowatch_site::config::{Bound, ConfigError, Problem};

use super::{t, tr, Language};
use crate::csvio::{CsvError, CsvProblem};

/// Values quoted in a message may hold line breaks; the message stays one line (as `Display`).
fn one_line(what: &str) -> String {
    what.replace('\r', "\\r").replace('\n', "\\n")
}

/// `a`, `b`: identifiers listed with the language's separator.
fn ticks(lang: Language, names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(&t(lang, "id-separator"))
}

/// The problem of a configuration error in `lang`, without the file, key and line.
pub fn problem(lang: Language, p: &Problem, english: &str) -> String {
    match p {
        Problem::Other => tr(lang, "cfg-other", &[("detail", english)]),
        Problem::NotFound => t(lang, "cfg-not-found"),
        Problem::Unreadable { reason } => tr(lang, "cfg-unreadable", &[("reason", reason)]),
        Problem::Syntax { detail } => tr(lang, "cfg-syntax", &[("detail", detail)]),
        Problem::UnknownKey { name, expected } if expected.is_empty() => {
            tr(lang, "cfg-unknown-key-none", &[("name", name)])
        }
        Problem::UnknownKey { name, expected } => tr(
            lang,
            "cfg-unknown-key",
            &[("name", name), ("expected", &ticks(lang, expected))],
        ),
        Problem::MissingKey { name } => tr(lang, "cfg-missing-key", &[("name", name)]),
        Problem::WrongType { detail } => tr(lang, "cfg-wrong-type", &[("detail", detail)]),
        Problem::UnknownValue { value, expected } => tr(
            lang,
            "cfg-unknown-value",
            &[("value", value), ("expected", &ticks(lang, expected))],
        ),
        Problem::OutOfRange { value, bound } => match bound {
            Bound::Between(lo, hi) => tr(
                lang,
                "cfg-range-between",
                &[("value", value), ("low", lo), ("high", hi)],
            ),
            Bound::AtLeast(lo) => tr(lang, "cfg-range-at-least", &[("value", value), ("low", lo)]),
            Bound::Above(lo) => tr(lang, "cfg-range-above", &[("value", value), ("low", lo)]),
        },
        Problem::UnknownRef { of, name, known } => {
            let key = format!("cfg-unknown-{}", of.key());
            let text = tr(lang, &key, &[("name", name)]);
            if known.is_empty() {
                text
            } else {
                let known = ticks(lang, known);
                tr(lang, "cfg-known", &[("text", &text), ("known", &known)])
            }
        }
        Problem::Duplicate { of, id } => {
            tr(lang, &format!("cfg-duplicate-{}", of.key()), &[("id", id)])
        }
    }
}

/// A configuration error in `lang`: the file, the key, the line and the problem.
pub fn config_error(lang: Language, e: &ConfigError) -> String {
    // English is the library's own text (the catalogue's English says the same: tested), so
    // the parser's wording of its errors stays as the parser has it.
    let what = match lang {
        Language::English => one_line(&e.what),
        _ => problem(lang, &e.problem, &one_line(&e.what)),
    };
    let line = e.line.map(|l| l.to_string());
    let (key, args): (&str, Vec<(&str, &str)>) = match (&e.key, &line) {
        (Some(k), Some(l)) => (
            "cfg-error-key-line",
            vec![("file", &e.file), ("key", k), ("line", l), ("what", &what)],
        ),
        (Some(k), None) => (
            "cfg-error-key",
            vec![("file", &e.file), ("key", k), ("what", &what)],
        ),
        (None, Some(l)) => (
            "cfg-error-line",
            vec![("file", &e.file), ("line", l), ("what", &what)],
        ),
        (None, None) => ("cfg-error", vec![("file", &e.file), ("what", &what)]),
    };
    tr(lang, key, &args)
}

/// A CSV error in `lang`: the file, the line, the column and the problem.
pub fn csv_error(lang: Language, e: &CsvError) -> String {
    let what = match &e.problem {
        CsvProblem::Unreadable { detail } => tr(lang, "csv-unreadable", &[("detail", detail)]),
        CsvProblem::MissingColumn { header } => tr(
            lang,
            "csv-missing-column",
            &[("header", &header.join(&t(lang, "id-separator")))],
        ),
        CsvProblem::BadTime { detail } => tr(lang, "csv-bad-time", &[("detail", detail)]),
        CsvProblem::EmptyDevice => t(lang, "csv-empty-device"),
        CsvProblem::BadQuantity { detail } => tr(lang, "csv-bad-quantity", &[("detail", detail)]),
        CsvProblem::NotANumber { value } => tr(lang, "csv-not-a-number", &[("value", value)]),
        CsvProblem::BadUnit { detail } => tr(lang, "csv-bad-unit", &[("detail", detail)]),
        CsvProblem::Other { detail } if lang == Language::English => detail.clone(),
        CsvProblem::Other { detail } => tr(lang, "cfg-other", &[("detail", detail)]),
    };
    let line = e.line.to_string();
    if e.column == "-" {
        tr(
            lang,
            "csv-error",
            &[("file", &e.file), ("line", &line), ("what", &what)],
        )
    } else {
        tr(
            lang,
            "csv-error-column",
            &[
                ("file", &e.file),
                ("line", &line),
                ("column", &e.column),
                ("what", &what),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use kilowatch_site::config::{SiteConfig, Thing};
    use kilowatch_site::profile::ProfileLibrary;

    use super::*;

    const GOOD: &str = r#"[site]
id = "plant"

[[devices]]
id = "incomer"
profile = "eastron-sdm630"
tcp = "127.0.0.1:502"
interval = "2s"
"#;

    fn parse(text: &str) -> ConfigError {
        SiteConfig::parse(text, "plant.toml", &ProfileLibrary::builtin()).unwrap_err()
    }

    /// The ASCII words of three letters or more left once the file, the key, `identifiers`
    /// and the quoted parts (the parser's own text, in 「」) are taken out.
    fn english_left(zh: &str, e: &ConfigError) -> Vec<String> {
        let mut text = zh.replace(&e.file, " ");
        if let Some(k) = &e.key {
            text = text.replace(k.as_str(), " ");
        }
        let mut kept = String::new();
        let (mut quoted, mut ticked) = (false, false);
        for c in text.chars() {
            match c {
                '「' => quoted = true,
                '」' => quoted = false,
                '`' => ticked = !ticked,
                _ if !quoted && !ticked => kept.push(c),
                _ => {}
            }
        }
        kept.split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| w.len() >= 3 && !["TOML", "devices", "assets"].contains(w))
            .map(str::to_owned)
            .collect()
    }

    /// `e` in Chinese names its file, key and line, holds `term`, and keeps no English; in
    /// English it is the library's own text.
    fn check(e: &ConfigError, term: &str) -> String {
        let zh = config_error(Language::TraditionalChinese, e);
        assert!(zh.starts_with(&format!("設定檔 {}", e.file)), "{zh}");
        if let Some(k) = &e.key {
            assert!(zh.contains(&format!("{k}：")), "{zh}");
        }
        if let Some(l) = e.line {
            assert!(zh.contains(&format!("第 {l} 行")), "{zh}");
        }
        assert!(zh.contains(term), "`{zh}` lacks {term}");
        let left = english_left(&zh, e);
        assert!(left.is_empty(), "`{zh}` keeps English {left:?}");
        assert_eq!(config_error(Language::English, e), e.to_string());
        zh
    }

    #[test]
    fn the_catalogue_english_is_the_library_english() {
        let s = |v: &str| v.to_owned();
        let all = [
            Problem::NotFound,
            Problem::Unreadable {
                reason: s("Permission denied (os error 13)"),
            },
            Problem::Syntax {
                detail: s("expected `]`"),
            },
            Problem::UnknownKey {
                name: s("tcpp"),
                expected: vec![s("tcp"), s("rtu")],
            },
            Problem::UnknownKey {
                name: s("x"),
                expected: vec![],
            },
            Problem::MissingKey { name: s("profile") },
            Problem::WrongType {
                detail: s("invalid type: string \"a\", expected u8"),
            },
            Problem::UnknownValue {
                value: s("odd2"),
                expected: vec![s("none"), s("odd")],
            },
            Problem::OutOfRange {
                value: s("0"),
                bound: Bound::Between(s("1"), s("247")),
            },
            Problem::OutOfRange {
                value: s("0"),
                bound: Bound::AtLeast(s("1")),
            },
            Problem::OutOfRange {
                value: s("-5 kW"),
                bound: Bound::Above(s("0 kW")),
            },
            Problem::UnknownRef {
                of: Thing::Profile,
                name: s("p"),
                known: vec![s("a"), s("b")],
            },
        ]
        .into_iter()
        .chain(THINGS.iter().flat_map(|&of| {
            [
                Problem::unknown(of, "x"),
                Problem::Duplicate { of, id: s("x") },
            ]
        }));
        for p in all {
            let english = p.english().unwrap_or_default();
            assert_eq!(problem(Language::English, &p, ""), english, "{p:?}");
            let zh = problem(Language::TraditionalChinese, &p, "");
            assert_ne!(zh, english, "{p:?}");
        }
    }

    const THINGS: [Thing; 7] = [
        Thing::Device,
        Thing::Meter,
        Thing::Asset,
        Thing::DeviceAsset,
        Thing::Profile,
        Thing::Alarm,
        Thing::Channel,
    ];

    #[test]
    fn a_missing_file_is_said_in_chinese() {
        let e = SiteConfig::load(
            Path::new("/nonexistent/plant.toml"),
            &ProfileLibrary::builtin(),
        )
        .unwrap_err();
        assert_eq!(*e.problem, Problem::NotFound);
        check(&e, "檔案不存在");
    }

    #[test]
    fn a_toml_syntax_error_names_the_line_and_quotes_the_parser() {
        let e = parse(&format!("{GOOD}\n[[devices]\nid = \"b\"\n"));
        assert!(matches!(*e.problem, Problem::Syntax { .. }), "{e:?}");
        assert_eq!(e.line, Some(10));
        let zh = check(&e, "TOML 語法錯誤：「");
        assert!(zh.starts_with("設定檔 plant.toml 第 10 行："), "{zh}");
    }

    #[test]
    fn unknown_and_missing_keys_and_wrong_types_are_said_in_chinese() {
        let e = parse(&GOOD.replace("tcp =", "tcpp ="));
        assert!(
            matches!(&*e.problem, Problem::UnknownKey { name, expected }
            if name == "tcpp" && expected.iter().any(|k| k == "tcp")),
            "{e:?}"
        );
        let zh = check(&e, "不認得的鍵 `tcpp`，可用的鍵：");
        assert!(zh.contains("`tcp`、"), "{zh}");
        assert!(zh.contains("第 7 行，devices[0].tcpp："), "{zh}");

        let e = parse(&GOOD.replace("profile = \"eastron-sdm630\"\n", ""));
        assert_eq!(
            *e.problem,
            Problem::MissingKey {
                name: "profile".into()
            }
        );
        check(&e, "缺少必填的鍵 `profile`");

        let e = parse(&GOOD.replace("interval = \"2s\"", "interval = \"2s\"\nunit = \"one\""));
        assert!(matches!(*e.problem, Problem::WrongType { .. }), "{e:?}");
        assert_eq!(e.key.as_deref(), Some("devices[0].unit"));
        check(&e, "值的型別或大小不符：「invalid type");

        let e = parse(&GOOD.replace("interval = \"2s\"", "interval = \"2s\"\nparity = \"odd2\""));
        assert!(
            matches!(&*e.problem, Problem::UnknownValue { value, .. } if value == "odd2"),
            "{e:?}"
        );
        check(&e, "不接受的值 `odd2`，可用的值：");
    }

    #[test]
    fn values_out_of_range_are_said_in_chinese() {
        let e = parse(&GOOD.replace("interval = \"2s\"", "interval = \"2s\"\nunit = 0"));
        assert_eq!(e.key.as_deref(), Some("devices[0].unit"));
        assert_eq!(e.line, Some(9));
        let zh = check(&e, "`0` 超出範圍：須介於 1 與 247 之間");
        assert_eq!(
            zh,
            "設定檔 plant.toml 第 9 行，devices[0].unit：`0` 超出範圍：須介於 1 與 247 之間"
        );
        let e = parse(&GOOD.replace("id = \"plant\"", "id = \"plant\"\ncontract_kw = -5.0"));
        check(&e, "超出範圍：須大於 0 kW");
    }

    #[test]
    fn unknown_references_and_duplicate_ids_are_said_in_chinese() {
        let alarm = parse(&format!(
            "{GOOD}\n[[alarms]]\nid = \"x\"\nrule = \"device_silent\"\ndevice = \"nope\"\n"
        ));
        check(&alarm, "未定義的設備 `nope`（[[devices]] 中沒有）");
        let virt = parse(&format!(
            "{GOOD}\n[[virtual]]\nid = \"rest\"\nquantity = \"active_energy_import\"\nexpr = \"incomer - chiller\"\n"
        ));
        check(&virt, "未定義的設備或虛擬電表 `chiller`");
        let profile = parse(&GOOD.replace("eastron-sdm630", "eastron-sdm999"));
        let zh = check(&profile, "未定義的設備描述檔 `eastron-sdm999`（已知：");
        assert!(zh.contains("`eastron-sdm630`、"), "{zh}");
        let dup = parse(&format!(
            "{GOOD}\n{}",
            &GOOD[GOOD.find("[[devices]]").unwrap_or(0)..]
        ));
        assert_eq!(dup.key.as_deref(), Some("devices[1].id"));
        check(&dup, "`incomer` 被兩個設備使用（識別碼重複）");
    }

    #[test]
    fn a_check_without_a_kind_keeps_its_english_quoted_in_a_chinese_frame() {
        let e = parse(&GOOD.replace("id = \"plant\"", "id = \"plant\"\ntimezone = \"Mars/Base\""));
        assert_eq!(*e.problem, Problem::Other);
        let zh = config_error(Language::TraditionalChinese, &e);
        assert!(
            zh.starts_with("設定檔 plant.toml 第 3 行，site.timezone：「unknown time zone"),
            "{zh}"
        );
        assert_eq!(config_error(Language::English, &e), e.to_string());
    }

    #[test]
    fn csv_errors_name_the_file_line_and_column_in_chinese() {
        let dir = std::env::temp_dir().join(format!("kw-csv-i18n-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let read = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            crate::csvio::read_polls(&p, "s", chrono_tz::Asia::Taipei).unwrap_err()
        };
        let cases = [
            read("head.csv", "ts,device,value\n"),
            read(
                "num.csv",
                "ts,device,quantity,value\n2026-03-01 08:00,m1,active_power,abc\n",
            ),
            read(
                "dev.csv",
                "ts,device,quantity,value\n2026-03-01 08:00,,active_power,1\n",
            ),
            read(
                "ts.csv",
                "ts,device,quantity,value\nyesterday,m1,active_power,1\n",
            ),
        ];
        std::fs::remove_dir_all(&dir).unwrap();
        let zh: Vec<String> = cases
            .iter()
            .map(|e| csv_error(Language::TraditionalChinese, e))
            .collect();
        assert!(
            zh[0].ends_with(
                "head.csv 第 1 行，欄位 `quantity`：缺少此欄位（標題列的欄位：ts、device、value）"
            ),
            "{}",
            zh[0]
        );
        assert!(
            zh[1].ends_with("num.csv 第 2 行，欄位 `value`：`abc` 不是數字"),
            "{}",
            zh[1]
        );
        assert!(
            zh[2].ends_with("dev.csv 第 2 行，欄位 `device`：空白（須填設備）"),
            "{}",
            zh[2]
        );
        assert!(
            zh[3].contains("ts.csv 第 2 行，欄位 `ts`：時間格式不正確：「"),
            "{}",
            zh[3]
        );
        for (e, zh) in cases.iter().zip(&zh) {
            assert!(zh.starts_with("CSV 檔 "), "{zh}");
            assert_eq!(csv_error(Language::English, e), e.to_string());
        }
    }
}
