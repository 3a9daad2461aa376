//! What kilowatch's agent and gateway must agree on, defined once.
//!
//! - [`vocab`]: the quantities a plant measures, their canonical units and conversions.
//! - [`profile`] (with [`decode`]): device profiles, register maps as data. They are the
//!   device vocabulary: the site file names a profile per device and is checked against the
//!   library, the agent polls by them, the gateway's simulators answer by them and its
//!   catalogue lists the quantities they yield.
//! - [`payload`]: the versioned MQTT payload schema and topics, including the replay
//!   protocol between gateway and agent.
//! - [`config`]: the site file, checked whole by both binaries.
//! - `mqtt` and `process` (feature `runtime`, on by default): the broker session both sides
//!   open, logging and the shutdown signal.
//!
//! The built-in profiles are data files in `agent/profiles/`, compiled in.

pub mod config;
pub mod decode;
#[cfg(feature = "runtime")]
pub mod mqtt;
pub mod payload;
#[cfg(feature = "runtime")]
pub mod process;
pub mod profile;
pub mod vocab;
