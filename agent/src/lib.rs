//! kilowatch agent library: the acquisition pipeline (poll → decode → spool → publish over
//! MQTT). The definitions it shares with the gateway (vocabulary, profiles, payload schema,
//! site file, broker session) are in the `kilowatch_site` crate.

pub mod acquire;
pub mod forward;
pub mod ha_discovery;
pub mod health;
pub mod metrics;
pub mod outbox;
pub mod plan;
pub mod poll;
pub mod rbe;
pub mod replay;
pub mod run;
pub mod scan;
pub mod schedule;
pub mod sparkplug;
pub mod spool;
pub mod writer;
