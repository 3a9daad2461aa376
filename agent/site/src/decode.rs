//! Register words ⇄ numbers, for every data type and word/byte order real meters use.
//!
//! Orders name the byte sequence of a 32-bit value `ABCD` (A = most significant byte) as it
//! appears on the wire: `ABCD` big-endian (Modbus default, Eastron), `CDAB` word-swapped
//! (many Schneider and Chint maps), `BADC` byte-swapped, `DCBA` little-endian. For 64-bit types
//! the same rule extends over four words.

use serde::Deserialize;
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    Bool,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F32,
    F64,
}

impl DataType {
    /// Registers (16-bit words) the type occupies; a bool occupies one register or one bit.
    pub fn words(self) -> u16 {
        match self {
            DataType::Bool | DataType::U16 | DataType::I16 => 1,
            DataType::U32 | DataType::I32 | DataType::F32 => 2,
            DataType::U64 | DataType::I64 | DataType::F64 => 4,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum WordOrder {
    #[default]
    ABCD,
    CDAB,
    BADC,
    DCBA,
}

#[derive(Debug, Error, PartialEq)]
pub enum DecodeError {
    #[error("{ty:?} needs {need} registers, got {got}")]
    Length {
        ty: DataType,
        need: usize,
        got: usize,
    },
}

/// Bytes of `words` rearranged into big-endian order according to `order`.
fn to_big_endian(words: &[u16], order: WordOrder) -> Vec<u8> {
    let mut seq: Vec<u16> = words.to_vec();
    if matches!(order, WordOrder::CDAB | WordOrder::DCBA) {
        seq.reverse();
    }
    let swap = matches!(order, WordOrder::BADC | WordOrder::DCBA);
    seq.iter()
        .flat_map(|w| {
            let b = w.to_be_bytes();
            if swap {
                [b[1], b[0]]
            } else {
                b
            }
        })
        .collect()
}

/// Inverse of [`to_big_endian`]: the words a device sends for the big-endian `bytes`.
fn from_big_endian(bytes: &[u8], order: WordOrder) -> Vec<u16> {
    let swap = matches!(order, WordOrder::BADC | WordOrder::DCBA);
    let mut words: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|b| {
            if swap {
                u16::from_be_bytes([b[1], b[0]])
            } else {
                u16::from_be_bytes([b[0], b[1]])
            }
        })
        .collect();
    if matches!(order, WordOrder::CDAB | WordOrder::DCBA) {
        words.reverse();
    }
    words
}

/// Widens an f32 to the f64 with the same shortest decimal form (230.1f32 → 230.1, not
/// 230.100006103515625): the device's precision, without digits it never had.
fn f32_to_f64(v: f32) -> f64 {
    if v.is_finite() {
        // ryu formats on the stack: no allocation for every register read.
        ryu::Buffer::new()
            .format_finite(v)
            .parse()
            .unwrap_or(f64::from(v))
    } else {
        f64::from(v)
    }
}

/// Decodes ASCII text packed two characters per register, first character in the high byte
/// (`ABCD`/`CDAB`) or in the low byte (`BADC`/`DCBA`, byte-swapped devices). Trailing NULs and
/// spaces are dropped; bytes outside printable ASCII become `?`, so a garbled register never
/// produces control characters in logs.
pub fn decode_string(words: &[u16], order: WordOrder) -> String {
    let swap = matches!(order, WordOrder::BADC | WordOrder::DCBA);
    let bytes: Vec<u8> = words
        .iter()
        .flat_map(|w| {
            let b = w.to_be_bytes();
            if swap {
                [b[1], b[0]]
            } else {
                b
            }
        })
        .collect();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    bytes[..end]
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '?'
            }
        })
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// Decodes the raw value of `ty` from exactly `ty.words()` registers.
pub fn decode(words: &[u16], ty: DataType, order: WordOrder) -> Result<f64, DecodeError> {
    let need = ty.words() as usize;
    if words.len() != need {
        return Err(DecodeError::Length {
            ty,
            need,
            got: words.len(),
        });
    }
    let b = to_big_endian(words, order);
    Ok(match ty {
        DataType::Bool => f64::from(u8::from(words[0] != 0)),
        DataType::U16 => f64::from(u16::from_be_bytes([b[0], b[1]])),
        DataType::I16 => f64::from(i16::from_be_bytes([b[0], b[1]])),
        DataType::U32 => f64::from(u32::from_be_bytes(b[..4].try_into().unwrap())),
        DataType::I32 => f64::from(i32::from_be_bytes(b[..4].try_into().unwrap())),
        DataType::F32 => f32_to_f64(f32::from_be_bytes(b[..4].try_into().unwrap())),
        // 64-bit counters beyond 2^53 lose precision in f64; no meter register gets there.
        DataType::U64 => u64::from_be_bytes(b[..8].try_into().unwrap()) as f64,
        DataType::I64 => i64::from_be_bytes(b[..8].try_into().unwrap()) as f64,
        DataType::F64 => f64::from_be_bytes(b[..8].try_into().unwrap()),
    })
}

