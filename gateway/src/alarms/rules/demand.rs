//! Demand: the 15-minute window's projected average power against the contract capacity.
//!
//! Each incomer's power is integrated over the window as readings arrive (each reading's
//! power held until the next one). The projection assumes the latest power holds to the end
//! of the window:
//!
//! `projected_kw = (kWh so far + latest kW × hours left) / 0.25 h`
//!
//! When the window's first reading came after its start (the gateway or the meter started
//! mid-window), the unseen part is unknown like the rest of the window, and is counted the
//! same way: at the latest power. (Counted at the first reading's power, one reading taken
//! just before a load change would stand for minutes it never saw, and hide the change until
//! the next window.) The evidence then gives `observed_from`.
//!
//! The contract is that of the tariff period the window falls in ([`WindowContract`]): with
//! several contracted capacities (`[site.contracts]`) an off-peak window may draw more than a
//! peak one. Without a tariff the periods are unknown and the regular contract holds.
//!
//! The warn level is `contract_kw × warn_at`. Evidence gives `over_kw = projected − warn` (the
//! projected average above the warn level) and `shed_kw = over_kw × 15 min / minutes left`:
//! the cut in present load that, held to the end of the window, brings its average back to
//! the warn level.

use chrono::{DateTime, Offset, TimeZone, Utc};
use kilowatch_site::config::Contracts;
use serde_json::json;

use crate::enpi::tariff::Tariff;

/// A demand window, ms.
pub const WINDOW_MS: i64 = 900_000;

/// Readings further apart than this are not integrated across (a gap is no evidence).
const MAX_HOLD_MS: i64 = 300_000;

/// Start (UTC ms) of the plant-local quarter-hour holding `ts`.
pub fn window_start(ts: i64, tz: chrono_tz::Tz) -> i64 {
    let offset = match Utc.timestamp_millis_opt(ts) {
        chrono::LocalResult::Single(t) => {
            i64::from(t.with_timezone(&tz).offset().fix().local_minus_utc()) * 1000
        }
        _ => 0,
    };
    let local = ts + offset;
    local - local.rem_euclid(WINDOW_MS) - offset
}

/// One incomer's energy in the current window and its latest power.
#[derive(Debug, Clone, Default)]
pub struct Meter {
    /// Start of the window `kwh` belongs to (0: none yet).
    window: i64,
    /// Energy over the observed part of the window, from `seen_from` to the latest reading.
    kwh: f64,
    /// Where the observed part begins: the window's start when power was carried into it,
    /// else the window's first reading.
    seen_from: i64,
    /// The latest reading: time (ms) and kW.
    last: Option<(i64, f64)>,
}

impl Meter {
    /// Moves to the window starting at `w` (later than the current one), carrying the latest
    /// power into it from its start.
    fn roll(&mut self, w: i64) {
        if let Some((ts, kw)) = self.last {
            // The power held until the old window's end belongs to that window; from the new
            // window's start it is counted by `projection`.
            self.last = Some((ts.max(w), kw));
        }
        self.window = w;
        self.seen_from = w;
        self.kwh = 0.0;
    }

    /// A reading of active power `kw` at `ts` (ms).
    pub fn observe(&mut self, ts: i64, kw: f64, tz: chrono_tz::Tz) {
        let w = window_start(ts, tz);
        if w < self.window {
            return; // a late reading of a closed window: that window's verdict is past
        }
        if w > self.window {
            let first = self.window == 0 || self.last.is_none_or(|(t, _)| t < w - MAX_HOLD_MS);
            self.roll(w);
            if first {
                // No power known before: the window is observed from this reading on.
                self.seen_from = ts;
                self.last = Some((ts, kw));
                return;
            }
        }
        if let Some((t, held)) = self.last {
            if ts > t && ts - t <= MAX_HOLD_MS {
                self.kwh += held * (ts - t) as f64 / 3.6e6;
            }
            if ts < t {
                return; // out of order within the window: already covered
            }
        }
        self.last = Some((ts, kw));
    }

    /// kWh from the window's start to the latest reading: the observed energy plus the unseen
    /// part before `seen_from` at the latest power.
    fn kwh_so_far(&self) -> Option<f64> {
        let (_, kw) = self.last?;
        let unseen_ms = (self.seen_from - self.window).max(0);
        Some(self.kwh + kw * unseen_ms as f64 / 3.6e6)
    }

    /// kWh so far plus the latest power held to the window's end, for the window holding
    /// `now`; `None` without a reading.
    pub fn projected_kwh(&mut self, now: i64, tz: chrono_tz::Tz) -> Option<f64> {
        let w = window_start(now, tz);
        if w > self.window && self.window != 0 {
            self.roll(w);
        }
        let (t, kw) = self.last?;
        if now - t > MAX_HOLD_MS {
            return None; // silent meter: its silence alarm speaks, not a guess
        }
        let end = self.window + WINDOW_MS;
        Some(self.kwh_so_far()? + kw * (end - t.max(self.window)).max(0) as f64 / 3.6e6)
    }

