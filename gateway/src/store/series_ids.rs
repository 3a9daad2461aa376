//! The writer's cache of series ids: (site, device, quantity) → id.
//!
//! Every stored reading looks its series up here, so a lookup must not allocate, and a write
//! must not copy the cache: with 20 000 series, copying it for each batch (to drop the ids of
//! a rolled-back transaction) cost more than the batch itself. Ids added inside a transaction
//! are journaled instead and forgotten if it does not commit.

use std::collections::HashMap;

#[derive(Debug, Default)]
pub(crate) struct SeriesIds {
    /// site → device → quantity → id; nested so that `&str` keys look it up.
    ids: HashMap<String, HashMap<String, HashMap<String, i64>>>,
    /// Added since the last [`settle`](Self::settle): dropped again unless committed.
    uncommitted: Vec<(String, String, String)>,
}

impl SeriesIds {
    pub fn get(&self, site: &str, device: &str, quantity: &str) -> Option<i64> {
        self.ids.get(site)?.get(device)?.get(quantity).copied()
    }

    /// Adds an id found or created inside the current transaction.
    pub fn insert(&mut self, site: &str, device: &str, quantity: &str, id: i64) {
        self.ids
            .entry(site.to_owned())
            .or_default()
            .entry(device.to_owned())
            .or_default()
            .insert(quantity.to_owned(), id);
        self.uncommitted
            .push((site.to_owned(), device.to_owned(), quantity.to_owned()));
    }

    /// After the transaction: keeps the ids added in it if it committed, else forgets them
    /// (their rows were rolled back; the ids may be given to other series).
    pub fn settle(&mut self, committed: bool) {
        let added = std::mem::take(&mut self.uncommitted);
        if committed {
            return;
        }
        for (site, device, quantity) in added {
            let Some(devices) = self.ids.get_mut(&site) else {
                continue;
            };
            if let Some(quantities) = devices.get_mut(&device) {
                quantities.remove(&quantity);
                if quantities.is_empty() {
                    devices.remove(&device);
                }
            }
            if devices.is_empty() {
                self.ids.remove(&site);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_a_rolled_back_transaction_are_forgotten_and_committed_ones_kept() {
        let mut ids = SeriesIds::default();
        ids.insert("s", "d", "active_power", 1);
        ids.settle(true);
        ids.insert("s", "d", "voltage", 2);
        ids.insert("s", "e", "voltage", 3);
        assert_eq!(ids.get("s", "d", "voltage"), Some(2));
        ids.settle(false);
        assert_eq!(ids.get("s", "d", "active_power"), Some(1));
        assert_eq!(ids.get("s", "d", "voltage"), None);
        assert_eq!(ids.get("s", "e", "voltage"), None);
        assert!(!ids.ids["s"].contains_key("e"));
        ids.insert("s", "e", "voltage", 4);
        ids.settle(true);
        ids.settle(false);
        assert_eq!(ids.get("s", "e", "voltage"), Some(4));
        assert_eq!(ids.get("t", "d", "active_power"), None);
    }
}
