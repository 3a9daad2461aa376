//! The writer's memory of which 1-minute buckets are already marked for the rollup engine.
//!
//! Every stored reading marks its (series, minute) in `rollup_dirty`. With many series a
//! batch holds mostly one reading per series, so that was one more B-tree insert per reading,
//! nearly always of a row already there. Remembering the marks this connection made (until
//! the rollup refresh clears them) skips those inserts. The memory only ever holds rows the
//! table holds: marks are kept only once their transaction committed, dropped before the
//! refresh deletes their rows, and all forgotten when another connection (another process)
//! committed, since it may have cleared rows itself.

use std::collections::HashSet;

#[derive(Debug, Default)]
pub(crate) struct DirtyMarks {
    /// (series id, minute start ms) rows known to be in `rollup_dirty`.
    known: HashSet<(i64, i64)>,
    /// Added in the current transaction: forgotten unless it commits.
    uncommitted: Vec<(i64, i64)>,
    /// The connection's `PRAGMA data_version` when `known` was last trusted.
    data_version: Option<i64>,
}

impl DirtyMarks {
    /// Before a write: `data_version` is the connection's now; a change means another
    /// connection committed, and what is known is dropped.
    pub fn check(&mut self, data_version: i64) {
        if self.data_version != Some(data_version) {
            self.known.clear();
            self.data_version = Some(data_version);
        }
    }

    /// Whether the row is known to be in the table (its insert can be skipped).
    pub fn contains(&self, mark: (i64, i64)) -> bool {
        self.known.contains(&mark)
    }

    /// A row inserted, or found present, in the current transaction.
    pub fn insert(&mut self, mark: (i64, i64)) {
        if self.known.insert(mark) {
            self.uncommitted.push(mark);
        }
    }

    /// After the transaction: keeps its marks if it committed, else forgets them.
    pub fn settle(&mut self, committed: bool) {
        let added = std::mem::take(&mut self.uncommitted);
        if !committed {
            for m in added {
                self.known.remove(&m);
            }
        }
    }

    /// Before rows are deleted from the table (whether or not the deletion commits).
    pub fn cleared(&mut self, marks: &[(i64, i64)]) {
        for m in marks {
            self.known.remove(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_known_once_committed_until_cleared_or_another_writer_commits() {
        let mut d = DirtyMarks::default();
        d.check(1);
        d.insert((1, 0));
        d.settle(true);
        assert!(d.contains((1, 0)));
        d.insert((2, 0));
        d.settle(false);
        assert!(
            !d.contains((2, 0)),
            "a rolled-back mark is not in the table"
        );
        d.cleared(&[(1, 0)]);
        assert!(!d.contains((1, 0)));
        d.insert((3, 0));
        d.settle(true);
        d.check(1);
        assert!(d.contains((3, 0)));
        d.check(2);
        assert!(
            !d.contains((3, 0)),
            "another connection may have cleared it"
        );
    }
}
