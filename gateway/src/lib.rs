//! kilowatch gateway: MQTT ingest, the time-series store, the HTTP API and live page, the
//! device simulators and the one-command demo.

pub mod alarms;
pub mod backfill;
pub mod baseline;
pub mod broker;
pub mod contract;
pub mod csvio;
pub mod demand;
pub mod demo;
pub mod demo_dates;
pub mod derived_lines;
pub mod dr;
pub mod enpi;
pub mod http;
pub mod hub;
pub mod i18n;
pub mod influx;
pub mod ingest;
pub mod line_protocol;
pub mod metrics;
pub mod mv;
pub mod notify;
#[cfg(test)]
mod openapi_routes;
pub mod report;
pub mod review;
pub mod rollup;
pub mod service;
pub mod sim;
pub mod store;
pub mod uplink;
pub mod virtual_meters;
pub mod when;

/// The demo plant, shipped inside the binary so `demo` works from any directory.
pub const DEMO_SITE: &str = include_str!("../../seeds/demo-site.toml");
