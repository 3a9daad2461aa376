//! The on-disk record: `KWS1`, the length `n` of the rest (u32 LE), its CRC-32 (u32 LE), then
//! `n` bytes: id (u64), poll time in ms (i64), per-device seq (u64), device and topic
//! (u16-length-prefixed) and the JSON payload.

use super::types::Record;

pub(super) const MAGIC: [u8; 4] = *b"KWS1";
pub(super) const HEADER: usize = 12;
/// Longest record accepted when reading back (a poll of a few hundred quantities is ~30 KB).
pub(super) const MAX_RECORD: usize = 4 << 20;

pub(super) fn encode(
    id: u64,
    ts_ms: i64,
    seq: u64,
    device: &str,
    topic: &str,
    body: &[u8],
) -> Vec<u8> {
    let n = 8 + 8 + 8 + 2 + device.len() + 2 + topic.len() + body.len();
    let mut out = Vec::with_capacity(HEADER + n);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&ts_ms.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    for s in [device, topic] {
        out.extend_from_slice(&u16::try_from(s.len()).unwrap_or(u16::MAX).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    out.extend_from_slice(body);
    let crc = crc32fast::hash(&out[HEADER..]);
    out[8..12].copy_from_slice(&crc.to_le_bytes());
    out
}

/// A decoded record body, borrowing from the buffer.
pub(super) struct Parsed<'a> {
    pub id: u64,
    pub ts_ms: i64,
    pub seq: u64,
    pub device: &'a str,
    pub topic: &'a str,
    pub body: &'a [u8],
}

impl Parsed<'_> {
    pub fn to_record(&self) -> Record {
        Record {
            id: self.id,
            ts_ms: self.ts_ms,
            seq: self.seq,
            topic: self.topic.to_owned(),
            body: self.body.to_vec(),
        }
    }
}

pub(super) fn parse_body(b: &[u8]) -> Option<Parsed<'_>> {
    let u64_at = |at: usize| {
        b.get(at..at + 8)
            .and_then(|s| s.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let id = u64_at(0)?;
    let ts_ms = u64_at(8)? as i64;
    let seq = u64_at(16)?;
    let mut at = 24;
    let mut text = || -> Option<&str> {
        let len = usize::from(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?));
        let s = std::str::from_utf8(b.get(at + 2..at + 2 + len)?).ok()?;
        at += 2 + len;
        Some(s)
    };
    let device = text()?;
    let topic = text()?;
    Some(Parsed {
        id,
        ts_ms,
        seq,
        device,
        topic,
        body: &b[at..],
    })
}

/// Checks the record starting at `buf[0]`; returns its total length if it is whole and intact.
pub(super) fn check_record(buf: &[u8]) -> Option<usize> {
    if buf.len() < HEADER || buf[..4] != MAGIC {
        return None;
    }
    let n = u32::from_le_bytes(buf[4..8].try_into().ok()?) as usize;
    if n > MAX_RECORD || buf.len() < HEADER + n {
        return None;
    }
    let crc = u32::from_le_bytes(buf[8..12].try_into().ok()?);
    let body = &buf[HEADER..HEADER + n];
    (crc32fast::hash(body) == crc && parse_body(body).is_some()).then_some(HEADER + n)
}

/// The intact record at `data[at..]`, decoded, with its length.
pub(super) fn record_at(data: &[u8], at: usize) -> Option<(Parsed<'_>, usize)> {
    let len = check_record(&data[at..])?;
    Some((parse_body(&data[at + HEADER..at + len])?, len))
}

/// Where the next intact record after `at` starts (resynchronising past damage), if any.
pub(super) fn next_intact(data: &[u8], at: usize) -> Option<usize> {
    (at + 1..data.len())
        .find(|&k| data[k..].starts_with(&MAGIC) && check_record(&data[k..]).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_any_flipped_byte_is_caught() {
        let rec = encode(7, -5, 3, "dev", "t/dev/data", b"{}");
        let (p, len) = record_at(&rec, 0).unwrap();
        assert_eq!(len, rec.len());
        assert_eq!(
            (p.id, p.ts_ms, p.seq, p.device, p.topic, p.body),
            (7, -5, 3, "dev", "t/dev/data", &b"{}"[..])
        );
        for i in 0..rec.len() {
            let mut bad = rec.clone();
            bad[i] ^= 0x01;
            assert!(check_record(&bad).is_none(), "byte {i}");
        }
        let mut two = vec![0xAA; 5];
        two.extend_from_slice(&rec);
        assert_eq!(next_intact(&two, 0), Some(5));
        assert!(check_record(&rec[..rec.len() - 1]).is_none(), "torn");
    }
}
