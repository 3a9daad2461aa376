//! The board's configuration block: what a site sets (Modbus unit, baud rates, meters, analog
//! channels, timing), kept in a flash block that a host tool writes over the debug link
//! (`kilowatch-meterboard-config`), never over Modbus: the board is read-only on the bus.
//! Format (documented in `firmware/CONFIG_BLOCK.md`), all numbers little-endian:
//!
//! | offset | size | content |
//! |---:|---:|---|
//! | 0 | 4 | magic `KWMB` |
//! | 4 | 2 | format version ([`VERSION`]) |
//! | 6 | 2 | payload length n |
//! | 8 | n | payload |
//! | 8 + n | 4 | CRC-32 (IEEE, as zlib's `crc32`) of bytes 0 … 8 + n − 1 |
//!
//! A block that fails a check is refused whole and the board runs [`safe_default`].

use crate::analog::LoopChannel;
use crate::board::{Config, MeterConfig, WordOrder, MAX_ANALOG, MAX_METERS, MAX_VALUES};

pub const MAGIC: [u8; 4] = *b"KWMB";
pub const VERSION: u16 = 1;
const HEADER: usize = 8;
const FIXED: usize = 28;
const ANALOG_LEN: usize = 16;
const METER_LEN: usize = 6;
/// The largest block: header, payload with every channel and meter, CRC.
pub const BLOCK_MAX: usize = HEADER + FIXED + MAX_ANALOG * ANALOG_LEN + MAX_METERS * METER_LEN + 4;

/// Why a block was refused; the number is served in the register map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum BlockError {
    /// Erased (0xFF) or zeroed: no block was ever written.
    Missing = 1,
    BadMagic = 2,
    UnsupportedVersion = 3,
    BadLength = 4,
    BadCrc = 5,
    /// Well-formed but a value is out of range (unit, baud, function, counts …).
    BadContent = 6,
}

/// CRC-32 (IEEE 802.3, reflected, as zlib's `crc32`).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// What a board runs when its block is missing or corrupt: reachable at the factory address
/// (unit 1, 9600 baud) so the fault can be read, and polling no meter and scaling no input,
/// since any guess could address the wrong device or report a wrong value as good.
/// `pulse_bits` and `load_inverted` are the board's hardware, not site settings.
pub fn safe_default(pulse_bits: u8, load_inverted: bool) -> Config {
    Config {
        unit: 1,
        upstream_baud: 9_600,
        meter_baud: 9_600,
        meter_timeout_ms: 200,
        meter_retries: 2,
        poll_period_ms: 1_000,
        sample_period_ms: 10,
        interval_s: 60,
        analog: heapless::Vec::new(),
        meters: heapless::Vec::new(),
        debounce_samples: 5,
        load_inverted,
        pulse_bits,
    }
}

/// Writes `cfg`'s block into `out`; returns its length.
pub fn encode(cfg: &Config, out: &mut [u8; BLOCK_MAX]) -> usize {
    let mut w = Writer { out, at: HEADER };
    w.u8(cfg.unit);
    w.u8(cfg.meter_retries);
    w.u8(cfg.debounce_samples);
    w.u8(cfg.analog.len() as u8);
    w.u8(cfg.meters.len() as u8);
    w.u8(0);
    w.u16(cfg.interval_s);
    for v in [
        cfg.upstream_baud,
        cfg.meter_baud,
        cfg.meter_timeout_ms,
        cfg.poll_period_ms,
        cfg.sample_period_ms,
    ] {
        w.u32(v);
    }
    for a in &cfg.analog {
        w.u8(a.channel);
        w.u8(0);
        w.u16(a.full_scale);
        w.u16(a.vref_mv);
        w.u16(a.shunt_ohm);
        w.u32(a.low.to_bits());
        w.u32(a.high.to_bits());
    }
    for m in &cfg.meters {
        w.u8(m.unit);
        w.u8(m.function);
        w.u16(m.address);
        w.u8(m.values);
        w.u8(match m.order {
            WordOrder::HighFirst => 0,
            WordOrder::LowFirst => 1,
        });
    }
    let end = w.at;
    out[..4].copy_from_slice(&MAGIC);
    out[4..6].copy_from_slice(&VERSION.to_le_bytes());
    out[6..8].copy_from_slice(&((end - HEADER) as u16).to_le_bytes());
    let crc = crc32(&out[..end]);
    out[end..end + 4].copy_from_slice(&crc.to_le_bytes());
    end + 4
}

