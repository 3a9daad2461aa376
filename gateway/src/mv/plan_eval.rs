//! Evaluates M&V plans on the store: for every completed billing month, the engine's savings
//! for the month and for the contract year to date, stored in `mv_results` with the
//! fingerprint of the plan and of the data they came from, so only what changed is redone.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::plan::{fnv, Plan};
use crate::enpi::assets::{AssetSpec, Assets};
use crate::i18n::Msg;
use crate::store::{MvResultRow, Store, StoreError};

/// Bumped when what is stored per period changes: every result is then recomputed.
pub const RESULT_VERSION: &str = "kilowatch-mv-plan/1";

/// The engine's answer for one reporting period, as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PeriodResult {
    /// Dates [from, to) in the plant's zone.
    pub from: String,
    pub to: String,
    pub actual: f64,
    pub adjusted_baseline: Option<f64>,
    /// Savings (avoided energy), kWh.
    pub avoided: f64,
    pub percent: Option<f64>,
    pub uncertainty_68: Option<f64>,
    pub uncertainty_90: Option<f64>,
    /// Degrees of freedom of the baseline model (n − p), for the standard error.
    pub df: Option<f64>,
    pub verified: bool,
    /// In English; `verdict_message` for any language (absent from results stored before
    /// messages were).
    pub verdict: String,
    pub verdict_message: Option<Msg>,
    pub model: String,
    pub model_valid: bool,
    /// The report's priced savings (`priced.total`) and currency, where it has them.
    pub priced_total: Option<f64>,
    pub currency: Option<String>,
    pub warnings: Vec<String>,
    pub warning_messages: Vec<Msg>,
    /// Why the engine gave no result (no data, no model), instead of the figures.
    pub error: Option<String>,
}

