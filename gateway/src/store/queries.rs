//! Reads for the API, the CLI and the engines above the store: latest values, points,
//! rollup rows, energy.

use rusqlite::params;

use super::conn::Store;
use super::error::StoreError;
use super::rollup_rows::row_agg;
use super::types::{ms_to_utc, EnergyPoint, EnergySource, Latest, Point};
use crate::rollup::Agg;

impl Store {
    /// The newest sample of every series.
    pub fn latest(&self) -> Result<Vec<Latest>, StoreError> {
        Ok(self.latest_rows()?.into_iter().map(|(_, l)| l).collect())
    }

    /// [`latest`](Self::latest) with each series' id.
    pub(super) fn latest_rows(&self) -> Result<Vec<(i64, Latest)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.site, s.device, s.quantity, s.unit, x.ts, x.value, x.quality, s.id
             FROM series s
             JOIN samples x ON x.series_id = s.id
              AND x.ts = (SELECT max(ts) FROM samples WHERE series_id = s.id)
             ORDER BY s.site, s.device, s.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(7)?,
                Latest {
                    site: r.get(0)?,
                    device: r.get(1)?,
                    quantity: r.get(2)?,
                    unit: r.get(3)?,
                    ts: ms_to_utc(r.get(4)?),
                    value: r.get(5)?,
                    quality: r.get(6)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Points of one series in [from, to): raw samples when `res` is 0 (avg = min = max =
    /// value), otherwise the rollups of `res` seconds.
    pub fn query(
        &self,
        series: i64,
        from: i64,
        to: i64,
        res: i64,
    ) -> Result<Vec<Point>, StoreError> {
        if res == 0 {
            let mut stmt = self.conn.prepare_cached(
                "SELECT ts, value FROM samples WHERE series_id = ?1 AND ts >= ?2 AND ts < ?3
                 AND quality = 'good' AND value IS NOT NULL ORDER BY ts",
            )?;
            let rows = stmt.query_map(params![series, from, to], |r| {
                let v: f64 = r.get(1)?;
                Ok(Point {
                    ts: ms_to_utc(r.get(0)?),
                    agg: Agg {
                        count: 1,
                        avg: Some(v),
                        min: Some(v),
                        max: Some(v),
                        ..Agg::default()
                    },
                })
            })?;
            return Ok(rows.collect::<Result<_, _>>()?);
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT bucket, count, avg, min, max, delta, integral, gaps, resets FROM rollups
             WHERE series_id = ?1 AND res = ?2 AND bucket >= ?3 AND bucket < ?4 ORDER BY bucket",
        )?;
        let rows = stmt.query_map(params![series, res, from, to], |r| {
            Ok(Point {
                ts: ms_to_utc(r.get(0)?),
                agg: Agg {
                    count: r.get(1)?,
                    avg: r.get(2)?,
                    min: r.get(3)?,
                    max: r.get(4)?,
                    delta: r.get(5)?,
                    integral: r.get(6)?,
                    gaps: r.get(7)?,
                    resets: r.get(8)?,
                },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Rollup rows (bucket start ms, aggregate) of one series in [from, to), in order.
    pub fn rollup_rows(
        &self,
        series: i64,
        res: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, Agg)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT count, avg, min, max, delta, integral, gaps, resets, bucket FROM rollups
             WHERE series_id = ?1 AND res = ?2 AND bucket >= ?3 AND bucket < ?4 ORDER BY bucket",
        )?;
        let rows = stmt.query_map(params![series, res, from, to], |r| {
            Ok((r.get(8)?, row_agg(r)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The earliest and latest 15-minute rollup buckets (ms), if any.
    pub fn rollup_span(&self) -> Result<Option<(i64, i64)>, StoreError> {
        let (lo, hi): (Option<i64>, Option<i64>) = self.conn.query_row(
            "SELECT min(bucket), max(bucket) FROM rollups WHERE res = 900",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(lo.zip(hi))
    }

    /// Energy of one device per bucket of `res` seconds (≥ 60): the import counter's delta
    /// where the device has one, otherwise the integral of active power (gaps longer than the
    /// gap limit not bridged, and counted). Returns the source used and the points.
    pub fn energy(
        &self,
        site: &str,
        device: &str,
        from: i64,
        to: i64,
        res: i64,
    ) -> Result<Option<(EnergySource, Vec<EnergyPoint>)>, StoreError> {
        let find = |q: &str| self.find_series(&format!("{site}/{device}/{q}"));
        let (source, series) = if let Some(s) = find("active_energy_import")? {
            (EnergySource::Counter, s)
        } else if let Some(s) = find("active_power")? {
            (EnergySource::IntegratedPower, s)
        } else {
            return Ok(None);
        };
        let points = self
            .query(series.id, from, to, res.max(60))?
            .into_iter()
            .map(|p| EnergyPoint {
                ts: p.ts,
                kwh: match source {
                    EnergySource::Counter => p.agg.delta,
                    EnergySource::IntegratedPower => p.agg.integral,
                },
                gaps: p.agg.gaps,
                resets: p.agg.resets,
            })
            .collect();
        Ok(Some((source, points)))
    }
}
