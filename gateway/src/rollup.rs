//! Rollup arithmetic, free of storage: bucket boundaries, counter increments (resets, wraps,
//! meter replacement) and the aggregate of one bucket.
//!
//! Rules, chosen so that nothing is invented:
//! - Instantaneous quantities (power, temperature): avg, min, max, count of good samples, and
//!   the time integral (value × hours, so kW → kWh) by trapezoids between consecutive samples no
//!   further apart than the gap limit. A longer gap is counted in `gaps` and not bridged.
//! - Counters (energy, volume, production count): `delta` sums the increments between
//!   consecutive good samples, each credited to the bucket of the later sample. A counter that
//!   goes down has either wrapped (an integer register passed its maximum: the increment is what
//!   was left to the top plus the new value) or was reset or replaced: then the new value is the
//!   new baseline, the unknown increment is not guessed, and `resets` counts the event.
//! - States (compressor loaded = 1): like instantaneous quantities (the integral is the hours
//!   spent in state 1), and `delta` counts rising edges 0 → 1 (load cycles), each credited to the
//!   bucket of the sample that shows the new state.
//! - Coarser rollups (15 min, 1 h, 1 day) are built from the next finer one: count-weighted avg,
//!   min of mins, max of maxes, sums of counts, deltas, integrals, gaps and resets.
//! - Series reported by exception (`aggregate_held`): a value the agent did not send is within
//!   the deadband of the last one it did, so the last value is held (zero-order hold) from its
//!   time until the next sample, cut at bucket boundaries, when the two are no further apart than
//!   the gap limit. A bucket inside a silence gets the held value: its integral share, and as
//!   `count` the polls it stands for (the held-back polls, one per poll interval, plus the
//!   samples in it), so count-weighted averages above it stay time-weighted as without report
//!   by exception. A silence is held only once the sample that ends it is stored.

use chrono::{NaiveTime, TimeZone};
use kilowatch_site::vocab::Kind;
use serde::Serialize;

/// Rollup resolutions in seconds.
pub const RESOLUTIONS: [i64; 4] = [60, 900, 3600, 86_400];

/// Start (ms) of the bucket of `res` seconds holding `ts_ms`. Days start at local midnight in
/// `tz`; shorter buckets are aligned to UTC (whole-hour offsets keep them on local hours).
pub fn bucket_start(ts_ms: i64, res: i64, tz: chrono_tz::Tz) -> i64 {
    if res == 86_400 {
        let utc = chrono::DateTime::from_timestamp_millis(ts_ms).unwrap_or_default();
        let local_day = utc.with_timezone(&tz).date_naive();
        return tz
            .from_local_datetime(&local_day.and_time(NaiveTime::MIN))
            .earliest()
            .map_or(ts_ms - ts_ms.rem_euclid(86_400_000), |d| {
                d.timestamp_millis()
            });
    }
    let len = res * 1000;
    ts_ms - ts_ms.rem_euclid(len)
}

/// End (exclusive, ms) of the bucket starting at `start`.
pub fn bucket_end(start: i64, res: i64, tz: chrono_tz::Tz) -> i64 {
    if res == 86_400 {
        // Next local midnight (23 or 25 hours away across a DST change).
        return bucket_start(start + 36 * 3_600_000, res, tz);
    }
    start + res * 1000
}

/// What one bucket holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Agg {
    pub count: i64,
    pub avg: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Counters: increase within the bucket. States: rising edges (0 → 1) within the bucket.
    pub delta: Option<f64>,
    /// Instantaneous quantities: ∫ value dt in value-unit × hours.
    pub integral: Option<f64>,
    /// Intervals longer than the gap limit (not integrated / a counter step across them).
    pub gaps: i64,
    /// Counter drops treated as reset or meter replacement.
    pub resets: i64,
}

/// The increase of a counter from `prev` to `cur`; `None` for a reset or replacement.
/// `wrap` is the register's range in canonical units (e.g. 2³² × 0.01 kWh), if it is an integer.
pub fn counter_increment(prev: f64, cur: f64, wrap: Option<f64>) -> Option<f64> {
    if cur >= prev {
        return Some(cur - prev);
    }
    if let Some(w) = wrap {
        let across = (w - prev) + cur;
        // A wrap happens near the top and lands near zero; anything else is a reset.
        if across >= 0.0 && across < 0.01 * w {
            return Some(across);
        }
    }
    None
}

