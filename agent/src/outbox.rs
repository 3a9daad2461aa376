//! Publishes of one connection in the order they enter rumqttc's request queue, so that each
//! PUBACK is credited to the right party: a spooled record, a re-sent one, or a control message.

use std::collections::VecDeque;
use std::sync::Mutex;

use kilowatch_site::mqtt::Client;

/// What one publish was, so its PUBACK is credited to the right party.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// A spooled record: acknowledged in the spool.
    Record(u64),
    /// Status, health, a replay report: nothing to credit.
    Control,
    /// A re-sent record: frees a replay window slot.
    Replay,
    /// A retained announcement (Home Assistant discovery): counted until all are acknowledged.
    Announce,
}

/// Publishes of one connection, in the order they enter rumqttc's request queue. The event
/// loop matches `Sent(pkid)` events to `fifo` entries in that order; `lane` keeps each
/// (entry, request) pair together when more than one task publishes. The event loop task
/// itself never takes `lane`, so waiting for queue space under it cannot deadlock.
#[derive(Default)]
pub struct Outbox {
    fifo: Mutex<VecDeque<Item>>,
    lane: tokio::sync::Mutex<()>,
}

impl Outbox {
    pub async fn publish(
        &self,
        client: &Client,
        topic: &str,
        retain: bool,
        payload: Vec<u8>,
        item: Item,
    ) -> Result<(), String> {
        let _lane = self.lane.lock().await;
        lock_fifo(&self.fifo).push_back(item);
        client.publish(topic, retain, payload).await
    }

    pub fn sent(&self) -> Option<Item> {
        lock_fifo(&self.fifo).pop_front()
    }
}

fn lock_fifo<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
