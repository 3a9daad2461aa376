//! `kilowatch-bench contract-suite [--repeat 20]`: contract-capacity optimisation over a year of
//! 15-minute demand (35 040 quarter-hours, synthetic: a working-day shape, a summer swell and
//! noise) with all four capacities (regular, half-peak, Saturday half-peak, off-peak) on the
//! seed three-period tariff. Timed: monthly maxima per period from the quarter-hours, the
//! exact optimisation, the cost curves, exceedances and the saving (goal < 1 s).

use std::time::Instant;

use chrono::{Datelike, TimeZone, Timelike};
use kilowatch_gateway::contract::{self, months};
use kilowatch_gateway::enpi::tariff::Tariff;
use kilowatch_site::config::Contracts;

use super::flag;

const HV: &str = include_str!("../../../../seeds/tariffs/example-hv-three-period.toml");

/// A year of quarter-hours from 2026-01-01 local: (UTC ms, kW).
fn year(tz: chrono_tz::Tz) -> Vec<(i64, f64)> {
    let start = tz
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .map_or(0, |t| t.timestamp_millis());
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    (0..35_040i64)
        .map(|q| {
            let ts = start + q * 900_000;
            let local = tz
                .timestamp_millis_opt(ts)
                .single()
                .map(|t| t.naive_local());
            let (hour, weekday, month) = local.map_or((0, 0, 1), |t| {
                (t.hour(), t.weekday().num_days_from_monday(), t.month())
            });
            let working = weekday < 5 && (8..18).contains(&hour);
            let saturday = weekday == 5 && (8..17).contains(&hour);
            let base = if working {
                800.0
            } else if saturday {
                600.0
            } else {
                350.0
            };
            let summer = if (6..=9).contains(&month) { 1.15 } else { 1.0 };
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let noise = (seed % 1000) as f64 / 1000.0 * 120.0;
            (ts, base * summer + noise)
        })
        .collect()
}

pub fn contract_suite(args: &[String]) -> anyhow::Result<()> {
    let repeat: usize = flag(args, "--repeat").unwrap_or("20").parse()?;
    anyhow::ensure!(repeat > 0, "--repeat: at least 1");
    let tz = chrono_tz::Asia::Taipei;
    let tariff = Tariff::parse(HV).map_err(anyhow::Error::msg)?;
    let quarters = year(tz);
    let current = Contracts {
        regular: 900.0,
        half_peak: 50.0,
        saturday_half_peak: 0.0,
        off_peak: 100.0,
    };
    let mut times = Vec::with_capacity(repeat);
    let mut last = None;
    for _ in 0..repeat {
        let t0 = Instant::now();
        let m = months::from_quarters(&tariff, tz, quarters.iter().copied());
        let o = contract::optimise(&tariff, m, Some(&current))?;
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
        last = Some(o);
    }
    times.sort_by(f64::total_cmp);
    let o = last.ok_or_else(|| anyhow::anyhow!("no run"))?;
    let c = &o.best.capacities;
    println!("| case | quarter-hours | median | max | goal |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| a year of 15-min demand, four capacities | {} | {:.1} ms | {:.1} ms | < 1000 ms |",
        quarters.len(),
        times[times.len() / 2],
        times[times.len() - 1]
    );
    println!(
        "\noptimum: regular {:.1}, half_peak {:.1}, saturday_half_peak {:.1}, off_peak {:.1} kW; {:.0} {} a year, saving {:.0}",
        c.regular,
        c.half_peak,
        c.saturday_half_peak,
        c.off_peak,
        o.best.total,
        o.currency,
        o.saving.unwrap_or_default()
    );
    Ok(())
}