/// A status flag of an unsigned register value: 1 when any bit of `mask` is set, else 0
/// (a drive's "running" bit, a fault-code byte that is non-zero on a trip).
pub fn flag(raw: f64, mask: u32) -> f64 {
    // Callers decode u16/u32 registers only: `raw` is a whole number below 2^32.
    f64::from(u8::from((raw as u64) & u64::from(mask) != 0))
}

/// Encodes a raw value as a device would (used by the simulators and tests). Integers are
/// rounded and saturate at the type's range.
pub fn encode(value: f64, ty: DataType, order: WordOrder) -> Vec<u16> {
    let bytes: Vec<u8> = match ty {
        DataType::Bool => return vec![u16::from(value != 0.0)],
        DataType::U16 => (value.round() as u16).to_be_bytes().to_vec(),
        DataType::I16 => (value.round() as i16).to_be_bytes().to_vec(),
        DataType::U32 => (value.round() as u32).to_be_bytes().to_vec(),
        DataType::I32 => (value.round() as i32).to_be_bytes().to_vec(),
        DataType::F32 => (value as f32).to_be_bytes().to_vec(),
        DataType::U64 => (value.round() as u64).to_be_bytes().to_vec(),
        DataType::I64 => (value.round() as i64).to_be_bytes().to_vec(),
        DataType::F64 => value.to_be_bytes().to_vec(),
    };
    from_big_endian(&bytes, order)
}

#[cfg(test)]
mod tests {
    #[test]
    fn strings_in_both_byte_orders() {
        // "PM5560" then NUL padding.
        let words = [0x504D, 0x3535, 0x3630, 0x0000];
        assert_eq!(super::decode_string(&words, WordOrder::ABCD), "PM5560");
        let swapped: Vec<u16> = words.iter().map(|w| w.swap_bytes()).collect();
        assert_eq!(super::decode_string(&swapped, WordOrder::BADC), "PM5560");
        assert_eq!(
            super::decode_string(&[0x4142, 0x0720], WordOrder::ABCD),
            "AB?"
        );
        assert_eq!(super::decode_string(&[0x2020], WordOrder::ABCD), "");
    }

    use super::*;
    use DataType::*;
    use WordOrder::*;

    #[test]
    fn float32_abcd_and_cdab() {
        // 230.5 = 0x43668000
        assert_eq!(decode(&[0x4366, 0x8000], F32, ABCD).unwrap(), 230.5);
        assert_eq!(decode(&[0x8000, 0x4366], F32, CDAB).unwrap(), 230.5);
        // Byte-swapped and little-endian variants of the same value.
        assert_eq!(decode(&[0x6643, 0x0080], F32, BADC).unwrap(), 230.5);
        assert_eq!(decode(&[0x0080, 0x6643], F32, DCBA).unwrap(), 230.5);
        // The wrong order gives a different number: the decoder does not guess.
        assert_ne!(decode(&[0x4366, 0x8000], F32, CDAB).unwrap(), 230.5);
    }

