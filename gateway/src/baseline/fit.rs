//! Saving a baseline: the M&V engine's data path (store quarter-hours → periods → usable
//! periods) and model selection over the baseline period, kept as a [`Record`].

use serde::Deserialize;

use super::{check_name, BaselineError, Coefficient, FitStats, ModelInfo, Record, Target};
use crate::enpi::Assets;
use crate::i18n::Msg;
use crate::mv::analysis::{usable, Request};
use crate::mv::checks::checks;
use crate::mv::frame::{aggregate, parse_range, Granularity, Zone};
use crate::mv::input::{read_store, StoreQuery};
use crate::mv::model::{Spec, TempUnit};
use crate::mv::report::finite;
use crate::mv::select::select;
use crate::store::Store;

/// What to save, as the CLI and `POST /api/v1/baselines` give it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveRequest {
    pub name: String,
    pub asset: Option<String>,
    #[serde(default)]
    pub energy: Vec<String>,
    #[serde(default)]
    pub vars: Vec<String>,
    pub temp: Option<String>,
    #[serde(default)]
    pub no_temp: bool,
    /// First and last day (both included) or RFC 3339 instants.
    pub from: String,
    pub to: String,
    /// hour, day (default), week or month.
    pub granularity: Option<String>,
    /// Force one form instead of selecting (the `mv` command's `--model`).
    pub model: Option<String>,
    /// `absolute:KWH`, `intensity:KWH_PER_UNIT` or `percent:PER_YEAR`.
    pub target: Option<String>,
    pub saved_by: Option<String>,
    /// Replace a saved baseline of the same name.
    #[serde(default)]
    pub replace: bool,
}

impl SaveRequest {
    pub(crate) fn query(&self) -> StoreQuery {
        StoreQuery {
            asset: self.asset.clone(),
            energy: self.energy.clone(),
            temp: self.temp.clone(),
            vars: self.vars.clone(),
            no_temp: self.no_temp,
        }
    }
}

/// The M&V request for a baseline period and a later one (a request needs both).
pub(crate) fn mv_request(
    g: Granularity,
    baseline: (i64, i64),
    reporting: (i64, i64),
    model: Option<Spec>,
    assets: &Assets,
) -> Request {
    Request {
        source: String::new(),
        energy_unit: "kWh".into(),
        temp_unit: TempUnit::C,
        granularity: g,
        baseline,
        reporting,
        model,
        adjustments: vec![],
        holidays: {
            let mut h = assets.holidays.clone();
            h.sort();
            h.dedup();
            h
        },
        // Tracking reports what happened: conditions outside the baseline's are warned about,
        // not refused.
        accept_extrapolation: true,
        placebo: false,
    }
}

/// Fits the baseline model over [from, to] of the store's data; `now_ms` stamps it.
pub fn fit(
    store: &Store,
    assets: &Assets,
    r: &SaveRequest,
    now_ms: i64,
) -> Result<Record, BaselineError> {
    let input = BaselineError::Input;
    // The parsers' own words stay as they are, quoted after a translated head.
    let invalid =
        |key: &str, detail: String| BaselineError::Invalid(Msg::new(key).arg("detail", detail));
    check_name(&r.name)?;
    let zone = Zone::Named(assets.timezone);
    let (from, to) = parse_range(&format!("{}..{}", r.from.trim(), r.to.trim()), zone)
        .map_err(|e| invalid("bl-err-period", e.to_string()))?;
    let g = Granularity::parse(r.granularity.as_deref().unwrap_or("day"))
        .map_err(|e| invalid("bl-err-granularity", e.to_string()))?;
    if (to - from) / g.nominal_ms() > crate::mv::MAX_PERIODS {
        return Err(BaselineError::Invalid(
            Msg::new("bl-err-too-many")
                .arg("max", crate::mv::MAX_PERIODS.to_string())
                .arg("steps", Msg::new(&format!("mv-steps-{}", g.code()))),
        ));
    }
    let spec = r
        .model
        .as_deref()
        .map(Spec::parse)
        .transpose()
        .map_err(|e| invalid("bl-err-model", e.to_string()))?;
    let target = r
        .target
        .as_deref()
        .map(Target::parse)
        .transpose()
        .map_err(|e| invalid("bl-err-target", e.to_string()))?;
    let saved_by = r.saved_by.as_deref().map(str::trim).unwrap_or("");
    if saved_by.chars().count() > 200 {
        return Err(BaselineError::Invalid(Msg::new("bl-err-saved-by")));
    }
    let (raw, source) = read_store(store, assets, &r.query(), from, to).map_err(input)?;
    let req = mv_request(g, (from, to), (to, to), spec, assets);
    let frame = aggregate(&raw, g, from, to).map_err(input)?;
    let (base, _) = usable(&frame, &raw, &req, None);
    if base.energy.is_empty() {
        return Err(BaselineError::Invalid(
            Msg::new("bl-err-no-data").arg("step", Msg::new(&format!("bl-step-{}", g.code()))),
        ));
    }
    let (model, _) = select(&base.drivers, &base.energy, spec).map_err(crate::mv::MvError::from)?;
    let o = &model.ols;
    let checks = checks(&model, g);
    let variables = raw
        .has_temp
        .then(|| "temperature".to_owned())
        .into_iter()
        .chain(raw.vars.iter().map(|v| v.name.clone()))
        .collect();
    Ok(Record {
        name: r.name.clone(),
        asset: r.asset.clone(),
        energy: r.energy.clone(),
        vars: r.vars.clone(),
        temp: r.temp.clone(),
        no_temp: r.no_temp,
        from: zone.format(from),
        to: zone.format(to),
        from_ms: from,
        to_ms: to,
        model: ModelInfo {
            form: model.spec.code(),
            granularity: g.code().into(),
            energy_unit: req.energy_unit.clone(),
            coefficients: model
                .names
                .iter()
                .zip(&o.coef)
                .map(|(n, v)| Coefficient {
                    name: n.clone(),
                    value: finite(*v),
                })
                .collect(),
            balance_points: model.balance.clone(),
            variables,
        },
        fit: FitStats {
            r2: finite(o.r2).unwrap_or(0.0),
            adj_r2: finite(o.adj_r2).unwrap_or(0.0),
            cv_rmse_percent: finite(100.0 * o.cv_rmse),
            nmbe_percent: finite(100.0 * o.nmbe),
            n: o.n,
            parameters: o.k,
            valid: checks.iter().all(|c| c.passed),
            failed_checks: checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| {
                    let v = c.value.map(|v| format!("{v:.3}")).unwrap_or("—".into());
                    format!("{}: {v} ({})", c.name, c.limit)
                })
                .collect(),
        },
        target,
        saved_by: if saved_by.is_empty() {
            "unknown".into()
        } else {
            saved_by.into()
        },
        saved_at: chrono::DateTime::from_timestamp_millis(now_ms)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        source,
    })
}
