//! Placebo back-test: windows of the baseline period, each as long as the reporting period (at
//! most a quarter of the baseline), are left out of the baseline in turn and "verified" with
//! the same procedure (model selection included). No measure happened in them, so every window
//! called verified is a false positive; their share is the procedure's false-positive rate on
//! this data, shown beside the verdict and weighed in it.

use super::analysis::{run as verify, MvError, Request};
use super::frame::{aggregate, Raw};
use super::report::{Placebo, PlaceboWindow};
use super::verdict::NOMINAL_FALSE_POSITIVE;
use crate::i18n::Msg;

/// Most windows one back-test runs.
pub const MAX_WINDOWS: usize = 12;

impl Placebo {
    /// The finding that keeps a verdict from "verified": more than twice the nominal rate.
    pub fn finding(&self) -> Option<Msg> {
        let rate = self.false_positive_percent?;
        (rate > 200.0 * NOMINAL_FALSE_POSITIVE).then(|| {
            Msg::new("mv-why-placebo")
                .arg("verified", self.verified.to_string())
                .arg("windows", self.windows.to_string())
                .arg("rate", format!("{rate:.0}"))
                .arg("nominal", format!("{:.0}", 100.0 * NOMINAL_FALSE_POSITIVE))
        })
    }
}

/// Runs the back-test on the baseline of `req`.
pub fn run_windows(raw: &Raw, req: &Request, windows: &[(i64, i64)]) -> Vec<PlaceboWindow> {
    let one = |w: (i64, i64)| -> PlaceboWindow {
        let sub = Request {
            reporting: w,
            adjustments: Vec::new(),
            placebo: false,
            ..req.clone()
        };
        let (from, to) = (raw.zone.format(w.0), raw.zone.format(w.1));
        match verify(raw, &sub, Some(w), None) {
            Ok(r) => PlaceboWindow {
                from,
                to,
                avoided: Some(r.savings.avoided),
                uncertainty_90: r.savings.uncertainty_90,
                verified: r.savings.verified,
                status: r.savings.status.to_owned(),
                reason: r.savings.reasons.first().cloned(),
            },
            Err(e) => PlaceboWindow {
                from,
                to,
                avoided: None,
                uncertainty_90: None,
                verified: false,
                status: "error".to_owned(),
                reason: Some(e.to_string()),
            },
        }
    };
    // Windows are independent: spread them over the cores.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(windows.len().max(1));
    let chunk = windows.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = windows
            .chunks(chunk)
            .map(|ws| s.spawn(move || ws.iter().map(|w| one(*w)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// The windows: as many as fit (at most [`MAX_WINDOWS`]), evenly spread over the baseline.
pub fn run(raw: &Raw, req: &Request) -> Result<Placebo, MvError> {
    let g = req.granularity;
    let bf = aggregate(raw, g, req.baseline.0, req.baseline.1).map_err(MvError::Input)?;
    let periods = &bf.periods;
    let n = periods.len();
    let reporting_periods = ((req.reporting.1 - req.reporting.0) / g.nominal_ms()).max(1) as usize;
    let len = reporting_periods.min(n / 4).max(1);
    let k = (n / len).min(MAX_WINDOWS);
    let mut placebo = Placebo {
        windows: 0,
        verified: 0,
        false_positive_percent: None,
        nominal_percent: 100.0 * NOMINAL_FALSE_POSITIVE,
        window_periods: len,
        results: Vec::new(),
        note: None,
    };
    if n < 8 || k < 2 {
        placebo.note = Some(format!(
            "the baseline's {n} complete {}s are too few for a placebo back-test",
            g.code()
        ));
        return Ok(placebo);
    }
    let windows: Vec<(i64, i64)> = (0..k)
        .map(|i| {
            let s = i * (n - len) / (k - 1);
            (periods[s].start, periods[s + len - 1].end)
        })
        .collect();
    placebo.results = run_windows(raw, req, &windows);
    placebo.windows = placebo.results.len();
    placebo.verified = placebo.results.iter().filter(|w| w.verified).count();
    placebo.false_positive_percent = Some(100.0 * placebo.verified as f64 / placebo.windows as f64);
    if len < reporting_periods {
        placebo.note = Some(format!(
            "windows of {len} {}s (a quarter of the baseline), shorter than the reporting period",
            g.code()
        ));
    }
    Ok(placebo)
}
