//! The TOML form of the board's configuration.

use anyhow::{bail, Result};
use kilowatch_firmware::analog::LoopChannel;
use kilowatch_firmware::board::{Config, MeterConfig, WordOrder};
use kilowatch_firmware::settings::safe_default;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    unit: u8,
    #[serde(default = "baud")]
    upstream_baud: u32,
    #[serde(default = "baud")]
    meter_baud: u32,
    #[serde(default = "timeout")]
    meter_timeout_ms: u32,
    #[serde(default = "retries")]
    meter_retries: u8,
    #[serde(default = "poll")]
    poll_period_ms: u32,
    #[serde(default = "sample")]
    sample_period_ms: u32,
    #[serde(default = "interval")]
    interval_s: u16,
    #[serde(default = "debounce")]
    debounce_samples: u8,
    #[serde(default)]
    analog: Vec<Analog>,
    #[serde(default)]
    meters: Vec<Meter>,
}

fn baud() -> u32 {
    9_600
}
fn timeout() -> u32 {
    200
}
fn retries() -> u8 {
    2
}
fn poll() -> u32 {
    1_000
}
fn sample() -> u32 {
    10
}
fn interval() -> u16 {
    60
}
fn debounce() -> u8 {
    5
}

/// A 4–20 mA input; the converter defaults are the reference board's front end.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Analog {
    channel: u8,
    low: f32,
    high: f32,
    #[serde(default = "full_scale")]
    full_scale: u16,
    #[serde(default = "vref")]
    vref_mv: u16,
    #[serde(default = "shunt")]
    shunt_ohm: u16,
}

fn full_scale() -> u16 {
    4095
}
fn vref() -> u16 {
    3300
}
fn shunt() -> u16 {
    150
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
enum Order {
    HighFirst,
    LowFirst,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Meter {
    unit: u8,
    #[serde(default = "input")]
    function: u8,
    address: u16,
    values: u8,
    #[serde(default = "high_first")]
    order: Order,
}

fn input() -> u8 {
    4
}
fn high_first() -> Order {
    Order::HighFirst
}

/// The configuration in `text`. Hardware fields (pulse counter width, load input polarity)
/// are not in the block: the board keeps its own.
pub fn parse(text: &str) -> Result<Config> {
    let f: File = toml::from_str(text)?;
    let mut cfg = safe_default(32, false);
    cfg.unit = f.unit;
    cfg.upstream_baud = f.upstream_baud;
    cfg.meter_baud = f.meter_baud;
    cfg.meter_timeout_ms = f.meter_timeout_ms;
    cfg.meter_retries = f.meter_retries;
    cfg.poll_period_ms = f.poll_period_ms;
    cfg.sample_period_ms = f.sample_period_ms;
    cfg.interval_s = f.interval_s;
    cfg.debounce_samples = f.debounce_samples;
    for a in f.analog {
        let ch = LoopChannel {
            channel: a.channel,
            full_scale: a.full_scale,
            vref_mv: a.vref_mv,
            shunt_ohm: a.shunt_ohm,
            low: a.low,
            high: a.high,
        };
        if cfg.analog.push(ch).is_err() {
            bail!("at most {} analog channels", cfg.analog.capacity());
        }
    }
    for m in f.meters {
        let meter = MeterConfig {
            unit: m.unit,
            function: m.function,
            address: m.address,
            values: m.values,
            order: match m.order {
                Order::HighFirst => WordOrder::HighFirst,
                Order::LowFirst => WordOrder::LowFirst,
            },
        };
        if cfg.meters.push(meter).is_err() {
            bail!("at most {} meters", cfg.meters.capacity());
        }
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_what_a_file_leaves_out() {
        let cfg = parse(
            "unit = 4\n[[meters]]\nunit = 2\naddress = 12\nvalues = 3\norder = \"low-first\"\n",
        )
        .unwrap();
        assert_eq!(
            (cfg.unit, cfg.upstream_baud, cfg.interval_s),
            (4, 9_600, 60)
        );
        assert_eq!(cfg.meters[0].function, 4);
        assert_eq!(cfg.meters[0].order, WordOrder::LowFirst);
        assert!(
            parse("unit = 1\nbaud = 9600\n").is_err(),
            "unknown keys are refused"
        );
    }
}