/// The configuration in `block` (the flash block, at least its first [`BLOCK_MAX`] bytes
/// or all of it) on top of `hw` (whose `pulse_bits` and `load_inverted` are kept), and the
/// block's CRC.
pub fn decode(block: &[u8], hw: &Config) -> Result<(Config, u32), BlockError> {
    let head = block.get(..HEADER).ok_or(BlockError::BadLength)?;
    if head[..4] != MAGIC {
        let blank = head.iter().all(|&b| b == 0xFF) || head.iter().all(|&b| b == 0);
        return Err(if blank {
            BlockError::Missing
        } else {
            BlockError::BadMagic
        });
    }
    if u16::from_le_bytes([head[4], head[5]]) != VERSION {
        return Err(BlockError::UnsupportedVersion);
    }
    let n = usize::from(u16::from_le_bytes([head[6], head[7]]));
    if !(FIXED..=BLOCK_MAX - HEADER - 4).contains(&n) || block.len() < HEADER + n + 4 {
        return Err(BlockError::BadLength);
    }
    let crc_at = HEADER + n;
    let crc = crc32(&block[..crc_at]);
    let stored = [0, 1, 2, 3].map(|i| block[crc_at + i]);
    if crc != u32::from_le_bytes(stored) {
        return Err(BlockError::BadCrc);
    }
    let cfg = parse(&block[HEADER..crc_at], hw).ok_or(BlockError::BadContent)?;
    Ok((cfg, crc))
}

/// The payload's values, or `None` if one is out of range or the counts disagree with the
/// length.
fn parse(p: &[u8], hw: &Config) -> Option<Config> {
    let mut r = Reader { p, at: 0 };
    let unit = r.u8()?;
    let meter_retries = r.u8()?;
    let debounce_samples = r.u8()?;
    let (n_analog, n_meters) = (usize::from(r.u8()?), usize::from(r.u8()?));
    r.u8()?;
    let interval_s = r.u16()?;
    let [upstream_baud, meter_baud, meter_timeout_ms, poll_period_ms, sample_period_ms] =
        [r.u32()?, r.u32()?, r.u32()?, r.u32()?, r.u32()?];
    if p.len() != FIXED + n_analog * ANALOG_LEN + n_meters * METER_LEN {
        return None;
    }
    let baud_ok = |b: u32| (1_200..=115_200).contains(&b);
    let ok = (1..=247).contains(&unit)
        && baud_ok(upstream_baud)
        && baud_ok(meter_baud)
        && (10..=10_000).contains(&meter_timeout_ms)
        && meter_retries <= 5
        && (100..=3_600_000).contains(&poll_period_ms)
        && (1..=60_000).contains(&sample_period_ms)
        && (1..=3_600).contains(&interval_s)
        && (1..=100).contains(&debounce_samples);
    if !ok {
        return None;
    }
    let mut analog = heapless::Vec::new();
    for _ in 0..n_analog {
        let channel = r.u8()?;
        r.u8()?;
        let a = LoopChannel {
            channel,
            full_scale: r.u16()?,
            vref_mv: r.u16()?,
            shunt_ohm: r.u16()?,
            low: f32::from_bits(r.u32()?),
            high: f32::from_bits(r.u32()?),
        };
        let ok = a.full_scale > 0
            && a.vref_mv > 0
            && a.shunt_ohm > 0
            && a.low.is_finite()
            && a.high.is_finite()
            && a.low != a.high;
        if !ok {
            return None;
        }
        analog.push(a).ok()?;
    }
    let mut meters = heapless::Vec::new();
    for _ in 0..n_meters {
        let m = MeterConfig {
            unit: r.u8()?,
            function: r.u8()?,
            address: r.u16()?,
            values: r.u8()?,
            order: match r.u8()? {
                0 => WordOrder::HighFirst,
                1 => WordOrder::LowFirst,
                _ => return None,
            },
        };
        let ok = (1..=247).contains(&m.unit)
            && matches!(m.function, 3 | 4)
            && (1..=MAX_VALUES as u8).contains(&m.values);
        if !ok {
            return None;
        }
        meters.push(m).ok()?;
    }
    Some(Config {
        unit,
        upstream_baud,
        meter_baud,
        meter_timeout_ms,
        meter_retries,
        poll_period_ms,
        sample_period_ms,
        interval_s,
        analog,
        meters,
        debounce_samples,
        load_inverted: hw.load_inverted,
        pulse_bits: hw.pulse_bits,
    })
}

/// The configuration a board runs, and what the register map reports about it.
pub struct Loaded {
    pub config: Config,
    pub source: crate::system::ConfigSource,
    /// The [`BlockError`] as a number, 0 when the block was used.
    pub error: u16,
    /// CRC-32 of the block in use (of the default's encoding when the default runs).
    pub crc: u32,
}

/// The configuration from `block`, or `default` (with the reason) when it is refused.
pub fn load(block: &[u8], default: Config) -> Loaded {
    use crate::system::ConfigSource;
    match decode(block, &default) {
        Ok((config, crc)) => Loaded {
            config,
            source: ConfigSource::Flash,
            error: 0,
            crc,
        },
        Err(e) => {
            let mut buf = [0u8; BLOCK_MAX];
            let n = encode(&default, &mut buf);
            Loaded {
                config: default,
                source: if e == BlockError::Missing {
                    ConfigSource::Missing
                } else {
                    ConfigSource::Corrupt
                },
                error: e as u16,
                crc: u32::from_le_bytes([buf[n - 4], buf[n - 3], buf[n - 2], buf[n - 1]]),
            }
        }
    }
}