/// Aggregates the good samples of one bucket. `before` is the last good sample before the
/// bucket (it pairs with the first one inside for increments and integrals).
pub fn aggregate(
    kind: Kind,
    before: Option<(i64, f64)>,
    samples: &[(i64, f64)],
    gap_limit_ms: i64,
    wrap: Option<f64>,
) -> Agg {
    let mut agg = Agg::default();
    if samples.is_empty() {
        return agg;
    }
    let (mut sum, mut min, mut max) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
    for &(_, v) in samples {
        sum += v;
        min = min.min(v);
        max = max.max(v);
    }
    agg.count = samples.len() as i64;
    agg.avg = Some(sum / samples.len() as f64);
    agg.min = Some(min);
    agg.max = Some(max);
    let pairs = before
        .into_iter()
        .chain(samples.iter().copied())
        .collect::<Vec<_>>();
    match kind {
        Kind::Counter => {
            let mut delta = 0.0;
            for w in pairs.windows(2) {
                let ((t0, a), (t1, b)) = (w[0], w[1]);
                if t1 - t0 > gap_limit_ms {
                    agg.gaps += 1;
                }
                match counter_increment(a, b, wrap) {
                    Some(d) => delta += d,
                    None => agg.resets += 1,
                }
            }
            agg.delta = Some(delta);
        }
        Kind::Instantaneous | Kind::State => {
            let mut integral = 0.0;
            for w in pairs.windows(2) {
                let ((t0, a), (t1, b)) = (w[0], w[1]);
                let dt = t1 - t0;
                if dt > gap_limit_ms {
                    agg.gaps += 1;
                } else {
                    integral += (a + b) / 2.0 * dt as f64 / 3_600_000.0;
                }
            }
            agg.integral = Some(integral);
            if kind == Kind::State {
                let rises = pairs
                    .windows(2)
                    .filter(|w| w[0].1 < 0.5 && w[1].1 >= 0.5)
                    .count();
                agg.delta = Some(rises as f64);
            }
        }
    }
    agg
}

/// The bucket [start, end) of a series reported by exception (module doc): `before` is the last
/// good sample before it, `samples` the good ones inside, `after` the time of the first good
/// one at or after `end` (it ends the hold of the last), `interval_ms` the series' poll
/// interval (how many polls a held span stands for).
#[allow(clippy::too_many_arguments)]
pub fn aggregate_held(
    kind: Kind,
    bucket: (i64, i64),
    before: Option<(i64, f64)>,
    samples: &[(i64, f64)],
    after: Option<i64>,
    gap_limit_ms: i64,
    wrap: Option<f64>,
    interval_ms: i64,
) -> Agg {
    let (start, end) = bucket;
    let interval = interval_ms.max(1);
    // Increments, edges and gaps as without holding: each pair credited to the later sample.
    let mut agg = aggregate(kind, before, samples, gap_limit_ms, wrap);
    let (mut sum, mut min, mut max) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
    for &(_, v) in samples {
        sum += v;
        min = min.min(v);
        max = max.max(v);
    }
    let mut count = samples.len() as i64;
    let mut integral = 0.0;
    let points: Vec<(i64, f64)> = before.into_iter().chain(samples.iter().copied()).collect();
    // Each point is held until the next one (the last until `after`).
    let nexts = points.iter().skip(1).map(|&(t, _)| t).chain(after);
    for (&(t0, v), t1) in points.iter().zip(nexts) {
        if t1 - t0 > gap_limit_ms {
            continue;
        }
        let (s, e) = (t0.max(start), t1.min(end));
        if e <= s {
            continue;
        }
        integral += v * (e - s) as f64 / 3_600_000.0;
        // The held-back polls t0 + k·interval (k ≥ 1) before the next sample, less half an
        // interval of jitter, that fall in this bucket; a held span with none still counts one.
        let last = (t1 - t0 - interval / 2 - 1).div_euclid(interval);
        let first_in = (s - t0 + interval - 1).div_euclid(interval).max(1);
        let last_in = (e - 1 - t0).div_euclid(interval).min(last);
        let polls = (last_in - first_in + 1).max(0);
        let held = if polls == 0 && samples.is_empty() && count == 0 {
            1
        } else {
            polls
        };
        count += held;
        sum += v * held as f64;
        min = min.min(v);
        max = max.max(v);
    }
    if count == 0 {
        return Agg::default();
    }
    agg.count = count;
    agg.avg = Some(sum / count as f64);
    agg.min = Some(min);
    agg.max = Some(max);
    if kind != Kind::Counter {
        agg.integral = Some(integral);
    } else if agg.delta.is_none() {
        agg.delta = Some(0.0);
    }
    if kind == Kind::State && agg.delta.is_none() {
        agg.delta = Some(0.0);
    }
    agg
}

