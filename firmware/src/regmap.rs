//! The register map served to the agent (input registers, FC 04; the same through FC 03).
//! `firmware/REGISTER_MAP.md` documents it and the agent's `kilowatch-meterboard` profile reads
//! it: 32-bit values high word first, floats IEEE 754 high word first (ABCD), NaN when there is
//! no value. Keep the three in step.

use crate::board::{State, MAX_ANALOG, MAX_METERS, MAX_PULSE, MAX_VALUES};
use crate::rtu::exception::ILLEGAL_DATA_ADDRESS;
use crate::system::FIRMWARE_VERSION;

pub const MAP_VERSION: u16 = 2;
pub const SYSTEM: u16 = 0;
pub const SYSTEM_LEN: u16 = 48;
pub const ANALOG: u16 = 100;
pub const ANALOG_STRIDE: u16 = 20;
pub const LOAD: u16 = 200;
pub const LOAD_LEN: u16 = 16;
pub const PULSE: u16 = 300;
pub const PULSE_STRIDE: u16 = 10;
pub const METER: u16 = 1000;
pub const METER_STRIDE: u16 = 100;
pub const METER_VALUES: u16 = 10;

/// Mapped blocks: a read must stay inside one.
const BLOCKS: [(u16, u16); 5] = [
    (SYSTEM, SYSTEM_LEN),
    (ANALOG, ANALOG_STRIDE * MAX_ANALOG as u16),
    (LOAD, LOAD_LEN),
    (PULSE, PULSE_STRIDE * MAX_PULSE as u16),
    (METER, METER_STRIDE * MAX_METERS as u16),
];

fn hi(v: u32) -> u16 {
    (v >> 16) as u16
}

fn lo(v: u32) -> u16 {
    v as u16
}

/// Register `k` (0 or 1) of a 32-bit value.
fn word(v: u32, k: u16) -> u16 {
    if k == 0 {
        hi(v)
    } else {
        lo(v)
    }
}

fn float(v: f32, k: u16) -> u16 {
    word(v.to_bits(), k)
}

