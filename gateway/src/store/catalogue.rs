//! The series catalogue: one row per (site, device, quantity).

use kilowatch_site::vocab::Kind;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::conn::Store;
use super::delta::Delta;
use super::error::StoreError;
use super::series_ids::SeriesIds;
use super::settings::StoreSettings;

/// One entry of the series catalogue.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SeriesInfo {
    pub id: i64,
    pub site: String,
    pub device: String,
    pub quantity: String,
    pub unit: String,
    pub asset: Option<String>,
    /// `instantaneous`, `counter` or `state`.
    pub kind: &'static str,
}

pub(super) fn kind_of(quantity: &str) -> Kind {
    kilowatch_site::vocab::quantity(quantity).map_or(Kind::Instantaneous, |q| q.kind)
}

pub(super) fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Instantaneous => "instantaneous",
        Kind::Counter => "counter",
        Kind::State => "state",
    }
}

impl Store {
    /// The id of a series, inserted (and counted) if new, within the caller's transaction.
    pub(super) fn series_id(
        tx: &rusqlite::Transaction<'_>,
        cache: &mut SeriesIds,
        delta: &mut Delta,
        settings: &StoreSettings,
        (site, device, quantity): (&str, &str, &str),
        unit: &str,
    ) -> Result<i64, rusqlite::Error> {
        if let Some(id) = cache.get(site, device, quantity) {
            return Ok(id);
        }
        let asset = settings.assets.get(device);
        let inserted = tx.execute(
            "INSERT INTO series(site, device, quantity, unit, asset) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(site, device, quantity) DO NOTHING",
            params![site, device, quantity, unit, asset],
        )?;
        if inserted == 1 {
            delta.series += 1;
        } else if asset.is_some() {
            tx.execute(
                "UPDATE series SET asset = ?4 WHERE site = ?1 AND device = ?2 AND quantity = ?3",
                params![site, device, quantity, asset],
            )?;
        }
        let id = tx.query_row(
            "SELECT id FROM series WHERE site=?1 AND device=?2 AND quantity=?3",
            params![site, device, quantity],
            |r| r.get(0),
        )?;
        cache.insert(site, device, quantity, id);
        Ok(id)
    }

    /// The series catalogue.
    pub fn series(&self) -> Result<Vec<SeriesInfo>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, site, device, quantity, unit, asset FROM series ORDER BY site, device, id",
        )?;
        let rows = stmt.query_map([], |r| {
            let quantity: String = r.get(3)?;
            Ok(SeriesInfo {
                id: r.get(0)?,
                site: r.get(1)?,
                device: r.get(2)?,
                kind: kind_name(kind_of(&quantity)),
                quantity,
                unit: r.get(4)?,
                asset: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Finds a series by `site/device/quantity` or by its numeric id.
    pub fn find_series(&self, name: &str) -> Result<Option<SeriesInfo>, StoreError> {
        // By key first: scanning a catalogue of 20 000 series for every query is slow.
        if let [site, device, quantity] = name.splitn(3, '/').collect::<Vec<_>>()[..] {
            if let Some(s) = self.series_by_key(site, device, quantity)? {
                return Ok(Some(s));
            }
        }
        let all = self.series()?;
        Ok(all.into_iter().find(|s| {
            name.parse::<i64>().is_ok_and(|id| id == s.id)
                || format!("{}/{}/{}", s.site, s.device, s.quantity) == name
        }))
    }

    /// A series by its key, without scanning the catalogue.
    pub fn series_by_key(
        &self,
        site: &str,
        device: &str,
        quantity: &str,
    ) -> Result<Option<SeriesInfo>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, unit, asset FROM series WHERE site = ?1 AND device = ?2 AND quantity = ?3",
        )?;
        Ok(stmt
            .query_row(params![site, device, quantity], |r| {
                Ok(SeriesInfo {
                    id: r.get(0)?,
                    site: site.to_owned(),
                    device: device.to_owned(),
                    quantity: quantity.to_owned(),
                    unit: r.get(1)?,
                    asset: r.get(2)?,
                    kind: kind_name(kind_of(quantity)),
                })
            })
            .optional()?)
    }

    /// Devices of `site` that have series in the catalogue.
    pub fn devices(&self, site: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT device FROM series WHERE site = ?1 ORDER BY device")?;
        let rows = stmt.query_map([site], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
