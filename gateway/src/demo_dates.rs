//! The demo plant's dated events, its retrofits and the savings plan on them, are written in
//! seeds/demo-site.toml as seen on `[plant] dates_as_of`. The demo moves them forward by whole
//! weeks to today, so they stay as far in the past as written, keep their weekdays (a baseline
//! still starts on the same day type), and `demo --history` always holds a real, verifiable
//! retrofit instead of one that aged out of the window.

use chrono::{Duration, NaiveDate};
use kilowatch_site::config::SiteConfig;
use toml::Value;

/// Moves the plant's retrofit dates and every `[[mv_plans]]` date by the whole weeks between
/// `[plant] dates_as_of` and `today` (plant-local). Returns the days moved (0 without
/// `dates_as_of`). Dates that do not parse are left for the usual checks to report.
pub fn move_to(config: &mut SiteConfig, today: NaiveDate) -> i64 {
    let Some(as_of) = config
        .plant
        .as_ref()
        .and_then(|p| p.get("dates_as_of"))
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<NaiveDate>().ok())
    else {
        return 0;
    };
    let days = (today - as_of).num_days().div_euclid(7) * 7;
    if days == 0 {
        return 0;
    }
    let by = Duration::days(days);
    if let Some(plant) = config.plant.as_mut() {
        for event in [
            "leak_repair",
            "chiller_retrofit",
            "pump_vfd",
            "boiler_o2_trim",
            "fan_vfd",
        ] {
            if let Some(Value::Table(t)) = plant.get_mut(event) {
                shift_key(t, "date", by);
            }
        }
        plant.insert(
            "dates_as_of".into(),
            Value::String((as_of + by).to_string()),
        );
    }
    for plan in &mut config.mv_plans {
        shift_key(plan, "reporting_start", by);
        if let Some(Value::String(range)) = plan.get_mut("baseline") {
            if let Some((a, b)) = range.split_once("..") {
                if let (Some(a), Some(b)) = (shift(a, by), shift(b, by)) {
                    *range = format!("{a}..{b}");
                }
            }
        }
    }
    days
}

fn shift(text: &str, by: Duration) -> Option<String> {
    let d: NaiveDate = text.trim().parse().ok()?;
    Some((d + by).to_string())
}

fn shift_key(table: &mut toml::Table, key: &str, by: Duration) {
    if let Some(Value::String(s)) = table.get_mut(key) {
        if let Some(moved) = shift(s, by) {
            *s = moved;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;
    use kilowatch_site::profile::ProfileLibrary;

    fn demo() -> SiteConfig {
        SiteConfig::parse(crate::DEMO_SITE, "demo", &ProfileLibrary::builtin()).unwrap()
    }

    fn date(c: &SiteConfig, event: &str) -> String {
        c.plant.as_ref().unwrap()[event]["date"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn retrofits_and_plans_move_by_whole_weeks_and_keep_their_distance_from_today() {
        let mut c = demo();
        let as_of: NaiveDate = c.plant.as_ref().unwrap()["dates_as_of"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let retrofit: NaiveDate = date(&c, "chiller_retrofit").parse().unwrap();
        let before = (as_of - retrofit).num_days();
        // 400 days later (57 weeks and a day): moved 399 days.
        let today = as_of + Duration::days(400);
        assert_eq!(move_to(&mut c, today), 399);
        let moved: NaiveDate = date(&c, "chiller_retrofit").parse().unwrap();
        assert_eq!(moved - retrofit, Duration::days(399));
        assert_eq!(moved.weekday(), retrofit.weekday());
        assert!((today - moved).num_days() - before < 7);
        let plan = &c.mv_plans[0];
        assert_eq!(
            plan["reporting_start"].as_str(),
            Some(moved.to_string().as_str())
        );
        let (a, b) = plan["baseline"].as_str().unwrap().split_once("..").unwrap();
        let (a, b): (NaiveDate, NaiveDate) = (a.parse().unwrap(), b.parse().unwrap());
        assert_eq!(
            b + Duration::days(1),
            moved,
            "the baseline ends the day before"
        );
        assert_eq!((b - a).num_days(), 364);
        // The moved file still reads as a plan and a plant.
        let text = toml::to_string(&c.mv_plans[0]).unwrap();
        assert!(text.contains(&moved.to_string()), "{text}");
        assert!(crate::sim::plant_settings(&c, "demo").is_ok());
    }

    #[test]
    fn the_week_the_file_was_written_moves_nothing() {
        let mut c = demo();
        let as_of: NaiveDate = c.plant.as_ref().unwrap()["dates_as_of"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let before = date(&c, "leak_repair");
        assert_eq!(move_to(&mut c, as_of + Duration::days(6)), 0);
        assert_eq!(date(&c, "leak_repair"), before);
        // A clock set before the file's date moves back.
        assert_eq!(move_to(&mut c, as_of - Duration::days(1)), -7);
    }
}