struct Writer<'a> {
    out: &'a mut [u8; BLOCK_MAX],
    at: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) {
        self.out[self.at..self.at + b.len()].copy_from_slice(b);
        self.at += b.len();
    }
    fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
}

struct Reader<'a> {
    p: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let b = self.p.get(self.at..self.at + N)?;
        self.at += N;
        b.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take::<1>()?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Config {
        let mut cfg = safe_default(16, true);
        cfg.unit = 7;
        cfg.meter_baud = 19_200;
        let _ = cfg
            .analog
            .push(LoopChannel::reference_board(2, -20.0, 80.0));
        let _ = cfg.meters.push(MeterConfig {
            unit: 3,
            function: 3,
            address: 0x100,
            values: 2,
            order: WordOrder::LowFirst,
        });
        cfg
    }

    fn block(cfg: &Config) -> ([u8; BLOCK_MAX], usize) {
        let mut buf = [0u8; BLOCK_MAX];
        let n = encode(cfg, &mut buf);
        (buf, n)
    }

    #[test]
    fn a_block_round_trips_and_keeps_the_boards_hardware() {
        let cfg = site();
        let (buf, n) = block(&cfg);
        assert_eq!(n, HEADER + FIXED + ANALOG_LEN + METER_LEN + 4);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926, "the standard check value");
        let hw = safe_default(32, false);
        let (got, crc) = decode(&buf[..n], &hw).unwrap();
        assert_eq!(crc, crc32(&buf[..n - 4]));
        assert_eq!((got.pulse_bits, got.load_inverted), (32, false));
        assert_eq!(got.unit, 7);
        assert_eq!(got.meter_baud, 19_200);
        assert_eq!(got.analog[..], cfg.analog[..]);
        assert_eq!(got.meters[..], cfg.meters[..]);
        // Flash beyond the block (erased) does not matter.
        let mut flash = [0xFFu8; 512];
        flash[..n].copy_from_slice(&buf[..n]);
        assert!(decode(&flash, &hw).is_ok());
    }

    #[test]
    fn every_damage_is_refused_with_its_reason_and_the_default_runs() {
        let (buf, n) = block(&site());
        let hw = safe_default(16, true);
        assert_eq!(decode(&[0xFF; 64], &hw).unwrap_err(), BlockError::Missing);
        assert_eq!(decode(&[0; 64], &hw).unwrap_err(), BlockError::Missing);
        // Any single flipped bit anywhere in the block is caught.
        for i in 0..n {
            for bit in 0..8 {
                let mut b = buf;
                b[i] ^= 1 << bit;
                assert!(decode(&b[..n], &hw).is_err(), "byte {i} bit {bit}");
            }
        }
        let mut b = buf;
        b[0] = b'X';
        assert_eq!(decode(&b, &hw).unwrap_err(), BlockError::BadMagic);
        let mut b = buf;
        b[4] = 2;
        assert_eq!(decode(&b, &hw).unwrap_err(), BlockError::UnsupportedVersion);
        assert_eq!(
            decode(&buf[..n - 1], &hw).unwrap_err(),
            BlockError::BadLength
        );
        let mut b = buf;
        b[HEADER + 1] ^= 0x40;
        assert_eq!(decode(&b, &hw).unwrap_err(), BlockError::BadCrc);
        // A well-formed block with an impossible value (unit 0), CRC made right.
        let mut bad = site();
        bad.unit = 0;
        let (b, n) = block(&bad);
        assert_eq!(decode(&b[..n], &hw).unwrap_err(), BlockError::BadContent);

        let mut b = buf;
        b[HEADER + 10] ^= 1;
        let loaded = load(&b, safe_default(16, true));
        assert_eq!(loaded.source, crate::system::ConfigSource::Corrupt);
        assert_eq!(loaded.error, BlockError::BadCrc as u16);
        assert!(loaded.config.meters.is_empty() && loaded.config.analog.is_empty());
        assert_eq!(loaded.config.unit, 1);
        let (d, dn) = block(&safe_default(16, true));
        assert_eq!(loaded.crc, crc32(&d[..dn - 4]));
        let ok = load(&buf[..n], safe_default(16, true));
        assert_eq!(ok.source, crate::system::ConfigSource::Flash);
        assert_eq!((ok.error, ok.config.unit), (0, 7));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let hw = safe_default(16, true);
        let mut seed = 0x1234_5678u32;
        let (good, n) = block(&site());
        for _ in 0..20_000 {
            let mut b = good;
            for _ in 0..3 {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                b[(seed >> 8) as usize % BLOCK_MAX] = (seed >> 24) as u8;
            }
            let len = (seed as usize >> 3) % (BLOCK_MAX + 1);
            let _ = decode(&b[..len], &hw);
            let _ = decode(&b[..n], &hw);
        }
    }
}
