//! The significant energy uses of the month, from the energy review (`crate::review`).

use super::monthly::{Significant, UseLine};
use crate::enpi::Assets;
use crate::review::{self, ReviewSite};
use crate::store::Store;

/// The energy review's ranking for [from, to), or why there is none.
pub fn significant(
    store: &Store,
    site: &ReviewSite,
    assets: &Assets,
    from: i64,
    to: i64,
) -> Significant {
    if site.tree.nodes.is_empty() {
        return Significant::Unavailable {
            reason_key: "rep-seu-no-meters",
            detail: None,
        };
    }
    match review::review(store, site, assets, from, to) {
        Ok(r) => Significant::Uses {
            total_kwh: r.total_kwh,
            uses: r
                .uses
                .into_iter()
                .map(|u| UseLine {
                    rank: u.rank,
                    name: u
                        .name
                        .map_or_else(|| u.id.clone(), |n| format!("{n} ({})", u.id)),
                    kwh: u.kwh,
                    percent: u.percent,
                    cumulative_percent: u.cumulative_percent,
                    significant: u.significant,
                    drivers: u.drivers,
                })
                .collect(),
        },
        Err(e) => Significant::Unavailable {
            reason_key: "rep-seu-failed",
            detail: Some(e.to_string()),
        },
    }
}
