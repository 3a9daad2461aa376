//! Billing-period M&V on synthetic bills with a known degree-day law.

use chrono::{Datelike, NaiveDate};

use super::billing::{analyse_bills, BillRequest};
use super::billing_input::{Bill, Bills, DailyTemps};
use super::billing_model::BillForm;
use super::frame::Zone;
use super::model::TempUnit;
use crate::sim::rng::Rng;

const ZONE: Zone = Zone::Named(chrono_tz::UTC);

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn ms(d: NaiveDate) -> i64 {
    ZONE.instant(d.and_time(Default::default()))
}

/// Two years of daily temperatures (°C) and monthly bills: 200 kWh/day plus 8 kWh per heating
/// degree day below 15 °C and 6 per cooling degree day above 22 °C, with daily noise; the
/// second year uses `1 − saving` of that.
fn synthetic(saving: f64, noise: f64, seed: u64) -> (Bills, DailyTemps, f64) {
    let mut rng = Rng::new(seed);
    let mut temps = DailyTemps::new();
    let mut bills = Vec::new();
    let mut true_saved = 0.0;
    let mut month_start = day(2024, 1, 1);
    let mut usage = 0.0;
    for d in day(2024, 1, 1)
        .iter_days()
        .take_while(|d| *d < day(2026, 1, 1))
    {
        let season = (std::f64::consts::TAU * (d.ordinal() as f64 - 200.0) / 365.0).cos();
        let t = 18.0 + 12.0 * season + 3.0 * rng.gauss();
        temps.insert(d, t);
        let law = 200.0 + 8.0 * (15.0 - t).max(0.0) + 6.0 * (t - 22.0).max(0.0);
        let used = law + noise * rng.gauss();
        if d.year() == 2025 {
            usage += used * (1.0 - saving);
            true_saved += used * saving;
        } else {
            usage += used;
        }
        let next = d.succ_opt().unwrap();
        if next.day() == 1 {
            bills.push(Bill {
                from: ms(month_start),
                to: ms(next),
                usage,
            });
            month_start = next;
            usage = 0.0;
        }
    }
    let b = Bills {
        zone: ZONE,
        bills,
        source: "synthetic".into(),
    };
    (b, temps, true_saved)
}

fn request(model: Option<BillForm>) -> BillRequest {
    BillRequest {
        energy_unit: "kWh".into(),
        temp_unit: TempUnit::C,
        baseline: (ms(day(2024, 1, 1)), ms(day(2025, 1, 1))),
        reporting: (ms(day(2025, 1, 1)), ms(day(2026, 1, 1))),
        model,
    }
}

#[test]
fn the_degree_day_law_and_the_savings_are_recovered() {
    let (bills, temps, truth) = synthetic(0.15, 20.0, 5);
    let r = analyse_bills(&bills, &temps, &request(None), "s".into()).unwrap();
    assert_eq!(
        r.model.form, "caltrack-hdd-cdd",
        "{:#?}",
        r.model.candidates
    );
    // Monthly averages blur the deadband: twelve bills do not pin the balance points down
    // (CalTRACK accepts any qualifying pair), but they lie around the law's 15–22 °C.
    let (h, c) = (r.model.balance_points[0], r.model.balance_points[1]);
    assert!(h <= c && h > 10.0 && c < 25.0, "{h} {c}");
    let coef = |k: &str| {
        r.model
            .coefficients
            .0
            .iter()
            .find(|(n, _)| n == k)
            .unwrap()
            .1
            .unwrap()
    };
    assert!(
        coef("hdd") > 4.0 && coef("cdd") > 3.0,
        "{:?}",
        r.model.coefficients
    );
    assert!(r.model.p_values.0[1..]
        .iter()
        .all(|(_, p)| p.unwrap() < 0.1));
    assert_eq!(r.model.n, 12);
    assert_eq!(r.model.parameters, 5);
    assert!(r.model.r2 > 0.98, "{}", r.model.r2);
    let s = &r.savings;
    let u90 = s.uncertainty_90.unwrap();
    assert!(
        (s.avoided - truth).abs() < u90,
        "{} vs {truth} ± {u90}",
        s.avoided
    );
    assert!(
        (s.avoided - truth).abs() / truth < 0.05,
        "{} vs {truth}",
        s.avoided
    );
    assert!(s.verified, "{}", s.verdict);
    assert!(s.verdict.starts_with("savings verified: "));
    assert_eq!(r.bills.len(), 24);
    assert!(r.bills.iter().all(|b| b.used && b.modelled.is_some()));
    // The JSON carries the schema and granularity.
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["schema"], "kilowatch-mv-billing/1");
    assert_eq!(j["granularity"], "bill");
}

