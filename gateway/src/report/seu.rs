//! The significant energy uses of the month, from the energy review (`crate::review`).

use super::monthly::Significant;
use crate::enpi::Assets;
use crate::store::Store;

/// The energy review's answer for [from, to), or why there is none.
pub fn significant(
    _store: &Store,
    _assets: &Assets,
    _from: i64,
    _to: i64,
) -> Significant {
    Significant::Unavailable {
        reason_key: "rep-seu-unavailable",
        detail: None,
    }
}