/// The value of one register (0 for reserved addresses inside a block).
fn register(s: &State, a: u16) -> u16 {
    match a {
        0 => MAP_VERSION,
        1 => FIRMWARE_VERSION[0] * 100 + FIRMWARE_VERSION[1],
        2 | 3 => word((s.uptime_ms / 1000) as u32, a - 2),
        4 => s.interval_s,
        5 => s.intervals,
        6 => {
            let analog_bad = s.analog[..s.analog_n]
                .iter()
                .any(|c| c.quality != crate::analog::Quality::Good);
            let meter_bad = s.meters[..s.meters_n]
                .iter()
                .any(|m| m.quality != crate::board::MeterQuality::Good);
            let default_config = s.system.config_source != crate::system::ConfigSource::Flash;
            u16::from(analog_bad)
                | u16::from(meter_bad) << 1
                | u16::from(!s.load.valid) << 2
                | u16::from(default_config) << 3
        }
        8 | 9 => word(s.slave.requests, a - 8),
        10 | 11 => word(s.slave.crc_errors, a - 10),
        12 | 13 => word(s.slave.exceptions, a - 12),
        14 | 15 => word(s.master.ok, a - 14),
        16 | 17 => word(s.master.timeouts, a - 16),
        18 | 19 => word(s.master.crc_errors, a - 18),
        20 | 21 => word(s.master.frame_errors, a - 20),
        22 | 23 => word(s.master.exceptions, a - 22),
        24 | 25 => word(s.master.retries, a - 24),
        26 | 27 => word(s.load.errors, a - 26),
        28 | 29 => word(s.adc_errors, a - 28),
        32 | 33 => word(s.system.stack_used, a - 32),
        34 | 35 => word(s.system.stack_size, a - 34),
        36 => s.system.reset_cause,
        37 => s.system.config_source as u16,
        38 => s.system.config_error,
        39 => s.system.watchdog_ms,
        40 | 41 => word(s.system.config_crc, a - 40),
        42 => crate::settings::VERSION,
        43..=45 => FIRMWARE_VERSION[usize::from(a - 43)],
        46 | 47 => word(s.system.stack_boot, a - 46),
        100..=179 => {
            let (ch, off) = ((a - ANALOG) / ANALOG_STRIDE, (a - ANALOG) % ANALOG_STRIDE);
            let c = &s.analog[usize::from(ch)];
            let configured = usize::from(ch) < s.analog_n;
            match off {
                0 => {
                    if configured {
                        c.quality as u16
                    } else {
                        crate::analog::Quality::NoData as u16
                    }
                }
                1 => c.value.done.count,
                2 | 3 => float(c.value.last(), off - 2),
                4 | 5 => float(c.value.done.avg(), off - 4),
                6 | 7 => float(c.value.done.min, off - 6),
                8 | 9 => float(c.value.done.max, off - 8),
                10 | 11 => float(c.milliamps, off - 10),
                _ => 0,
            }
        }
        200..=215 => {
            let off = a - LOAD;
            let l = &s.load;
            match off {
                0 => u16::from(l.loaded),
                1 => {
                    if l.valid {
                        0
                    } else {
                        4
                    }
                }
                2 | 3 => word((l.loaded_ms / 1000) as u32, off - 2),
                4 | 5 => word((l.unloaded_ms / 1000) as u32, off - 4),
                6 | 7 => word(l.cycles, off - 6),
                8 | 9 => float(s.load_fraction.done.avg(), off - 8),
                _ => 0,
            }
        }
        300..=319 => {
            let (ch, off) = ((a - PULSE) / PULSE_STRIDE, (a - PULSE) % PULSE_STRIDE);
            let p = &s.pulses[usize::from(ch)];
            match off {
                0 => {
                    if p.configured {
                        0
                    } else {
                        4
                    }
                }
                2 | 3 => word(p.total, off - 2),
                4 | 5 => word(p.last_interval, off - 4),
                // Pulses per minute over the last interval.
                6 | 7 => float(
                    p.last_interval as f32 * 60.0 / f32::from(s.interval_s.max(1)),
                    off - 6,
                ),
                _ => 0,
            }
        }
        1000..=1399 => {
            let (m, off) = ((a - METER) / METER_STRIDE, (a - METER) % METER_STRIDE);
            let st = &s.meters[usize::from(m)];
            match off {
                0 => st.quality as u16,
                1 => u16::from(st.last_exception),
                2 | 3 => word(st.ok, off - 2),
                4 | 5 => word(st.failed, off - 4),
                6 | 7 => word(
                    st.last_good_ms
                        .map(|t| ((s.uptime_ms - t) / 1000) as u32)
                        .unwrap_or(u32::MAX),
                    off - 6,
                ),
                10..=73 => {
                    let (i, k) = ((off - METER_VALUES) / 8, (off - METER_VALUES) % 8);
                    let v = &st.values[usize::from(i).min(MAX_VALUES - 1)];
                    match k {
                        0 | 1 => float(v.last(), k),
                        2 | 3 => float(v.done.avg(), k - 2),
                        4 | 5 => float(v.done.min, k - 4),
                        _ => float(v.done.max, k - 6),
                    }
                }
                _ => 0,
            }
        }
        _ => 0,
    }
}

/// Fills `out` from `address`, or refuses a range outside the map.
pub fn read(s: &State, address: u16, out: &mut [u16]) -> Result<(), u8> {
    let end = u32::from(address) + out.len() as u32;
    let inside = BLOCKS
        .iter()
        .any(|(start, len)| address >= *start && end <= u32::from(*start) + u32::from(*len));
    if !inside {
        return Err(ILLEGAL_DATA_ADDRESS);
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = register(s, address + i as u16);
    }
    Ok(())
}
/// The board answers the gateway's reads from this map (the board's state knows nothing of
/// the map, so the two modules do not import each other).
impl crate::slave::Registers for State {
    fn read(&self, address: u16, out: &mut [u16]) -> Result<(), u8> {
        read(self, address, out)
    }
}