    #[test]
    fn float32_widens_without_spurious_digits() {
        let words = encode(221.2275, F32, ABCD);
        assert_eq!(decode(&words, F32, ABCD).unwrap(), 221.2275);
        assert!(decode(&[0x7FC0, 0x0000], F32, ABCD).unwrap().is_nan());
    }

    #[test]
    fn u32_counter_across_two_registers() {
        // 123_456_789 = 0x075BCD15
        assert_eq!(decode(&[0x075B, 0xCD15], U32, ABCD).unwrap(), 123_456_789.0);
        assert_eq!(decode(&[0xCD15, 0x075B], U32, CDAB).unwrap(), 123_456_789.0);
        // A low word with its top bit set must not sign-extend.
        assert_eq!(decode(&[0x0001, 0xFFFF], U32, ABCD).unwrap(), 131_071.0);
        assert_eq!(
            decode(&[0xFFFF, 0xFFFF], U32, ABCD).unwrap(),
            4_294_967_295.0
        );
    }

    #[test]
    fn i16_scaled() {
        // A PF register in thousandths: -0.875 → -875 = 0xFC95.
        let raw = decode(&[0xFC95], I16, ABCD).unwrap();
        assert_eq!(raw * 0.001, -0.875);
        assert_eq!(decode(&[0x7FFF], I16, ABCD).unwrap(), 32767.0);
        assert_eq!(decode(&[0x8000], I16, ABCD).unwrap(), -32768.0);
        assert_eq!(decode(&[0x8000], U16, ABCD).unwrap(), 32768.0);
    }

    #[test]
    fn sixty_four_bit_types() {
        let words = encode(1_234_567_890_123.0, U64, ABCD);
        assert_eq!(words, vec![0x0000, 0x011F, 0x71FB, 0x04CB]);
        assert_eq!(decode(&words, U64, ABCD).unwrap(), 1_234_567_890_123.0);
        let le = encode(-42.25, F64, DCBA);
        assert_eq!(decode(&le, F64, DCBA).unwrap(), -42.25);
        assert_eq!(decode(&encode(-7.0, I64, CDAB), I64, CDAB).unwrap(), -7.0);
    }

    #[test]
    fn encode_inverts_decode_for_every_order() {
        for order in [ABCD, CDAB, BADC, DCBA] {
            for (ty, v) in [
                (F32, 50.0),
                (U32, 4_000_000_000.0),
                (I32, -5.0),
                (I16, -3.0),
            ] {
                assert_eq!(
                    decode(&encode(v, ty, order), ty, order).unwrap(),
                    v,
                    "{ty:?} {order:?}"
                );
            }
        }
    }

    #[test]
    fn flags_pick_bits_of_a_status_word() {
        // 0x0B03: bits 0, 1, 8, 9 and 11 set.
        let raw = decode(&[0x0B03], U16, ABCD).unwrap();
        assert_eq!(flag(raw, 1 << 0), 1.0);
        assert_eq!(flag(raw, 1 << 2), 0.0);
        assert_eq!(flag(raw, 1 << 11), 1.0);
        assert_eq!(flag(raw, 1 << 15), 0.0);
        // A fault-code byte: any bit of the low byte.
        assert_eq!(flag(raw, 0x00FF), 1.0);
        assert_eq!(flag(decode(&[0x1200], U16, ABCD).unwrap(), 0x00FF), 0.0);
        // Bit 31 of a word-swapped u32.
        let raw = decode(&[0x0000, 0x8000], U32, CDAB).unwrap();
        assert_eq!(flag(raw, 1 << 31), 1.0);
        assert_eq!(flag(raw, 1 << 15), 0.0);
    }

    #[test]
    fn wrong_length_is_an_error() {
        assert_eq!(
            decode(&[1], F32, ABCD),
            Err(DecodeError::Length {
                ty: F32,
                need: 2,
                got: 1
            })
        );
    }
}
