use chrono::{NaiveDate, TimeZone, Utc};

use super::*;

#[test]
fn months_and_years_parse_or_say_why() {
    assert_eq!(
        parse_month("2026-11").unwrap(),
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
    );
    assert!(parse_month("2026-13").is_err());
    assert!(parse_month("november").is_err());
    assert_eq!(parse_year("2026").unwrap(), 2026);
    assert!(parse_year("26x").is_err());
}

#[test]
fn a_month_is_plant_local() {
    let tz: chrono_tz::Tz = "Asia/Taipei".parse().unwrap();
    let (from, to) = month_range(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(), tz).unwrap();
    // Taipei is UTC+8: the month starts at 16:00 UTC the day before.
    assert_eq!(
        from,
        Utc.with_ymd_and_hms(2026, 10, 31, 16, 0, 0)
            .unwrap()
            .timestamp_millis()
    );
    assert_eq!(
        to,
        Utc.with_ymd_and_hms(2026, 11, 30, 16, 0, 0)
            .unwrap()
            .timestamp_millis()
    );
}

#[test]
fn the_previous_month_is_the_plants() {
    let tz: chrono_tz::Tz = "Asia/Taipei".parse().unwrap();
    // 2026-11-30 17:00 UTC is already 1 December in Taipei: last month is November.
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 17, 0, 0).unwrap();
    assert_eq!(
        previous_month(now, tz),
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
    );
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap();
    assert_eq!(
        previous_month(now, tz),
        NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()
    );
}

#[test]
fn charts_are_svg_without_script() {
    let s = svg::bars(&[("1".into(), 10.0), ("2".into(), f64::NAN)], "kWh", 1);
    assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
    assert!(!s.contains("script") && !s.contains("NaN"));
    let s = svg::shares(&[("a".into(), 1.0), ("b".into(), 3.0)]);
    assert!(s.contains("75.0 %"), "{s}");
}

#[test]
fn the_schedule_makes_last_months_report_and_in_january_last_years_ghg() {
    let tz: chrono_tz::Tz = "Asia/Taipei".parse().unwrap();
    // 1 December 2026 in Taipei (still 30 November in UTC): November's report is due.
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 16, 30, 0).unwrap();
    let due = schedule::due(now, tz);
    assert_eq!(due, vec![(Kind::Monthly, "2026-11".to_owned())]);
    // January: December's report and 2026's GHG summary.
    let now = Utc.with_ymd_and_hms(2027, 1, 5, 3, 0, 0).unwrap();
    let due = schedule::due(now, tz);
    assert_eq!(
        due,
        vec![
            (Kind::Monthly, "2026-12".to_owned()),
            (Kind::Ghg, "2026".to_owned())
        ]
    );
}

#[test]
fn a_report_mail_names_its_file_and_speaks_the_language() {
    let m = mail::mail(
        7,
        Kind::Monthly,
        "2026-11",
        crate::i18n::Language::TraditionalChinese,
        Format::Pdf,
        "示範工廠",
    );
    assert_eq!(m.filename, "monthly-2026-11-zh-TW.pdf");
    assert_eq!(m.content_type, "application/pdf");
    assert!(
        m.subject.contains("每月能源管理報告") && m.subject.contains("示範工廠"),
        "{}",
        m.subject
    );
}
