//! A month's demand charges with several contract capacities (Taipower's 經常, 半尖峰, 週六半尖峰
//! and 離峰 contracts): the basic charge of each capacity at its kind's rate, and the charge for
//! each period's highest 15-minute demand above what that period may draw. The allowances are
//! cumulative (see `kilowatch_site::config::Contracts`); the over-contract tiers of the tariff
//! are fractions of the period's allowance, charged at the basic rate of the period's kind.
//!
//! The rule, and what of it is checked. Taipower's rate schedule (電價表, high-voltage
//! three-period rates) defines each period's excess as its highest 15-minute demand less the
//! contracts it may draw, e.g. 離峰時間超約瓩數 = 當月離峰時間用電最高需量 − (經常 + 半尖峰 +
//! 週六半尖峰 + 離峰契約容量), and charges it at twice the basic rate up to 10 % of the
//! contract and three times beyond (the schedule as quoted at notebz.com/tag/超約用電; the 2× /
//! 3× split at 10 % also in Merit Times, 2013, merit-times.com.tw unid=286352). The clause
//! saying which contract the 10 % is taken of in the half-peak, Saturday and off-peak periods
//! ("(5)各時間之超約用電，其超出部分…") was cut off in every source found. This engine takes it of
//! what the period may draw (its allowance): exactly the regular contract for peak, and each
//! period's charge then depends on its own allowance only, which the optimiser's exact
//! dynamic programme needs. Were it the regular contract alone, an off-peak excess between 10 %
//! of the regular contract and 10 % of the allowance would be 3× on the bill and 2× here.

use kilowatch_site::config::Contracts;
use serde::Serialize;

use super::tariff::{Tariff, CONTRACT_KINDS};

/// Capacities in [`CONTRACT_KINDS`] order, kW.
pub type Capacities = [f64; 4];

pub fn capacities(c: &Contracts) -> Capacities {
    [c.regular, c.half_peak, c.saturday_half_peak, c.off_peak]
}

pub fn contracts(c: &Capacities) -> Contracts {
    Contracts {
        regular: c[0],
        half_peak: c[1],
        saturday_half_peak: c[2],
        off_peak: c[3],
    }
}

/// What each kind's periods may draw: the running sum of the capacities.
pub fn allowances(c: &Capacities) -> [f64; 4] {
    let mut a = [0.0; 4];
    let mut sum = 0.0;
    for (k, cap) in c.iter().enumerate() {
        sum += cap;
        a[k] = sum;
    }
    a
}

/// One contract kind's part of the bill.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KindLine {
    pub kind: &'static str,
    pub capacity_kw: f64,
    /// What the kind's periods may draw.
    pub allowed_kw: f64,
    /// Highest 15-minute demand in the kind's periods (`None`: no such period this month).
    pub demand_kw: Option<f64>,
    pub basic_rate: f64,
    pub basic: f64,
    pub excess_kw: f64,
    pub over_contract: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MonthBill {
    pub lines: Vec<KindLine>,
    pub basic: f64,
    pub over_contract: f64,
}

/// Highest demand per contract kind from the highest demand per tariff period (in the tariff's
/// period order; `None` where the period had no quarter-hour this month).
pub fn demand_by_kind(t: &Tariff, by_period: &[Option<f64>]) -> [Option<f64>; 4] {
    let mut out = [None; 4];
    for (p, d) in by_period.iter().enumerate() {
        if let Some(d) = d {
            let k = t.period_kind(p);
            out[k] = Some(out[k].map_or(*d, |x: f64| x.max(*d)));
        }
    }
    out
}