impl PeriodResult {
    fn from_report(r: &super::Report) -> Self {
        // `priced` is optional in the report: read it by name, so its absence costs nothing.
        let value = serde_json::to_value(r).unwrap_or_default();
        let priced = value.get("priced");
        Self {
            actual: r.reporting.actual,
            adjusted_baseline: r.reporting.adjusted_baseline,
            avoided: r.savings.avoided,
            percent: r.savings.percent,
            uncertainty_68: r.savings.uncertainty_68,
            uncertainty_90: r.savings.uncertainty_90,
            df: (r.model.n > r.model.parameters).then(|| (r.model.n - r.model.parameters) as f64),
            verified: r.savings.verified,
            verdict: r.savings.verdict.clone(),
            verdict_message: Some(r.savings.verdict_message.clone()),
            model: r.model.form.to_owned(),
            model_valid: r.model.valid,
            priced_total: priced
                .and_then(|p| p.get("total"))
                .and_then(serde_json::Value::as_f64),
            currency: priced
                .and_then(|p| p.get("currency"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
            warnings: r.warnings.clone(),
            warning_messages: r.warning_messages.clone(),
            ..Self::default()
        }
    }
}

/// What one evaluation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub computed: usize,
    pub reused: usize,
    /// Periods left for a later call (the budget ran out).
    pub pending: usize,
}

impl Outcome {
    pub fn add(&mut self, o: Outcome) {
        self.computed += o.computed;
        self.reused += o.reused;
        self.pending += o.pending;
    }
}

/// The reporting periods of the completed billing months by `now`: each month, and its
/// contract year to date (the same period for a year's first month).
pub fn due_periods(plan: &Plan, now: i64) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for s in plan.segments() {
        if plan.instant(s.to) > now {
            break;
        }
        let year_start = plan.year_dates(s.year).0;
        for p in [(s.from, s.to), (year_start, s.to)] {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// Devices whose data the plan reads: its meters or asset's meters, drivers, temperatures.
fn devices(plan: &Plan, assets: &Assets, store: &Store) -> Result<Vec<String>, StoreError> {
    let q = &plan.query;
    let mut d = q.energy.clone();
    if let Some((_, spec)) = q.asset.as_deref().and_then(|a| assets.get(a)) {
        match spec {
            AssetSpec::Compressor(c) => {
                d.extend(c.power.iter().cloned());
                d.extend(c.production.iter().map(|p| p.device.clone()));
            }
            AssetSpec::Chiller(c) => {
                d.extend(c.power.iter().cloned());
                d.extend(c.auxiliaries.iter().cloned());
            }
            AssetSpec::Plant(p) => {
                d.extend(p.power.iter().cloned());
                d.extend(p.production.iter().map(|p| p.device.clone()));
            }
            AssetSpec::Utility(u) => d.extend(u.power()),
        }
    }
    let series_device = |s: &String| s.split_once('/').map(|(d, _)| d.to_owned());
    d.extend(q.vars.iter().filter_map(series_device));
    d.extend(q.temp.iter().filter_map(series_device));
    if q.temp.is_none() && !q.no_temp {
        // The engine finds the site's outdoor temperature by itself.
        d.extend(
            store
                .series()?
                .into_iter()
                .filter(|s| s.site == assets.site && s.quantity == "outdoor_temp")
                .map(|s| s.device),
        );
    }
    d.sort();
    d.dedup();
    Ok(d)
}

/// Runs the engine for one reporting period [from, to).
pub fn evaluate_period(
    store: &Store,
    assets: &Assets,
    plan: &Plan,
    from: NaiveDate,
    to: NaiveDate,
) -> PeriodResult {
    let last = to - Duration::days(1);
    let options = super::Options {
        baseline: plan.baseline_text.clone(),
        reporting: format!("{from}..{last}"),
        granularity: plan.granularity.clone(),
        model: plan.model.clone(),
        adjust: plan.adjustments.clone(),
        ..super::Options::default()
    };
    let mut r = match super::from_store(store, assets, &plan.query, &options) {
        Ok(report) => PeriodResult::from_report(&report),
        Err(e) => {
            let m = Msg::new("plan-no-result").arg("error", e.to_string());
            PeriodResult {
                verdict: m.en(),
                verdict_message: Some(m),
                error: Some(e.to_string()),
                ..PeriodResult::default()
            }
        }
    };
    r.from = from.to_string();
    r.to = to.to_string();
    r
}

/// The results of one plan's completed months not yet stored with the current fingerprint,
/// at most `budget` periods computed; read only, the rows are for `Store::put_mv_results`.
pub fn compute(
    store: &Store,
    assets: &Assets,
    plan: &Plan,
    now: i64,
    budget: usize,
) -> Result<(Vec<MvResultRow>, Outcome), StoreError> {
    let due = due_periods(plan, now);
    let mut out = Outcome::default();
    let mut rows = Vec::new();
    if due.is_empty() {
        return Ok((rows, out));
    }
    let stored = store.mv_results(&plan.id)?;
    let devices = devices(plan, assets, store)?;
    let base = store.rollup_digest(&assets.site, &devices, plan.baseline.0, plan.baseline.1)?;
    for (from, to) in due {
        let (a, b) = (plan.instant(from), plan.instant(to));
        let data = store.rollup_digest(&assets.site, &devices, a, b)?;
        let fp = fnv(&format!(
            "{RESULT_VERSION}|{}|{base}|{data}",
            plan.fingerprint
        ));
        let same = stored
            .iter()
            .any(|r| r.period_from == a && r.period_to == b && r.fingerprint == fp);
        if same {
            out.reused += 1;
            continue;
        }
        if out.computed >= budget {
            out.pending += 1;
            continue;
        }
        let result = evaluate_period(store, assets, plan, from, to);
        rows.push(MvResultRow {
            plan_id: plan.id.clone(),
            period_from: a,
            period_to: b,
            computed_at: chrono::Utc::now().timestamp_millis(),
            fingerprint: fp,
            json: serde_json::to_string(&result).unwrap_or_default(),
        });
        out.computed += 1;
    }
    Ok((rows, out))
}

/// [`compute`] and store the results on the same connection (one-shot commands).
pub fn evaluate(
    store: &mut Store,
    assets: &Assets,
    plan: &Plan,
    now: i64,
    budget: usize,
) -> Result<Outcome, StoreError> {
    let (rows, out) = compute(store, assets, plan, now, budget)?;
    if !rows.is_empty() {
        store.put_mv_results(&rows)?;
    }
    Ok(out)
}

/// The periods every configured plan has: stored results of any other are deleted.
pub fn retained(assets: &Assets) -> Vec<(String, Vec<(i64, i64)>)> {
    assets
        .plans
        .iter()
        .map(|p| {
            let periods = due_periods(p, i64::MAX)
                .into_iter()
                .map(|(a, b)| (p.instant(a), p.instant(b)))
                .collect();
            (p.id.clone(), periods)
        })
        .collect()
}

/// Evaluates every plan of the site (at most `budget` periods in all) and deletes results of
/// plans or periods no longer configured, on one connection (one-shot commands; the service
/// splits the same steps between a read-only connection and the writer).
pub fn refresh(
    store: &mut Store,
    assets: &Assets,
    now: i64,
    budget: usize,
) -> Result<Outcome, StoreError> {
    store.retain_mv_results(&retained(assets))?;
    let mut total = Outcome::default();
    for plan in &assets.plans {
        let o = evaluate(
            store,
            assets,
            plan,
            now,
            budget.saturating_sub(total.computed),
        )?;
        total.add(o);
    }
    Ok(total)
}