#[test]
fn no_savings_is_not_verified() {
    let (bills, temps, _) = synthetic(0.0, 20.0, 9);
    let r = analyse_bills(&bills, &temps, &request(None), "s".into()).unwrap();
    let s = &r.savings;
    assert!(!s.verified, "{}", s.verdict);
    assert!(
        s.avoided.abs() <= s.uncertainty_90.unwrap(),
        "{}",
        s.verdict
    );
}

#[test]
fn the_mean_model_weights_bills_by_their_days() {
    // A 31-day and a 28-day bill: the weighted mean usage per day is total over days, not the
    // mean of the two rates.
    let (bills, temps, _) = synthetic(0.0, 0.0, 1);
    let r = analyse_bills(
        &bills,
        &temps,
        &request(Some(BillForm::parse("mean").unwrap())),
        "s".into(),
    )
    .unwrap();
    let base: Vec<_> = r.bills.iter().filter(|b| !b.reporting).collect();
    let per_day =
        base.iter().map(|b| b.usage).sum::<f64>() / base.iter().map(|b| b.days as f64).sum::<f64>();
    let b0 = r.model.coefficients.0[0].1.unwrap();
    assert!((b0 - per_day).abs() < 1e-9, "{b0} vs {per_day}");
    let rate_mean = base.iter().map(|b| b.usage_per_day).sum::<f64>() / base.len() as f64;
    assert!(
        (b0 - rate_mean).abs() > 1e-3,
        "the weighting makes a difference here"
    );
    // Without temperature only the mean qualifies.
    let r = analyse_bills(&bills, &DailyTemps::new(), &request(None), "s".into()).unwrap();
    assert_eq!(r.model.form, "mean");
    assert!(r.model.candidates.iter().filter(|c| !c.qualified).count() == 3);
}

#[test]
fn odd_periods_are_flagged_and_straddling_bills_left_out() {
    let (mut bills, temps, _) = synthetic(0.1, 20.0, 3);
    // Merge Feb and Mar 2024 into one 60-day bill, and Dec 2024 with Jan 2025 across the
    // boundary.
    let feb = bills.bills.remove(1);
    bills.bills[1].from = feb.from;
    bills.bills[1].usage += feb.usage;
    let dec = bills.bills.remove(10);
    bills.bills[10].from = dec.from;
    bills.bills[10].usage += dec.usage;
    let r = analyse_bills(&bills, &temps, &request(None), "s".into()).unwrap();
    assert_eq!(r.baseline.expected, 10);
    assert_eq!(r.baseline.n, 9, "the 60-day bill leaves the fit");
    assert_eq!(r.reporting.n, 11);
    let w = r.warnings.join("\n");
    assert!(
        w.contains("60 days: outside CalTRACK's 25–35 (left out)"),
        "{w}"
    );
    assert!(w.contains("1 bill(s) span a boundary"), "{w}");
    assert!(w.contains("the baseline has 9 bills"), "{w}");
    // A period without enough temperature days.
    let mut thin = temps.clone();
    thin.retain(|d, _| !(d.year() == 2024 && d.month() == 5 && d.day() > 5));
    let r = analyse_bills(&bills, &thin, &request(None), "s".into()).unwrap();
    assert_eq!(r.baseline.n, 8);
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("temperature on 5 of 31 days")));
    // Overlapping ranges are an input error.
    let mut req = request(None);
    req.reporting.0 = req.baseline.1 - 1;
    assert!(analyse_bills(&bills, &temps, &req, "s".into()).is_err());
}