/// The month's basic and over-contract charges in season `season`. Errors name what the tariff
/// lacks for a capacity or an excess of the bill.
pub fn month_bill(
    t: &Tariff,
    season: usize,
    caps: &Capacities,
    demand: &[Option<f64>; 4],
) -> Result<MonthBill, String> {
    let allowed = allowances(caps);
    let mut lines = Vec::with_capacity(4);
    let (mut basic, mut over) = (0.0, 0.0);
    for (k, kind) in CONTRACT_KINDS.iter().enumerate() {
        let excess = demand[k].map_or(0.0, |d| (d - allowed[k]).max(0.0));
        let rate = match t.kind_rate(k, season) {
            Some(r) => r,
            None if caps[k] == 0.0 && excess == 0.0 => 0.0,
            None => return Err(format!("the tariff has no basic.{kind} rate")),
        };
        let charge = demand[k].map_or(0.0, |d| t.over_contract_charge(d, allowed[k], rate));
        basic += caps[k] * rate;
        over += charge;
        lines.push(KindLine {
            kind,
            capacity_kw: caps[k],
            allowed_kw: allowed[k],
            demand_kw: demand[k],
            basic_rate: rate,
            basic: caps[k] * rate,
            excess_kw: excess,
            over_contract: charge,
        });
    }
    Ok(MonthBill {
        lines,
        basic,
        over_contract: over,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HV: &str = include_str!("../../../seeds/tariffs/example-hv-three-period.toml");

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-6, "{a} != {b}");
    }

    fn season(t: &Tariff, month: u32) -> usize {
        t.season(chrono::NaiveDate::from_ymd_opt(2026, month, 1).unwrap())
    }

    /// July (summer) with all four capacities, by hand:
    ///
    /// capacities regular 1000, half_peak 200, saturday_half_peak 100, off_peak 300 kW;
    /// allowances: peak 1000, half-peak 1200, Saturday 1300, off-peak 1600 kW.
    /// Summer basic rates: 236.20, 173.20, 47.20, 47.20.
    ///
    /// basic = 1000×236.20 + 200×173.20 + 100×47.20 + 300×47.20
    ///       = 236 200 + 34 640 + 4 720 + 14 160 = 289 720
    ///
    /// demand: peak 1050 → 50 kW over 1000, all within 10 % (100 kW): 50×2×236.20 = 23 620
    ///         half-peak 1350 → 150 over 1200; 10 % is 120: 120×2×173.20 + 30×3×173.20
    ///                        = 41 568 + 15 588 = 57 156
    ///         Saturday 1250 ≤ 1300: 0
    ///         off-peak 1700 → 100 over 1600 (10 % is 160): 100×2×47.20 = 9 440
    /// over-contract = 23 620 + 57 156 + 0 + 9 440 = 90 216
    #[test]
    fn hand_computed_bill_with_four_capacities() {
        let t = Tariff::parse(HV).unwrap();
        let caps = [1000.0, 200.0, 100.0, 300.0];
        let names = t.period_names();
        let by_period: Vec<Option<f64>> = names
            .iter()
            .map(|p| match *p {
                "peak" => Some(1050.0),
                "half_peak" => Some(1350.0),
                "saturday_half_peak" => Some(1250.0),
                _ => Some(1700.0),
            })
            .collect();
        let demand = demand_by_kind(&t, &by_period);
        assert_eq!(
            demand,
            [Some(1050.0), Some(1350.0), Some(1250.0), Some(1700.0)]
        );
        let b = month_bill(&t, season(&t, 7), &caps, &demand).unwrap();
        close(b.basic, 289_720.0);
        close(b.over_contract, 90_216.0);
        let excess: Vec<f64> = b.lines.iter().map(|l| l.excess_kw).collect();
        assert_eq!(excess, [50.0, 150.0, 0.0, 100.0]);
        close(b.lines[1].over_contract, 57_156.0);
        assert_eq!(b.lines[2].allowed_kw, 1300.0);
    }

    /// A single contract is regular only: every period may draw it, and an off-peak excess is
    /// charged at the off-peak rate (non-summer: 33.30). 500 kW, off-peak 530 kW:
    /// basic 500×173.20 = 86 600; over 30×2×33.30 = 1 998. Peak has no hours in non-summer.
    #[test]
    fn a_single_contract_is_regular_only() {
        let t = Tariff::parse(HV).unwrap();
        let caps = capacities(&Contracts::regular_only(500.0));
        let demand = [None, Some(480.0), Some(400.0), Some(530.0)];
        let b = month_bill(&t, season(&t, 1), &caps, &demand).unwrap();
        close(b.basic, 86_600.0);
        close(b.over_contract, 1_998.0);
        assert_eq!(allowances(&caps), [500.0; 4]);
    }

    #[test]
    fn a_capacity_without_its_rate_is_an_error() {
        let lv = include_str!("../../../seeds/tariffs/example-lv-two-period.toml");
        let t = Tariff::parse(lv).unwrap();
        let e = month_bill(&t, 0, &[100.0, 50.0, 0.0, 0.0], &[Some(90.0); 4]).unwrap_err();
        assert_eq!(e, "the tariff has no basic.half_peak rate");
        // Zero capacity of a kind the tariff lacks is no charge.
        month_bill(
            &t,
            0,
            &[100.0, 0.0, 0.0, 20.0],
            &[Some(90.0), None, None, Some(110.0)],
        )
        .unwrap();
    }
}
