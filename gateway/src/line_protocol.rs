//! InfluxDB line protocol for stored polls: written by the store into its outbox (in the same
//! transaction as the samples) and sent by the InfluxDB forwarder. Its own module, so the store
//! and the forwarder both use it without importing each other.

use std::fmt::Write as _;

use kilowatch_site::payload::{DevicePoll, Quality};

/// Escapes a measurement name (commas and spaces).
pub(crate) fn esc_measurement(s: &str, out: &mut String) {
    for c in s.chars() {
        if matches!(c, ',' | ' ' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Escapes a tag key, tag value or field key (commas, equals signs and spaces).
pub(crate) fn esc_tag(s: &str, out: &mut String) {
    for c in s.chars() {
        if matches!(c, ',' | '=' | ' ' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// The lines for one poll: measurement = quantity, tags site, device, asset (if any) and unit,
/// field `value`, timestamp in ms. Only good values are written: a value the device did not
/// give is not invented as a point.
pub fn poll_lines(p: &DevicePoll, asset: Option<&str>, out: &mut String) -> usize {
    let ts = p.ts.timestamp_millis();
    let mut n = 0;
    for r in &p.readings {
        let (Quality::Good, Some(v)) = (r.quality, r.value) else {
            continue;
        };
        esc_measurement(&r.quantity, out);
        out.push_str(",site=");
        esc_tag(&p.site, out);
        out.push_str(",device=");
        esc_tag(&p.device, out);
        if let Some(a) = asset {
            out.push_str(",asset=");
            esc_tag(a, out);
        }
        if !r.unit.is_empty() {
            out.push_str(",unit=");
            esc_tag(&r.unit, out);
        }
        let _ = writeln!(out, " value={v:?} {ts}");
        n += 1;
    }
    n
}