/// Combines finer buckets into one coarser bucket.
pub fn combine(parts: &[Agg]) -> Agg {
    let mut out = Agg::default();
    let mut weighted = 0.0;
    let add = |acc: Option<f64>, v: Option<f64>| match (acc, v) {
        (None, v) => v,
        (a, None) => a,
        (Some(a), Some(b)) => Some(a + b),
    };
    for p in parts {
        out.count += p.count;
        if let Some(avg) = p.avg {
            weighted += avg * p.count as f64;
        }
        out.min = match (out.min, p.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        out.max = match (out.max, p.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        out.delta = add(out.delta, p.delta);
        out.integral = add(out.integral, p.integral);
        out.gaps += p.gaps;
        out.resets += p.resets;
    }
    if out.count > 0 {
        out.avg = Some(weighted / out.count as f64);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn buckets_align_to_utc_and_days_to_local_midnight() {
        let tz: chrono_tz::Tz = "Asia/Taipei".parse().unwrap();
        let t = 1_700_000_123_456; // 2023-11-14T22:15:23.456Z = 06:15 on the 15th in Taipei
        assert_eq!(bucket_start(t, 60, tz), 1_700_000_100_000);
        assert_eq!(bucket_start(t, 900, tz) % 900_000, 0);
        let day = bucket_start(t, 86_400, tz);
        // Local midnight of 15 Nov in Taipei is 16:00Z on the 14th.
        assert_eq!(day, 1_699_977_600_000);
        assert_eq!(bucket_end(day, 86_400, tz) - day, 86_400_000);
        let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
        // 2023-11-05 is 25 hours long in New York.
        let dst_day = bucket_start(1_699_200_000_000, 86_400, ny);
        assert_eq!(bucket_end(dst_day, 86_400, ny) - dst_day, 25 * 3_600_000);
    }

    #[test]
    fn counter_increments_handle_wrap_and_reset() {
        assert_eq!(counter_increment(100.0, 103.5, None), Some(3.5));
        // u32 register of 0.01 kWh wraps at 42 949 672.96 kWh.
        let wrap = 4_294_967_296.0 * 0.01;
        let d = counter_increment(wrap - 1.0, 2.0, Some(wrap)).unwrap();
        assert!((d - 3.0).abs() < 1e-6, "{d}");
        // A drop far from the top is a reset or a replaced meter: no invented increment.
        assert_eq!(counter_increment(12_345.0, 3.0, Some(wrap)), None);
        assert_eq!(counter_increment(12_345.0, 3.0, None), None);
    }

    #[test]
    fn counter_bucket_delta_with_reset_and_replacement() {
        // 10 kWh/min, a reset to 0 at 3 min, then a replacement meter starting at 500.
        let s = [
            (MIN, 110.0),
            (2 * MIN, 120.0),
            (3 * MIN, 0.0),
            (4 * MIN, 10.0),
            (5 * MIN, 500.0),
            (6 * MIN, 510.0),
        ];
        let a = aggregate(Kind::Counter, Some((0, 100.0)), &s, 5 * MIN, None);
        // 10 + 10 + (reset: not counted) + 10 + 490 + 10. A replacement meter that starts
        // *above* the old reading cannot be told from consumption by the data alone; the
        // README says so (record such a change as a correction).
        assert_eq!(a.resets, 1);
        assert_eq!(a.delta, Some(10.0 + 10.0 + 10.0 + 490.0 + 10.0));
        assert_eq!(a.count, 6);
    }

    #[test]
    fn integral_skips_gaps_longer_than_the_limit() {
        // 60 kW for 2 minutes, a 10-minute hole, then 60 kW for 1 minute.
        let s = [
            (0, 60.0),
            (MIN, 60.0),
            (2 * MIN, 60.0),
            (12 * MIN, 60.0),
            (13 * MIN, 60.0),
        ];
        let a = aggregate(Kind::Instantaneous, None, &s, 5 * MIN, None);
        assert_eq!(a.gaps, 1);
        assert!((a.integral.unwrap() - 3.0).abs() < 1e-9, "{a:?}");
        assert_eq!(a.avg, Some(60.0));
    }

    #[test]
    fn state_rollup_counts_rising_edges_and_hours_loaded() {
        // Loaded 0-60 s... one sample per 10 s: 0,1,1,0,0,1 → two rises; the one from the
        // sample before the bucket counts too when it was 0.
        let s: Vec<(i64, f64)> = [0.0, 1.0, 1.0, 0.0, 0.0, 1.0]
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as i64 * 10_000, v))
            .collect();
        let a = aggregate(Kind::State, None, &s, 300_000, None);
        assert_eq!(a.delta, Some(2.0));
        let b = aggregate(Kind::State, Some((-10_000, 0.0)), &s, 300_000, None);
        assert_eq!(b.delta, Some(2.0), "0 → 0 across the boundary is no edge");
        let c = aggregate(Kind::State, Some((-10_000, 1.0)), &s[1..], 300_000, None);
        assert_eq!(c.delta, Some(1.0), "1 → 1 across the boundary is no edge");
        // Trapezoids: 0→1 counts half of 10 s; hours in state 1 = (5+10+5+0+5) s.
        assert!((a.integral.unwrap() - 25.0 / 3600.0).abs() < 1e-12);
    }

    #[test]
    fn combine_weights_by_count() {
        let a = Agg {
            count: 1,
            avg: Some(10.0),
            min: Some(10.0),
            max: Some(10.0),
            delta: Some(1.0),
            ..Agg::default()
        };
        let b = Agg {
            count: 3,
            avg: Some(20.0),
            min: Some(15.0),
            max: Some(25.0),
            delta: Some(2.0),
            resets: 1,
            ..Agg::default()
        };
        let c = combine(&[a, b, Agg::default()]);
        assert_eq!(c.count, 4);
        assert_eq!(c.avg, Some(17.5));
        assert_eq!((c.min, c.max), (Some(10.0), Some(25.0)));
        assert_eq!(c.delta, Some(3.0));
        assert_eq!(c.resets, 1);
    }

    const SEC: i64 = 1000;

    /// The 1-minute buckets of a held series over [from, to): every sample and the gap limit
    /// as the store gives them to `aggregate_held`.
    fn held_minutes(
        kind: Kind,
        pts: &[(i64, f64)],
        from: i64,
        to: i64,
        gap: i64,
        interval: i64,
    ) -> Vec<Agg> {
        (from..to)
            .step_by(MIN as usize)
            .map(|b| {
                let before = pts.iter().rev().find(|p| p.0 < b).copied();
                let inside: Vec<_> = pts
                    .iter()
                    .filter(|p| p.0 >= b && p.0 < b + MIN)
                    .copied()
                    .collect();
                let after = pts.iter().find(|p| p.0 >= b + MIN).map(|p| p.0);
                aggregate_held(
                    kind,
                    (b, b + MIN),
                    before,
                    &inside,
                    after,
                    gap,
                    None,
                    interval,
                )
            })
            .collect()
    }

    #[test]
    fn held_value_fills_every_minute_of_a_silence_across_a_quarter_boundary() {
        // Polled every second: 60 kW reported at 13:30, held back until 120 kW at 17:30 (the
        // quarter-hour boundary at 15:00 inside the silence).
        let pts = [(13 * MIN + 30 * SEC, 60.0), (17 * MIN + 30 * SEC, 120.0)];
        let m = held_minutes(Kind::Instantaneous, &pts, 12 * MIN, 19 * MIN, 5 * MIN, SEC);
        let integrals: Vec<f64> = m.iter().map(|a| a.integral.unwrap_or(0.0)).collect();
        // 60 kW for 30 s = 0.5 kWh; whole minutes 1 kWh; nothing after the last sample yet.
        assert_eq!(integrals, vec![0.0, 0.5, 1.0, 1.0, 1.0, 0.5, 0.0]);
        // Polls stood for: the sample and the 29 held back after it; 60 a minute; 30 held
        // back and the 120 kW sample; none after it until the next sample comes.
        let counts: Vec<i64> = m.iter().map(|a| a.count).collect();
        assert_eq!(counts, vec![0, 30, 60, 60, 60, 31, 0]);
        assert_eq!(m[0], Agg::default(), "nothing before the first sample");
        for a in &m[1..5] {
            assert_eq!((a.avg, a.min, a.max), (Some(60.0), Some(60.0), Some(60.0)));
        }
        assert_eq!(m[5].avg, Some((30.0 * 60.0 + 120.0) / 31.0));
        assert_eq!(
            (m[5].min, m[5].max, m[5].gaps),
            (Some(60.0), Some(120.0), 0)
        );
        // Quarters (minutes 0-14 and 15-29): 1.5 and 2.5 kWh = 60 kW for 4 minutes in all;
        // the averages are time-weighted (60 kW over the first quarter's covered 90 s).
        let q0 = combine(&m[..3]);
        let q1 = combine(&m[3..]);
        assert!((q0.integral.unwrap() - 1.5).abs() < 1e-12, "{q0:?}");
        assert!((q1.integral.unwrap() - 2.5).abs() < 1e-12, "{q1:?}");
        assert_eq!((q0.count, q0.avg), (90, Some(60.0)));
        assert_eq!(
            q0.count + q1.count,
            241,
            "the polls of 13:30..17:30 inclusive"
        );
    }

    #[test]
    fn held_value_is_not_bridged_across_a_gap_longer_than_the_limit() {
        let pts = [(30 * SEC, 50.0), (6 * MIN + 30 * SEC, 50.0)];
        let m = held_minutes(Kind::Instantaneous, &pts, 0, 8 * MIN, 5 * MIN, SEC);
        assert_eq!(m[0].count, 1);
        assert_eq!(m[0].integral, Some(0.0));
        assert!(m[1..6].iter().all(|a| *a == Agg::default()), "{m:?}");
        assert_eq!((m[6].count, m[6].gaps, m[6].integral), (1, 1, Some(0.0)));
        // The next sample ends the hold of the one at 6:30.
        let mut more = pts.to_vec();
        more.push((7 * MIN + 30 * SEC, 40.0));
        let m = held_minutes(Kind::Instantaneous, &more, 0, 8 * MIN, 5 * MIN, SEC);
        assert!((m[6].integral.unwrap() - 50.0 * 30.0 / 3600.0).abs() < 1e-12);
        assert!((m[7].integral.unwrap() - 50.0 * 30.0 / 3600.0).abs() < 1e-12);
        assert_eq!((m[6].count, m[7].count), (30, 31));
    }

    #[test]
    fn held_counter_adds_nothing_over_a_silence_and_its_increment_once() {
        // 100 kWh at 0:30, the unchanged value again at the 4-minute heartbeat, then 101 kWh.
        let pts = [
            (30 * SEC, 100.0),
            (4 * MIN + 30 * SEC, 100.0),
            (5 * MIN + 10 * SEC, 101.0),
        ];
        let m = held_minutes(Kind::Counter, &pts, 0, 7 * MIN, 5 * MIN, SEC);
        let deltas: Vec<Option<f64>> = m.iter().map(|a| a.delta).collect();
        let z = Some(0.0);
        assert_eq!(deltas, vec![z, z, z, z, z, Some(1.0), None]);
        assert!(m[..5]
            .iter()
            .all(|a| a.avg == Some(100.0) && a.integral.is_none()));
        assert_eq!(combine(&m).delta, Some(1.0));
        assert_eq!(m[1].count, 60, "a minute of held polls");
    }

    #[test]
    fn held_state_integrates_hours_in_state_and_counts_rises_once() {
        // Loaded (1) at 0:10, unloaded at 2:40; polls every 5 s.
        let pts = [
            (10 * SEC, 0.0),
            (40 * SEC, 1.0),
            (2 * MIN + 40 * SEC, 0.0),
            (3 * MIN, 0.0),
        ];
        let m = held_minutes(Kind::State, &pts, 0, 3 * MIN, 5 * MIN, 5 * SEC);
        let all = combine(&m);
        assert_eq!(all.delta, Some(1.0));
        assert!(
            (all.integral.unwrap() - 120.0 / 3600.0).abs() < 1e-12,
            "{all:?}"
        );
    }
}
