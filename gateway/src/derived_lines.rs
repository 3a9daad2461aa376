//! InfluxDB line protocol for what the gateway derives from the readings: EnPI rows
//! (measurement `enpi`), alarm transitions (`alarm`) and M&V plan results (`savings`). Each
//! point's timestamp and tags name the row it comes from, so writing it again (a refreshed
//! partial hour, a recomputed month) overwrites the point in InfluxDB rather than adding one.

use std::fmt::Write as _;

use crate::enpi::facts::Facts;
use crate::enpi::facts::StoredFacts;
use crate::enpi::{self, Assets, Step};
use crate::line_protocol::{esc_measurement, esc_tag};
use crate::mv::plan_eval::PeriodResult;
use crate::store::{AlarmRow, MvResultRow};

/// One line under construction: fields are added one by one; a line that got none is
/// taken back (InfluxDB refuses a line without fields).
struct Line<'a> {
    out: &'a mut String,
    start: usize,
    fields: usize,
}

impl<'a> Line<'a> {
    /// Starts `measurement,tags`; tags with an empty value are left out (InfluxDB refuses them).
    fn new(out: &'a mut String, measurement: &str, tags: &[(&str, &str)]) -> Self {
        let start = out.len();
        esc_measurement(measurement, out);
        for (k, v) in tags.iter().filter(|(_, v)| !v.is_empty()) {
            out.push(',');
            esc_tag(k, out);
            out.push('=');
            esc_tag(v, out);
        }
        Self {
            out,
            start,
            fields: 0,
        }
    }

    fn key(&mut self, key: &str) {
        self.out.push(if self.fields == 0 { ' ' } else { ',' });
        esc_tag(key, self.out);
        self.out.push('=');
        self.fields += 1;
    }

    /// A float field; a value that is not finite has no line-protocol form and is left out.
    fn float(&mut self, key: &str, v: f64) {
        if v.is_finite() {
            self.key(key);
            let _ = write!(self.out, "{v:?}");
        }
    }

    fn int(&mut self, key: &str, v: i64) {
        self.key(key);
        let _ = write!(self.out, "{v}i");
    }

    fn boolean(&mut self, key: &str, v: bool) {
        self.key(key);
        self.out.push_str(if v { "true" } else { "false" });
    }

