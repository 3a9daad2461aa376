//! The values a site file writes as text: durations, byte sizes and `host:port` addresses.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// The longest duration a site file or a query may give: a hundred years is longer than any
/// interval, timeout or retention means, and keeps every clock sum far from overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(36_500 * 86_400);

/// Parses `250ms`, `5s`, `2m`, `1h`, `1d` (decimals allowed, e.g. `1.5s`): longer than zero,
/// at most [`MAX_DURATION`]. Whole numbers are exact; decimals round to the nanosecond.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let not_a_duration = || format!("`{text}` is not a duration (use e.g. 500ms, 5s, 2m, 1h, 90d)");
    let too_long = || {
        format!(
            "`{text}` is too long (at most {}d)",
            MAX_DURATION.as_secs() / 86_400
        )
    };
    let nanos_per: u128 = match unit.trim() {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ if num.is_empty() => return Err(not_a_duration()),
        _ => return Err(format!("`{text}` has no unit (use ms, s, m, h or d)")),
    };
    let nanos = if num.contains('.') {
        let n: f64 = num.parse().map_err(|_| not_a_duration())?;
        // Saturating: digits alone can reach infinity, which is then too long.
        (n * nanos_per as f64).round() as u128
    } else if num.is_empty() {
        return Err(not_a_duration());
    } else {
        // All digits: a parse failure is an overflow.
        num.parse::<u128>()
            .ok()
            .and_then(|n| n.checked_mul(nanos_per))
            .ok_or_else(too_long)?
    };
    if nanos == 0 {
        return Err(format!("`{text}` must be longer than zero"));
    }
    if nanos > MAX_DURATION.as_nanos() {
        return Err(too_long());
    }
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| too_long())?;
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

pub(super) fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}

pub(super) fn de_opt_duration<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    de_duration(d).map(Some)
}

/// Parses a byte size: `4096`, `64KB`, `512MB`, `2GB` (also KiB, MiB, GiB; powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a size (use e.g. 64MB, 2GB)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("`{text}`: unknown size unit (use B, KB, MB, GB)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{text}` is too large"))
}

pub(super) fn de_size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Bytes(n) => Ok(n),
        Size::Text(t) => parse_size(&t).map_err(serde::de::Error::custom),
    }
}

/// What is wrong with a `host:port` address, if anything.
pub(super) fn address_problem(addr: &str) -> Option<String> {
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Some(format!("`{addr}` must be host:port"));
    };
    if host.trim_matches(['[', ']']).trim().is_empty() {
        return Some(format!("`{addr}` has no host: use host:port"));
    }
    // An IPv6 address is written in brackets, whole: [::1]:1883.
    let bracketed = host.starts_with('[') && host.ends_with(']');
    if (host.contains(['[', ']']) || host.contains(':')) && !bracketed {
        return Some(format!(
            "`{addr}`: write an IPv6 address in brackets, e.g. [::1]:1883"
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => None,
        _ => Some(format!("`{addr}`: the port must be 1-65535")),
    }
}

pub(super) fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_host_and_port_with_ipv6_in_brackets() {
        for ok in ["127.0.0.1:1883", "broker.plant:8883", "[::1]:1883"] {
            assert_eq!(address_problem(ok), None, "{ok}");
        }
        for bad in [
            "[::1:1883",
            "::1:1883",
            "::1]:1883",
            "host",
            ":1883",
            "h:0",
            "h:99999",
        ] {
            assert!(address_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(
            parse_duration("90d").unwrap(),
            Duration::from_secs(90 * 86400)
        );
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("fast").is_err());
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("36500d").unwrap(), MAX_DURATION);
        let digits = "9".repeat(400);
        for long in [
            "36501d",
            "999999999999999d",
            &format!("{digits}d"),
            &format!("{digits}.5s"),
        ] {
            let e = parse_duration(long).unwrap_err();
            assert!(e.contains("too long"), "{long}: {e}");
        }
        assert!(parse_duration("0.0000000001s")
            .unwrap_err()
            .contains("longer than zero"));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn durations_never_panic(text in "\\PC{0,40}") {
                let _ = parse_duration(&text);
            }

            #[test]
            fn number_and_unit_durations_are_in_range(
                num in "[0-9.]{0,60}",
                unit in "(ms|s|m|min|h|d| d|x|)",
            ) {
                if let Ok(d) = parse_duration(&format!("{num}{unit}")) {
                    prop_assert!(!d.is_zero() && d <= MAX_DURATION);
                }
            }

            #[test]
            fn whole_durations_round_trip(ms in 1..=MAX_DURATION.as_millis() as u64) {
                prop_assert_eq!(parse_duration(&format!("{ms}ms")), Ok(Duration::from_millis(ms)));
                if ms % 1000 == 0 {
                    prop_assert_eq!(
                        parse_duration(&format!("{}s", ms / 1000)),
                        Ok(Duration::from_millis(ms))
                    );
                }
            }

            #[test]
            fn sizes_never_panic_and_round_trip(
                text in "\\PC{0,30}",
                n in 0u64..(1 << 34),
                unit in prop::sample::select(vec![("", 1u64), ("KB", 1 << 10), ("MB", 1 << 20), ("GiB", 1 << 30)]),
            ) {
                let _ = parse_size(&text);
                let (suffix, mult) = unit;
                prop_assert_eq!(parse_size(&format!("{n}{suffix}")), Ok(n * mult));
                let _ = parse_size(&format!("{n}{n}{n}{suffix}"));
            }
        }
    }
}
