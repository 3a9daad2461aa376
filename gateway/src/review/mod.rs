//! The energy review (ISO 50001 6.3): for a period, each use's share of the electricity
//! total with the unmetered remainder of every meter that feeds others (the parent minus its
//! children), ranked (Pareto), and the significant energy uses (SEUs) flagged by the site's
//! rule (`[review] significant`), with their assets' drivers and EnPIs.
//!
//! The uses are the leaves of the meter tree (`parent = …`) plus each parent's remainder;
//! the total is the sum of the roots. A site without a tree has each electricity meter as a
//! root of its own. A remainder is never flagged significant (it is no one use: meter it),
//! but it counts in the cumulative share.

use std::collections::HashMap;

use kilowatch_site::config::{MeterTree, Significant, SiteConfig};
use serde::Serialize;

use crate::enpi::Assets;
use crate::i18n::Msg;
use crate::store::{Store, StoreError};

#[cfg(test)]
mod tests;

/// What the review needs from the site file.
#[derive(Debug, Clone, Default)]
pub struct ReviewSite {
    pub site: String,
    pub tree: MeterTree,
    pub rule: Significant,
    /// Per asset: the `device/quantity` series its EnPI definition names besides power (flow,
    /// pressure, production, temperatures…): what drives its energy.
    pub drivers: HashMap<String, Vec<String>>,
}

impl ReviewSite {
    pub fn for_site(config: &SiteConfig) -> Self {
        let mut tree = config.meter_tree();
        if tree.nodes.is_empty() {
            // No tree: every meter of electricity on its own (a drive, a feeder meter).
            tree = MeterTree {
                nodes: config
                    .devices
                    .iter()
                    .filter(|d| is_electric(&d.profile))
                    .map(|d| kilowatch_site::config::MeterNode {
                        id: d.id.clone(),
                        name: d.name.clone(),
                        asset: d.asset.clone(),
                        parent: None,
                        children: Vec::new(),
                        is_virtual: false,
                    })
                    .collect(),
            };
        }
        let drivers = config
            .assets
            .iter()
            .filter_map(|a| {
                let id = a.get("id")?.as_str()?.to_owned();
                let mut found = Vec::new();
                for (k, v) in a {
                    if matches!(k.as_str(), "id" | "type" | "name" | "power") {
                        continue;
                    }
                    let values: Vec<&toml::Value> = match v {
                        toml::Value::Array(items) => items.iter().collect(),
                        v => vec![v],
                    };
                    found.extend(
                        values
                            .into_iter()
                            .filter_map(|v| v.as_str())
                            .filter(|s| s.contains('/'))
                            .map(str::to_owned),
                    );
                }
                found.dedup();
                Some((id, found))
            })
            .collect();
        Self {
            site: config.site.id.clone(),
            tree,
            rule: config.review.significant,
            drivers,
        }
    }
}