    pub fn latest_kw(&self) -> Option<f64> {
        self.last.map(|(_, kw)| kw)
    }

    /// When the current window's readings began, if after its start (the part before is an
    /// estimate).
    pub fn observed_from(&self) -> Option<i64> {
        (self.last.is_some() && self.seen_from > self.window).then_some(self.seen_from)
    }
}

/// The contract a window is judged against, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowContract {
    pub kw: f64,
    /// The tariff period of the window (`None`: no tariff).
    pub period: Option<String>,
    /// How `kw` is made up: `regular 1000 + half_peak 100`.
    pub basis: String,
}

impl WindowContract {
    /// The contract for the window starting at `window` (UTC ms): the period its plant-local
    /// start falls in (periods change on quarter-hours), or the regular one without a tariff.
    pub fn of(
        contracts: &Contracts,
        tariff: Option<&Tariff>,
        window: i64,
        tz: chrono_tz::Tz,
    ) -> Self {
        let local = DateTime::<Utc>::from_timestamp_millis(window)
            .map(|t| t.with_timezone(&tz).naive_local());
        match (tariff, local) {
            (Some(t), Some(local)) => {
                let (i, _) = t.classify(local);
                let period = t.period_name(i).unwrap_or("").to_owned();
                Self {
                    kw: contracts.allowed_kw(&period),
                    basis: contracts.basis(&period),
                    period: Some(period),
                }
            }
            _ => Self {
                kw: contracts.regular,
                period: None,
                basis: format!(
                    "regular {} (no tariff: the period is unknown, the regular contract holds)",
                    contracts.regular
                ),
            },
        }
    }
}

/// The demand verdict at `now` for a window starting at `window`.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    pub projected_kw: f64,
    pub current_kw: f64,
    pub contract: WindowContract,
    pub warn_kw: f64,
    pub window: i64,
    pub now: i64,
    /// When the readings of this window began, if after its start.
    pub observed_from: Option<i64>,
}

impl Demand {
    pub fn minutes_left(&self) -> f64 {
        (self.window + WINDOW_MS - self.now).max(0) as f64 / 60_000.0
    }

    /// Projected average above the warn level, kW (negative: below).
    pub fn over_kw(&self) -> f64 {
        self.projected_kw - self.warn_kw
    }

    /// The load to cut now, held to the window's end, to bring the average to the warn level.
    pub fn shed_kw(&self) -> f64 {
        // At least one second left: the last instant of a window cannot be shed into.
        let left_ms = (self.window + WINDOW_MS - self.now).max(1000) as f64;
        (self.over_kw() * WINDOW_MS as f64 / left_ms).max(0.0)
    }

