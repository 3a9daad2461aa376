//! How each series is rolled up, cached on the store's connection (`Store::kinds`) by
//! `rollups`: kept apart so the connection does not depend on the rollup code.

use std::collections::HashMap;

use kilowatch_site::vocab::Kind;

/// Per series id: its kind, for a counter that wraps the register range, and for a series
/// reported by exception its poll interval (ms).
pub(super) type SeriesKinds = HashMap<i64, SeriesRule>;

#[derive(Debug, Clone, Copy)]
pub(super) struct SeriesRule {
    pub(super) kind: Kind,
    pub(super) wrap: Option<f64>,
    pub(super) held: Option<i64>,
}