/// Profiles whose devices meter electricity (power meters and drives).
fn is_electric(profile: &str) -> bool {
    !(profile.starts_with("advantech") || profile.contains("plc") || profile.contains("meterboard"))
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum UseKind {
    /// A meter (measured or virtual) that feeds no other.
    Meter,
    /// A parent's energy its children do not account for.
    Unmetered,
}

/// One use, ranked.
#[derive(Debug, Clone, Serialize)]
pub struct Use {
    pub rank: usize,
    /// The meter, or for a remainder `<parent> (unmetered)`.
    pub id: String,
    pub name: Option<String>,
    pub kind: UseKind,
    pub parent: Option<String>,
    pub asset: Option<String>,
    pub kwh: f64,
    pub percent: f64,
    pub cumulative_percent: f64,
    pub significant: bool,
    pub drivers: Vec<String>,
    /// The asset's energy-performance indicators (`/api/v1/enpi?asset=…`).
    pub enpis: Vec<String>,
}

/// A meter of the tree and its energy over the period.
#[derive(Debug, Clone, Serialize)]
pub struct MeterEnergy {
    pub id: String,
    pub parent: Option<String>,
    pub is_virtual: bool,
    /// `None`: no energy stored for the period.
    pub kwh: Option<f64>,
    /// Minutes of a virtual meter left out because a source was missing, by reason.
    pub missing_minutes: Vec<(String, i64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
    pub unit: &'static str,
    pub total_kwh: f64,
    pub rule: Significant,
    pub uses: Vec<Use>,
    pub meters: Vec<MeterEnergy>,
    /// In English; `note_messages` for any language.
    pub notes: Vec<String>,
    pub note_messages: Vec<Msg>,
}

/// The review of [from, to) (ms): energy from the 15-minute rollups (hourly when the range
/// is aligned to hours, which is cheaper over a year).
pub fn review(
    store: &Store,
    site: &ReviewSite,
    assets: &Assets,
    from: i64,
    to: i64,
) -> Result<Review, StoreError> {
    let res = if from % 3_600_000 == 0 && to % 3_600_000 == 0 {
        3600
    } else {
        900
    };
    let mut notes = Vec::new();
    let mut meters = Vec::new();
    let mut kwh: HashMap<&str, f64> = HashMap::new();
    for n in &site.tree.nodes {
        let energy = store.energy(&site.site, &n.id, from, to, res)?;
        let total = energy.as_ref().and_then(|(_, pts)| {
            let v: Vec<f64> = pts.iter().filter_map(|p| p.kwh).collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>())
        });
        let missing_minutes =
            match store.find_series(&format!("{}/{}/active_energy_import", site.site, n.id))? {
                Some(s) if n.is_virtual => store.virtual_missing(s.id, from, to)?,
                _ => Vec::new(),
            };
        for (why, minutes) in &missing_minutes {
            notes.push(
                Msg::new("review-note-left-out")
                    .arg("meter", n.id.as_str())
                    .arg("minutes", minutes.to_string())
                    .arg("why", crate::virtual_meters::reason_message(why)),
            );
        }
        if total.is_none() {
            notes.push(Msg::new("review-note-no-energy").arg("meter", n.id.as_str()));
        }
        kwh.insert(&n.id, total.unwrap_or(0.0));
        meters.push(MeterEnergy {
            id: n.id.clone(),
            parent: n.parent.clone(),
            is_virtual: n.is_virtual,
            kwh: total,
            missing_minutes,
        });
    }
    let total_kwh: f64 = site.tree.roots().map(|n| kwh[n.id.as_str()]).sum();
    let mut uses: Vec<Use> = Vec::new();
    let indicators: HashMap<String, Vec<String>> = crate::enpi::list(assets)
        .into_iter()
        .map(|a| (a.id, a.indicators.into_iter().map(|d| d.name).collect()))
        .collect();
    for n in &site.tree.nodes {
        let own = kwh[n.id.as_str()];
        let (id, kind, value, parent) = if n.children.is_empty() {
            (n.id.clone(), UseKind::Meter, own, n.parent.clone())
        } else {
            let children: f64 = n.children.iter().map(|c| kwh[c.as_str()]).sum();
            if own - children < -0.02 * own.abs().max(1.0) {
                notes.push(
                    Msg::new("review-note-children-exceed")
                        .arg("meter", n.id.as_str())
                        .arg("children", format!("{children:.1}"))
                        .arg("own", format!("{own:.1}")),
                );
            }
            (
                format!("{} (unmetered)", n.id),
                UseKind::Unmetered,
                own - children,
                Some(n.id.clone()),
            )
        };
        let asset = (kind == UseKind::Meter).then(|| n.asset.clone()).flatten();
        let of_asset = |m: &HashMap<String, Vec<String>>| {
            asset
                .as_ref()
                .and_then(|a| m.get(a))
                .cloned()
                .unwrap_or_default()
        };
        let enpis = asset
            .as_deref()
            .and_then(|a| indicators.get(a))
            .cloned()
            .unwrap_or_default();
        uses.push(Use {
            rank: 0,
            id,
            name: (kind == UseKind::Meter).then(|| n.name.clone()).flatten(),
            kind,
            parent,
            drivers: of_asset(&site.drivers),
            enpis,
            asset,
            kwh: value,
            percent: 0.0,
            cumulative_percent: 0.0,
            significant: false,
        });
    }
    rank(&mut uses, total_kwh, site.rule);
    Ok(Review {
        from: utc(from),
        to: utc(to),
        unit: "kWh",
        total_kwh,
        rule: site.rule,
        uses,
        meters,
        notes: notes.iter().map(Msg::en).collect(),
        note_messages: notes,
    })
}

fn utc(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Sorts the uses by energy (largest first), sets their shares, and flags the significant
/// ones: within the first `cumulative_percent` (the use that crosses it included) and at
/// least `min_percent` each; remainders are never flagged.
pub fn rank(uses: &mut [Use], total: f64, rule: Significant) {
    uses.sort_by(|a, b| b.kwh.total_cmp(&a.kwh).then_with(|| a.id.cmp(&b.id)));
    let mut before = 0.0;
    for (i, u) in uses.iter_mut().enumerate() {
        u.rank = i + 1;
        u.percent = if total > 0.0 {
            100.0 * u.kwh / total
        } else {
            0.0
        };
        u.significant = u.kind == UseKind::Meter
            && before < rule.cumulative_percent
            && u.percent >= rule.min_percent
            && u.kwh > 0.0;
        before += u.percent;
        u.cumulative_percent = before;
    }
}