    fn string(&mut self, key: &str, v: &str) {
        self.key(key);
        self.out.push('"');
        for c in v.chars() {
            match c {
                '"' | '\\' => {
                    self.out.push('\\');
                    self.out.push(c);
                }
                // A line ends at a newline, even inside a string field.
                '\n' | '\r' => self.out.push(' '),
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    /// Ends the line at `ts_ms`; returns whether it was kept.
    fn finish(self, ts_ms: i64) -> bool {
        if self.fields == 0 {
            self.out.truncate(self.start);
            return false;
        }
        let _ = writeln!(self.out, " {ts_ms}");
        true
    }
}

/// The `enpi` point of one stored EnPI row of asset `idx`: tags site, asset, type, step;
/// one field per indicator with a value, and `partial`; timestamp = the bucket's start.
pub fn enpi_line(
    assets: &Assets,
    idx: usize,
    (step, bucket, partial, facts): (&str, i64, bool, &str),
    out: &mut String,
) -> bool {
    let (Some(spec), Ok(step_v)) = (assets.list.get(idx), Step::parse(step)) else {
        return false;
    };
    let stored: StoredFacts = serde_json::from_str(facts).unwrap_or_default();
    let f = Facts::from(&stored);
    let values = enpi::indicators_of(assets, idx, step_v, bucket, &f);
    let mut line = Line::new(
        out,
        "enpi",
        &[
            ("site", assets.site.as_str()),
            ("asset", spec.id()),
            ("type", spec.kind()),
            ("step", step),
        ],
    );
    line.boolean("partial", partial);
    for (name, v) in values {
        if let Ok(x) = v {
            line.float(name, x);
        }
    }
    line.finish(bucket)
}

/// The `alarm` point of one transition: tags site, alarm, rule, severity, subject, state;
/// fields occurrence, active (1 raised or acknowledged, 0 cleared), quiet, message;
/// timestamp = when it entered that state.
pub fn alarm_line(site: &str, a: &AlarmRow, out: &mut String) -> bool {
    let at = match a.state.as_str() {
        "acked" => a.acked_at,
        "cleared" => a.cleared_at,
        _ => Some(a.raised_at),
    };
    let Some(at) = at else {
        return false;
    };
    let mut line = Line::new(
        out,
        "alarm",
        &[
            ("site", site),
            ("alarm", &a.id),
            ("rule", &a.rule),
            ("severity", &a.severity),
            ("subject", &a.subject),
            ("state", &a.state),
        ],
    );
    line.int("occurrence", a.occurrence);
    line.int("active", i64::from(a.state != "cleared"));
    line.boolean("quiet", a.quiet);
    line.string("message", &a.message);
    line.finish(at.timestamp_millis())
}

/// The `savings` point of one M&V plan result: tags site, plan, period (`month` for one
/// billing month, `to_date` for the contract year so far) and from (the period's first day);
/// fields the savings, their uncertainty and the figures behind them; timestamp = the
/// period's end. A period the engine gave no result for has no point.
pub fn savings_line(site: &str, r: &MvResultRow, out: &mut String) -> bool {
    let Ok(p) = serde_json::from_str::<PeriodResult>(&r.json) else {
        return false;
    };
    if p.error.is_some() {
        return false;
    }
    let one_month = match (
        chrono::NaiveDate::parse_from_str(&p.from, "%Y-%m-%d"),
        chrono::NaiveDate::parse_from_str(&p.to, "%Y-%m-%d"),
    ) {
        (Ok(a), Ok(b)) => a.checked_add_months(chrono::Months::new(1)) == Some(b),
        _ => false,
    };
    let mut line = Line::new(
        out,
        "savings",
        &[
            ("site", site),
            ("plan", &r.plan_id),
            ("period", if one_month { "month" } else { "to_date" }),
            ("from", &p.from),
        ],
    );
    line.float("avoided_kwh", p.avoided);
    line.float("actual_kwh", p.actual);
    for (k, v) in [
        ("adjusted_baseline_kwh", p.adjusted_baseline),
        ("percent", p.percent),
        ("uncertainty_68", p.uncertainty_68),
        ("uncertainty_90", p.uncertainty_90),
        ("priced_total", p.priced_total),
    ] {
        if let Some(v) = v {
            line.float(k, v);
        }
    }
    line.boolean("verified", p.verified);
    line.boolean("model_valid", p.model_valid);
    line.string("verdict", &p.verdict);
    line.finish(r.period_to)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kilowatch_site::config::SiteConfig;
    use kilowatch_site::profile::ProfileLibrary;

    use super::*;
    use crate::enpi::facts::F;
    use crate::store::{NewAlarm, Store, StoreSettings};

    fn store(name: &str) -> Store {
        let dir = std::env::temp_dir().join(format!("kw-derived-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Store::open(&dir.join("d.db"))
            .unwrap()
            .with_settings(StoreSettings {
                site: "plant one".into(),
                influx: true,
                ..StoreSettings::default()
            })
    }

    fn outbox(s: &Store) -> String {
        s.outbox_batch(100_000)
            .unwrap()
            .map(|(_, l)| l)
            .unwrap_or_default()
    }

    #[test]
    fn enpi_rows_go_out_when_new_or_changed_with_the_api_values() {
        let config =
            SiteConfig::parse(crate::DEMO_SITE, "demo", &ProfileLibrary::builtin()).unwrap();
        let assets = Arc::new(Assets::from_site(&config, "demo").unwrap());
        let idx = assets.get("chiller").map(|(i, _)| i).unwrap();
        let mut f = Facts::quarter();
        f.set(F::KWH, Ok(17.5));
        f.set(F::TRH, Ok(25.0));
        let json = serde_json::to_string(&StoredFacts::from(&f)).unwrap();
        let rows = [("15m", 1_790_000_100_000i64, false, json.clone())];
        let a = assets.clone();
        let line =
            move |row: (&str, i64, bool, &str), out: &mut String| enpi_line(&a, idx, row, out);
        let mut s = store("enpi");
        assert_eq!(s.put_enpi_lines("chiller", &rows, Some(&line)).unwrap(), 1);
        // The same row again: nothing new to send.
        assert_eq!(s.put_enpi_lines("chiller", &rows, Some(&line)).unwrap(), 0);
        let lines = outbox(&s);
        assert_eq!(lines.lines().count(), 1, "{lines}");
        let l = lines.lines().next().unwrap();
        assert!(
            l.starts_with(
                "enpi,site=demo-plant,asset=chiller,type=chiller,step=15m partial=false,"
            ),
            "{l}"
        );
        assert!(l.ends_with(" 1790000100000"), "{l}");
        // Each value as the API computes it from the stored row.
        let v = crate::enpi::split(crate::enpi::indicators_of(
            &assets,
            idx,
            Step::Quarter,
            rows[0].1,
            &f,
        ));
        assert_eq!(v.values["kw_per_tr"], 0.7);
        for (k, x) in &v.values {
            assert!(l.contains(&format!(",{k}={x:?}")), "{k} missing in {l}");
        }
        // A changed row is sent again, with the same tags and timestamp (it overwrites).
        f.set(F::KWH, Ok(20.0));
        let json2 = serde_json::to_string(&StoredFacts::from(&f)).unwrap();
        let rows2 = [("15m", 1_790_000_100_000i64, false, json2)];
        assert_eq!(s.put_enpi_lines("chiller", &rows2, Some(&line)).unwrap(), 1);
        assert!(outbox(&s).contains(",kw_per_tr=0.8,"));
    }

    #[test]
    fn alarm_transitions_and_savings_are_queued_with_their_rows() {
        let mut s = store("alarm");
        let none = &|_: &rusqlite::Transaction<'_>, _: &AlarmRow| Ok(());
        let raised = s
            .raise_alarm(
                &NewAlarm {
                    alarm: "demand".into(),
                    rule: "demand".into(),
                    severity: "critical".into(),
                    subject: "plant".into(),
                    raised_at: 1_790_000_000_000,
                    quiet: false,
                    message: "demand \"high\"\nnow".into(),
                    message_key: None,
                    evidence: serde_json::json!({}),
                    link: String::new(),
                },
                none,
            )
            .unwrap()
            .unwrap();
        s.clear_alarm(
            raised.occurrence,
            (1_790_000_060_000, &serde_json::json!({})),
            none,
        )
        .unwrap();
        let lines = outbox(&s);
        let l: Vec<&str> = lines.lines().collect();
        assert_eq!(l.len(), 2, "{lines}");
        assert_eq!(
            l[0],
            "alarm,site=plant\\ one,alarm=demand,rule=demand,severity=critical,subject=plant,state=raised \
             occurrence=1i,active=1i,quiet=false,message=\"demand \\\"high\\\" now\" 1790000000000"
        );
        assert!(l[1].contains("state=cleared") && l[1].contains("active=0i"));
        assert!(l[1].ends_with(" 1790000060000"), "{}", l[1]);

        let result = PeriodResult {
            from: "2026-10-01".into(),
            to: "2026-11-01".into(),
            actual: 900.0,
            adjusted_baseline: Some(1000.0),
            avoided: 100.0,
            percent: Some(10.0),
            uncertainty_68: Some(12.5),
            verified: true,
            verdict: "ok".into(),
            ..PeriodResult::default()
        };
        let row = MvResultRow {
            plan_id: "vsd".into(),
            period_from: 1,
            period_to: 2_000,
            computed_at: 0,
            fingerprint: String::new(),
            json: serde_json::to_string(&result).unwrap(),
        };
        let failed = MvResultRow {
            json: serde_json::to_string(&PeriodResult {
                error: Some("no data".into()),
                ..PeriodResult::default()
            })
            .unwrap(),
            ..row.clone()
        };
        s.put_mv_results(&[row, failed]).unwrap();
        let lines = outbox(&s);
        let last = lines.lines().last().unwrap();
        assert_eq!(
            last,
            "savings,site=plant\\ one,plan=vsd,period=month,from=2026-10-01 avoided_kwh=100.0,\
             actual_kwh=900.0,adjusted_baseline_kwh=1000.0,percent=10.0,uncertainty_68=12.5,\
             verified=true,model_valid=false,verdict=\"ok\" 2000"
        );
        assert_eq!(
            lines.lines().count(),
            3,
            "a result without figures has no point"
        );
    }
}
