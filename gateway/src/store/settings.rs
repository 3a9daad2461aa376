//! What the store needs to know about the site.

use std::collections::HashMap;
use std::sync::Arc;

use crate::virtual_meters::VirtualPlan;

#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// The site's id, a tag of the derived InfluxDB points (EnPIs, alarms, savings).
    pub site: String,
    pub timezone: chrono_tz::Tz,
    /// Samples further apart are not integrated across.
    pub gap_limit_ms: i64,
    /// (device, quantity) → register range in canonical units, for integer counters that wrap.
    pub wraps: HashMap<(String, String), f64>,
    /// Devices whose agent reports by exception (`[agent.report_by_exception]` of the site
    /// file the agent and the gateway share): their series are rolled up with the last value
    /// held across a silence (`rollup::aggregate_held`).
    pub held: HashMap<String, HeldDevice>,
    /// device → asset, recorded in the series catalogue.
    pub assets: HashMap<String, String>,
    /// Queue line protocol for InfluxDB with every write.
    pub influx: bool,
    /// InfluxDB instead of SQLite: samples are not kept here.
    pub influx_only: bool,
    /// The virtual meters, computed by the rollup engine.
    pub virtuals: Arc<VirtualPlan>,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            site: String::new(),
            timezone: chrono_tz::UTC,
            gap_limit_ms: 300_000,
            wraps: HashMap::new(),
            held: HashMap::new(),
            assets: HashMap::new(),
            influx: false,
            influx_only: false,
            virtuals: Arc::default(),
        }
    }
}

impl StoreSettings {
    /// From the site file and the profiles its devices use.
    pub fn for_site(
        config: &kilowatch_site::config::SiteConfig,
        profiles: &kilowatch_site::profile::ProfileLibrary,
    ) -> Self {
        let mut wraps = HashMap::new();
        for d in &config.devices {
            if let Some(p) = profiles.get(&d.profile) {
                for r in &p.registers {
                    if let Some(w) = r.counter_wrap() {
                        wraps.insert((d.id.clone(), r.quantity.clone()), w);
                    }
                }
            }
        }
        let held = if config.agent.report_by_exception.enabled {
            config
                .devices
                .iter()
                .map(|d| (d.id.clone(), HeldDevice::of(d, profiles)))
                .collect()
        } else {
            HashMap::new()
        };
        Self {
            site: config.site.id.clone(),
            timezone: config.timezone(),
            gap_limit_ms: i64::try_from(config.gateway.gap_limit.as_millis()).unwrap_or(i64::MAX),
            wraps,
            held,
            assets: config
                .devices
                .iter()
                .map(|d| (&d.id, &d.asset))
                .chain(config.virtuals.iter().map(|v| (&v.id, &v.asset)))
                .filter_map(|(id, asset)| Some((id.clone(), asset.clone()?)))
                .collect(),
            influx: config.gateway.influx.is_some(),
            influx_only: config.gateway.influx.as_ref().is_some_and(|i| i.only),
            virtuals: Arc::new(VirtualPlan::for_site(config)),
        }
    }
}

/// The poll intervals of a device reported by exception: how many polls a held span stands for.
#[derive(Debug, Clone, Default)]
pub struct HeldDevice {
    pub interval_ms: i64,
    /// Quantities of the profile's `slow` registers, read every `slow_interval`.
    pub slow: HashMap<String, i64>,
}

impl HeldDevice {
    fn of(
        d: &kilowatch_site::config::DeviceConfig,
        profiles: &kilowatch_site::profile::ProfileLibrary,
    ) -> Self {
        let ms = |t: std::time::Duration| i64::try_from(t.as_millis()).unwrap_or(i64::MAX);
        let interval_ms = ms(d.interval);
        let slow = match (d.slow_interval, profiles.get(&d.profile)) {
            (Some(slow), Some(p)) if slow > d.interval => p
                .registers
                .iter()
                .filter(|r| r.poll == kilowatch_site::profile::PollClass::Slow)
                .map(|r| (r.quantity.clone(), ms(slow)))
                .collect(),
            _ => HashMap::new(),
        };
        Self { interval_ms, slow }
    }

    /// The poll interval of `quantity`, ms.
    pub fn interval_of(&self, quantity: &str) -> i64 {
        self.slow.get(quantity).copied().unwrap_or(self.interval_ms)
    }
}