    pub fn evidence(&self) -> serde_json::Value {
        let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.to_rfc3339());
        let r = |x: f64| (x * 10.0).round() / 10.0;
        json!({
            "value": r(self.projected_kw),
            "threshold": r(self.warn_kw),
            "unit": "kW",
            "projected_kw": r(self.projected_kw),
            "current_kw": r(self.current_kw),
            "contract_kw": r(self.contract.kw),
            "period": self.contract.period,
            "contract": self.contract.basis,
            "warn_kw": r(self.warn_kw),
            "over_kw": r(self.over_kw()),
            "shed_kw": r(self.shed_kw()),
            "window_start": at(self.window),
            "window_end": at(self.window + WINDOW_MS),
            "minutes_left": r(self.minutes_left()),
            "observed_from": self.observed_from.and_then(at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: chrono_tz::Tz = chrono_tz::Asia::Taipei;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn windows_are_plant_local_quarter_hours() {
        assert_eq!(
            window_start(ms("2026-07-01T10:07:30+08:00"), TZ),
            ms("2026-07-01T10:00:00+08:00")
        );
        // Kathmandu is UTC+5:45: its quarter-hours are still quarter-hours of UTC.
        let k = chrono_tz::Asia::Kathmandu;
        assert_eq!(
            window_start(ms("2026-07-01T10:14:59+05:45"), k),
            ms("2026-07-01T10:00:00+05:45")
        );
    }

    /// Worked example. Contract 500 kW, warn at 95 % → 475 kW. In the window 10:00-10:15 the
    /// plant drew 400 kW from 10:00 to 10:05 (33.33 kWh) and 600 kW since 10:05; at 10:10,
    /// 600 kW × 5 min = 50 kWh so far at 600 kW, 83.33 kWh in all. Held to 10:15 another
    /// 50 kWh: 133.33 kWh in 0.25 h → 533.3 kW projected, 58.3 kW above the warn level; cut
    /// now for the last 5 minutes, that is 58.3 × 15 / 5 = 175 kW to shed.
    #[test]
    fn projection_worked_example() {
        let mut m = Meter::default();
        m.observe(ms("2026-07-01T10:00:00+08:00"), 400.0, TZ);
        m.observe(ms("2026-07-01T10:05:00+08:00"), 600.0, TZ);
        m.observe(ms("2026-07-01T10:10:00+08:00"), 600.0, TZ);
        let now = ms("2026-07-01T10:10:00+08:00");
        let kwh = m.projected_kwh(now, TZ).unwrap();
        assert!((kwh - 133.333).abs() < 0.01, "{kwh}");
        let d = Demand {
            projected_kw: kwh / 0.25,
            current_kw: 600.0,
            contract: WindowContract::of(&Contracts::regular_only(500.0), None, 0, TZ),
            warn_kw: 475.0,
            window: window_start(now, TZ),
            now,
            observed_from: None,
        };
        assert!((d.projected_kw - 533.33).abs() < 0.01);
        assert!((d.over_kw() - 58.33).abs() < 0.01);
        assert!((d.shed_kw() - 175.0).abs() < 0.01, "{}", d.shed_kw());
        assert_eq!(d.minutes_left(), 5.0);
        let e = d.evidence();
        assert_eq!(e["window_end"], "2026-07-01T02:15:00+00:00");
        assert_eq!(e["shed_kw"], 175.0);
    }

    #[test]
    fn the_unseen_start_of_a_window_counts_at_the_latest_power() {
        // The gateway (or the meter) starts at 10:07: 7 minutes of the window unseen.
        let mut m = Meter::default();
        m.observe(ms("2026-07-01T10:07:00+08:00"), 500.0, TZ);
        let now = ms("2026-07-01T10:07:00+08:00");
        let kwh = m.projected_kwh(now, TZ).unwrap();
        assert!((kwh / 0.25 - 500.0).abs() < 1e-6, "{kwh}");
        assert_eq!(m.observed_from(), Some(now));
        // 500 kW seen from 10:07 to 10:08, then 200 kW: the unseen 7 minutes and the 7 left
        // both at 200 kW.
        m.observe(ms("2026-07-01T10:08:00+08:00"), 200.0, TZ);
        let kwh = m
            .projected_kwh(ms("2026-07-01T10:08:00+08:00"), TZ)
            .unwrap();
        assert!((kwh - (500.0 / 60.0 + 200.0 * 14.0 / 60.0)).abs() < 1e-6);
    }

    #[test]
    fn a_stale_first_reading_does_not_hold_the_projection_down() {
        // The gateway's first reading, at 10:13, is the load just before a 495 kW peak starts
        // (what the demand-peak scenario's first poll could read): 385 kW once, then 495 kW
        // every second. Counted at the first reading, the unseen 13 minutes would keep the
        // projection near 400 kW all window, under a 427.5 kW warn level.
        let mut m = Meter::default();
        let t0 = ms("2026-07-01T10:13:00+08:00");
        m.observe(t0, 385.0, TZ);
        let t1 = t0 + 1000;
        m.observe(t1, 495.0, TZ);
        let kw = m.projected_kwh(t1, TZ).unwrap() * 4.0;
        assert!(kw > 427.5, "{kw}");
        // At 10:13:20: 385 kW for 1 s and 495 kW for 19 s seen, 13 minutes unseen and 100 s
        // left at 495 kW.
        for s in 2..=20 {
            m.observe(t0 + s * 1000, 495.0, TZ);
        }
        let want = (385.0 + 495.0 * 19.0 + 495.0 * (780.0 + 100.0)) / 3600.0;
        let got = m.projected_kwh(t0 + 20_000, TZ).unwrap();
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        // The next window is observed from its start: no estimate.
        let next = ms("2026-07-01T10:15:01+08:00");
        m.observe(next, 495.0, TZ);
        assert_eq!(m.observed_from(), None);
    }

    #[test]
    fn a_new_window_starts_from_the_power_held() {
        let mut m = Meter::default();
        m.observe(ms("2026-07-01T10:14:00+08:00"), 800.0, TZ);
        // No reading yet in the 10:15 window: the 800 kW held is the projection.
        let now = ms("2026-07-01T10:15:30+08:00");
        let kwh = m.projected_kwh(now, TZ).unwrap();
        assert!((kwh / 0.25 - 800.0).abs() < 1e-6, "{kwh}");
        // Power drops at 10:16: one minute at 800, 14 at 100.
        m.observe(ms("2026-07-01T10:16:00+08:00"), 100.0, TZ);
        let kwh = m
            .projected_kwh(ms("2026-07-01T10:16:00+08:00"), TZ)
            .unwrap();
        assert!((kwh - (800.0 / 60.0 + 100.0 * 14.0 / 60.0)).abs() < 1e-6);
        // A late reading of the closed window changes nothing.
        m.observe(ms("2026-07-01T10:14:30+08:00"), 9999.0, TZ);
        assert_eq!(
            m.projected_kwh(ms("2026-07-01T10:16:00+08:00"), TZ),
            Some(kwh)
        );
        // A silent meter gives no projection.
        assert_eq!(m.projected_kwh(ms("2026-07-01T10:22:00+08:00"), TZ), None);
    }
}
