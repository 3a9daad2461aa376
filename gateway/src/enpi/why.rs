//! Why an indicator is missing, in the reader's language. The engine keeps its reasons as
//! English text (stored with the indicators, and so in rows written by earlier versions); this
//! reads a reason back into its catalogue message: a known sentence or pattern, and the share of
//! quarter-hours it held. A reason it does not know is shown as is, quoted.

use crate::i18n::{t, tr, Language};

/// The engine's fixed reasons and their catalogue keys.
const KNOWN: [(&str, &str); 38] = [
    ("billed per month: see step 1mo", "enpi-why-billed-monthly"),
    ("chiller drew no power", "enpi-why-chiller-no-power"),
    ("compressor not running", "enpi-why-compressor-stopped"),
    ("fuel not resolved", "enpi-why-fuel-unresolved"),
    ("input not configured for this asset", "enpi-why-not-configured"),
    ("lit area not configured (area_m2)", "enpi-why-no-area"),
    ("load cycles need the compressor's load signal (load_state), e.g. from the kilowatch meter board", "enpi-why-no-load-signal-cycles"),
    ("load/unload compressor stopped during no-production periods", "enpi-why-stopped-idle"),
    ("no air delivered", "enpi-why-no-air"),
    ("no air flow or air volume series configured (flow)", "enpi-why-no-air-flow"),
    ("no air moved", "enpi-why-no-air-moved"),
    ("no apparent energy", "enpi-why-no-apparent"),
    ("no contract capacity configured (site.contract_kw or [site.contracts])", "enpi-why-no-contract"),
    ("no cooling delivered", "enpi-why-no-cooling"),
    ("no demand", "enpi-why-no-demand"),
    ("no emission factors configured (site.emission_factors)", "enpi-why-no-emission-factors"),
    ("no fuel burned", "enpi-why-no-fuel-burned"),
    ("no fuel_price configured", "enpi-why-no-fuel-price"),
    ("no heat rejected", "enpi-why-no-heat-rejected"),
    ("no load signal: configure load_state or load_from_power for this compressor", "enpi-why-no-load-signal"),
    ("no no-production period in this interval", "enpi-why-no-idle-period"),
    ("no pressure series configured", "enpi-why-no-pressure"),
    ("no production counter configured (production)", "enpi-why-no-production-counter"),
    ("no production counter or idle schedule configured for leak detection", "enpi-why-no-leak-detection"),
    ("no production in this interval", "enpi-why-no-production"),
    ("no pumps or cooling towers metered (auxiliaries)", "enpi-why-no-auxiliaries"),
    ("no steam raised", "enpi-why-no-steam"),
    ("no tariff configured (site.tariff)", "enpi-why-no-tariff"),
    ("no water pumped", "enpi-why-no-water"),
    ("part-load bins need the chiller's rated capacity (capacity_tr)", "enpi-why-no-capacity"),
    ("range plus approach is zero", "enpi-why-zero-range-approach"),
    ("the fan drew no power", "enpi-why-fan-no-power"),
    ("the lights were not on", "enpi-why-lights-off"),
    ("the plant drew no power", "enpi-why-plant-no-power"),
    ("the pump drew no power", "enpi-why-pump-no-power"),
    ("the tariff lacks a basic rate of a contract kind", "enpi-why-no-basic-rate"),
    ("the tower had no flow", "enpi-why-tower-no-flow"),
    ("not a finite number (a zero or missing input)", "enpi-why-not-finite"),
];

/// `why` (a reason from [`super::Summary::missing`] or a row's `missing`) in `lang`.
pub fn render(lang: Language, why: &str) -> String {
    if lang == Language::English {
        return why.to_owned();
    }
    let (head, share) = split_share(why);
    let text = sentence(lang, head);
    match share {
        Some((n, of)) => tr(
            lang,
            "enpi-why-share",
            &[("text", &text), ("n", n), ("of", of)],
        ),
        None => text,
    }
}

/// Each distinct reason of `reasons`, said in `lang` (the API's `missing_said`: the rows
/// carry the English reason, the page looks it up here).
pub fn said<'a>(
    lang: Language,
    reasons: impl Iterator<Item = &'a String>,
) -> std::collections::BTreeMap<&'a str, String> {
    reasons
        .map(|why| (why.as_str(), render(lang, why)))
        .collect()
}

/// `reason (n of m quarter-hours)` → (`reason`, (`n`, `m`)).
fn split_share(why: &str) -> (&str, Option<(&str, &str)>) {
    let Some(rest) = why.strip_suffix(" quarter-hours)") else {
        return (why, None);
    };
    let Some(open) = rest.rfind(" (") else {
        return (why, None);
    };
    match rest[open + 2..].split_once(" of ") {
        Some((n, of))
            if [n, of]
                .iter()
                .all(|s| s.chars().all(|c| c.is_ascii_digit())) =>
        {
            (&why[..open], Some((n, of)))
        }
        _ => (why, None),
    }
}

fn sentence(lang: Language, head: &str) -> String {
    if let Some((_, key)) = KNOWN.iter().find(|(en, _)| *en == head) {
        return t(lang, key);
    }
    if let Some(input) = head.strip_prefix("no data from ") {
        return tr(lang, "enpi-why-no-data-from", &[("input", input)]);
    }
    if let Some(series) = head
        .strip_prefix("no series ")
        .and_then(|s| s.strip_suffix(" in the store"))
    {
        return tr(lang, "enpi-why-no-series", &[("series", series)]);
    }
    tr(lang, "enpi-why-other", &[("text", head)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_said_in_chinese_with_their_share_of_quarter_hours() {
        let zh = Language::TraditionalChinese;
        assert_eq!(
            render(zh, "no air delivered (3 of 96 quarter-hours)"),
            "未供氣（96 個刻鐘中有 3 個）"
        );
        assert_eq!(
            render(zh, "no tariff configured (site.tariff)"),
            "未設定電價表（site.tariff）"
        );
        assert_eq!(
            render(zh, "no data from air-header/air_flow"),
            "air-header/air_flow 沒有資料"
        );
        assert_eq!(render(zh, "something new"), "「something new」");
        let en = "no air delivered (3 of 96 quarter-hours)";
        assert_eq!(render(Language::English, en), en);
        // Every known reason has its own Chinese sentence.
        for (en, key) in KNOWN {
            let text = render(zh, en);
            assert!(!text.starts_with('「'), "{key}: {text}");
            assert_ne!(text, en);
        }
    }

    #[test]
    fn the_apis_map_has_each_reason_once_keyed_by_its_english() {
        let reasons = [
            "no data from m/active_power".to_owned(),
            "no air delivered (3 of 96 quarter-hours)".to_owned(),
            "no data from m/active_power".to_owned(),
        ];
        let said = said(Language::TraditionalChinese, reasons.iter());
        assert_eq!(said.len(), 2);
        assert_eq!(
            said["no data from m/active_power"],
            "m/active_power 沒有資料"
        );
        assert_eq!(
            said["no air delivered (3 of 96 quarter-hours)"],
            "未供氣（96 個刻鐘中有 3 個）"
        );
    }
}
