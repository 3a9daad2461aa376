//! Calendar terms of baseline models in the plant's local time: day types (the plant's holidays
//! included), seasons, hours of the week, and CalTRACK 2's occupancy of each hour of the week.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use super::ols::fit;

/// The day types of daily models; a holiday counts as a holiday whatever its weekday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DayType {
    Weekday,
    Saturday,
    Sunday,
    Holiday,
}

impl DayType {
    pub const ALL: [DayType; 4] = [Self::Weekday, Self::Saturday, Self::Sunday, Self::Holiday];

    pub fn of(date: NaiveDate, holidays: &[NaiveDate]) -> Self {
        if holidays.binary_search(&date).is_ok() {
            return Self::Holiday;
        }
        match date.weekday() {
            chrono::Weekday::Sat => Self::Saturday,
            chrono::Weekday::Sun => Self::Sunday,
            _ => Self::Weekday,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Weekday => "weekday",
            Self::Saturday => "saturday",
            Self::Sunday => "sunday",
            Self::Holiday => "holiday",
        }
    }
}

/// Seasons of Taiwan's calendar: summer is Taipower's (June to September), winter December to
/// February, the rest shoulder months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Season {
    Winter,
    Shoulder,
    Summer,
}

impl Season {
    pub const ALL: [Season; 3] = [Self::Winter, Self::Shoulder, Self::Summer];

    pub fn of(date: NaiveDate) -> Self {
        match date.month() {
            6..=9 => Self::Summer,
            12 | 1 | 2 => Self::Winter,
            _ => Self::Shoulder,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Winter => "winter",
            Self::Shoulder => "shoulder",
            Self::Summer => "summer",
        }
    }
}

/// The levels of a calendar term a baseline can estimate: the most frequent is the reference,
/// the others with at least `min` periods get an indicator. Returns (reference, indicators).
pub fn levels<T: Copy + Ord>(values: &[T], all: &[T], min: usize) -> (T, Vec<T>) {
    let count = |l: &T| values.iter().filter(|v| *v == l).count();
    let reference = *all
        .iter()
        .max_by_key(|l| (count(l), std::cmp::Reverse(**l)))
        .expect("a calendar term has levels");
    let others = all
        .iter()
        .filter(|l| **l != reference && count(l) >= min)
        .copied()
        .collect();
    (reference, others)
}

/// Hour of the week, 0 = Monday 00:00 local; a holiday's hours are a Sunday's (a plant closed
/// on a holiday runs like on a Sunday).
pub fn hour_of_week(t: &NaiveDateTime, holidays: &[NaiveDate]) -> usize {
    let day = if holidays.binary_search(&t.date()).is_ok() {
        6
    } else {
        t.weekday().num_days_from_monday() as usize
    };
    day * 24 + t.hour() as usize
}

/// CalTRACK 2 occupancy: usage fitted on heating and cooling degree-hours (balance points 50 and
/// 65 °F, given here in the data's unit); an hour of the week is occupied when more than 65 % of
/// its hours use more than that fit predicts. `None` when the fit is impossible.
pub fn occupancy(
    how: &[usize],
    temp: &[f64],
    y: &[f64],
    heat: f64,
    cool: f64,
) -> Option<Vec<bool>> {
    let hdd: Vec<f64> = temp.iter().map(|t| (heat - t).max(0.0)).collect();
    let cdd: Vec<f64> = temp.iter().map(|t| (t - cool).max(0.0)).collect();
    let mut cols: Vec<&[f64]> = Vec::new();
    // A degree-hour column that is zero throughout cannot be fitted; leave it out.
    for c in [&hdd, &cdd] {
        if c.iter().any(|v| *v > 0.0) {
            cols.push(c);
        }
    }
    let ols = fit(&cols, y).ok()?;
    let mut above = [0usize; 168];
    let mut all = [0usize; 168];
    for (h, r) in how.iter().zip(&ols.residuals) {
        all[*h] += 1;
        above[*h] += usize::from(*r > 0.0);
    }
    Some(
        (0..168)
            .map(|s| all[s] > 0 && above[s] as f64 > 0.65 * all[s] as f64)
            .collect(),
    )
}

/// Knots of a piecewise-linear temperature term: those of `grid` inside the data's range,
/// merged (a knot dropped) until every segment holds at least `min` observations (CalTRACK's
/// 20 hours per temperature bin).
pub fn knots(temp: &[f64], grid: &[f64], min: usize) -> Vec<f64> {
    let (lo, hi) = temp
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), t| {
            (a.min(*t), b.max(*t))
        });
    let mut k: Vec<f64> = grid
        .iter()
        .copied()
        .filter(|k| *k > lo && *k < hi)
        .collect();
    loop {
        let mut edges = vec![f64::NEG_INFINITY];
        edges.extend(&k);
        edges.push(f64::INFINITY);
        let counts: Vec<usize> = edges
            .windows(2)
            .map(|w| temp.iter().filter(|t| **t > w[0] && **t <= w[1]).count())
            .collect();
        // The thinnest segment goes first: drop the knot on its side toward the middle.
        let Some((i, _)) = counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c < min)
            .min_by_key(|(_, c)| **c)
        else {
            return k;
        };
        if k.is_empty() {
            return k;
        }
        let drop = if i == 0 {
            0
        } else if i >= k.len() {
            k.len() - 1
        } else if counts[i - 1] <= counts[i + 1] {
            i - 1
        } else {
            i
        };
        k.remove(drop);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_types_seasons_and_hours_of_the_week() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let hol = [d("2026-10-09")];
        assert_eq!(DayType::of(d("2026-10-09"), &hol), DayType::Holiday);
        assert_eq!(DayType::of(d("2026-10-10"), &hol), DayType::Saturday);
        assert_eq!(DayType::of(d("2026-10-11"), &hol), DayType::Sunday);
        assert_eq!(DayType::of(d("2026-10-12"), &hol), DayType::Weekday);
        assert_eq!(Season::of(d("2026-06-01")), Season::Summer);
        assert_eq!(Season::of(d("2026-02-28")), Season::Winter);
        assert_eq!(Season::of(d("2026-11-30")), Season::Shoulder);
        // A Friday holiday at 10:00 is a Sunday's 10:00.
        let t = d("2026-10-09").and_hms_opt(10, 0, 0).unwrap();
        assert_eq!(hour_of_week(&t, &hol), 6 * 24 + 10);
        assert_eq!(hour_of_week(&t, &[]), 4 * 24 + 10);
        let (r, o) = levels(
            &[DayType::Weekday, DayType::Weekday, DayType::Sunday],
            &DayType::ALL,
            1,
        );
        assert_eq!((r, o), (DayType::Weekday, vec![DayType::Sunday]));
    }

    #[test]
    fn knots_are_merged_until_each_segment_has_data() {
        let t: Vec<f64> = (0..100).map(|i| 10.0 + 0.2 * f64::from(i)).collect();
        // 10–29.8: knots 15, 20, 25 each hold 25 points a side.
        assert_eq!(
            knots(&t, &[5.0, 15.0, 20.0, 25.0, 40.0], 20),
            [15.0, 20.0, 25.0]
        );
        // With 30 points needed, two knots go.
        let k = knots(&t, &[15.0, 20.0, 25.0], 30);
        assert_eq!(k.len(), 1, "{k:?}");
        assert!(knots(&t[..10], &[15.0, 20.0], 20).is_empty());
    }
}
