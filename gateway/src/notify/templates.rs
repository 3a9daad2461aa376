//! The words of a notification in the site's language (`[site] language`): subject and text,
//! the evidence as a small table with its labels from the catalogue, and the Slack and Teams
//! message shapes.

use chrono_tz::Tz;
use serde_json::{json, Value};

use super::event::{Digest, Event, Severity};
use crate::i18n::{self, Language};

/// What every message names beside the event.
#[derive(Debug, Clone)]
pub struct Context {
    pub site_id: String,
    pub site_name: String,
    pub tz: Tz,
    /// The dashboard's address as recipients reach it, to make links absolute.
    pub public_url: Option<String>,
    /// The site's language: every word of the message is in it.
    pub lang: Language,
}

impl Context {
    fn link(&self, path: &str) -> String {
        match &self.public_url {
            Some(base) => format!("{}{path}", base.trim_end_matches('/')),
            None => path.to_owned(),
        }
    }

    fn local(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        at.with_timezone(&self.tz)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string()
    }

    fn t(&self, key: &str) -> String {
        i18n::t(self.lang, key)
    }
}

/// The rule's name as a notification says it.
fn rule_label(rule: &str, lang: Language) -> String {
    let key = match rule {
        "demand" => "notify-rule-demand",
        "device-silent" | "agent-offline" | "data" | "meter-silent" => "notify-rule-data",
        "leak" | "leakage" => "notify-rule-leak",
        "specific-power" | "chiller-kw-tr" | "efficiency" => "notify-rule-efficiency",
        "power-factor" => "notify-rule-power-factor",
        "base-load" => "notify-rule-base-load",
        "test" => "notify-rule-test",
        _ => "notify-rule-other",
    };
    i18n::t(lang, key)
}

fn state_label(state: &str, lang: Language) -> String {
    match state {
        "raised" => i18n::t(lang, "state-raised"),
        "acknowledged" => i18n::t(lang, "state-acknowledged"),
        "cleared" => i18n::t(lang, "state-cleared"),
        other => other.to_owned(),
    }
}

fn severity_label(s: Severity, lang: Language) -> String {
    i18n::t(
        lang,
        match s {
            Severity::Info => "sev-info",
            Severity::Warning => "sev-warning",
            Severity::Critical => "sev-critical",
        },
    )
}

/// The alarm's own sentence in the site's language (its English for an event queued before
/// events carried their message).
fn title(e: &Event, lang: Language) -> String {
    i18n::stored_or(e.title_message.as_ref(), &e.title, lang)
}

/// `[kilowatch] Demand warning: <title>`, with the state when it is not a raise.
pub fn subject(e: &Event, cx: &Context) -> String {
    let lang = cx.lang;
    let mut s = i18n::tr(
        lang,
        "notify-subject",
        &[
            ("rule", &rule_label(&e.rule, lang)),
            ("title", &title(e, lang)),
        ],
    );
    let state = match e.state.as_str() {
        "cleared" => Some("notify-cleared"),
        "acknowledged" => Some("notify-acknowledged"),
        _ => None,
    };
    if let Some(key) = state {
        s = i18n::tr(
            lang,
            "notify-subject-state",
            &[("state", &cx.t(key)), ("subject", &s)],
        );
    }
    if e.severity == Severity::Critical {
        s = format!("{} {s}", cx.t("notify-critical"));
    }
    format!("[kilowatch] {s}")
}

/// The evidence as (label, value) rows: an object's fields in order, each named by its
/// catalogue label (`ev-<name>`) when it has one, else by its own name; anything else as one
/// row.
pub fn evidence_rows(evidence: &Value, lang: Language) -> Vec<(String, String)> {
    let show = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let label = |k: &str| {
        let key = format!("ev-{}", k.replace('_', "-"));
        let text = i18n::t(lang, &key);
        if text == key {
            k.to_owned()
        } else {
            text
        }
    };
    match evidence {
        Value::Object(m) => m.iter().map(|(k, v)| (label(k), show(v))).collect(),
        Value::Null => Vec::new(),
        other => vec![(i18n::t(lang, "ev-value"), show(other))],
    }
}

/// Rows of `label: value` with the values aligned (by characters).
fn aligned(rows: &[(String, String)], indent: &str) -> String {
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    rows.iter()
        .map(|(k, v)| {
            let pad = " ".repeat(width - k.chars().count());
            format!("{indent}{k}{pad}  {v}\n")
        })
        .collect()
}

/// The email text of an event.
pub fn email_body(e: &Event, cx: &Context) -> String {
    let lang = cx.lang;
    let mut facts = vec![
        (cx.t("notify-site"), cx.site_name.clone()),
        (cx.t("notify-state"), state_label(&e.state, lang)),
        (cx.t("notify-severity"), severity_label(e.severity, lang)),
        (cx.t("notify-time"), cx.local(e.at)),
    ];
    if let Some(a) = &e.asset {
        facts.push((cx.t("notify-asset"), a.clone()));
    }
    facts.push((cx.t("notify-rule"), format!("{} ({})", e.rule, e.alarm_id)));
    let mut out = format!(
        "{}\n\n",
        i18n::tr(
            lang,
            "notify-subject",
            &[
                ("rule", &rule_label(&e.rule, lang)),
                ("title", &title(e, lang))
            ],
        )
    );
    out.push_str(&aligned(&facts, ""));
    out.push_str(&format!("\n{}\n", cx.t("notify-evidence")));
    out.push_str(&aligned(&evidence_rows(&e.evidence, lang), "  "));
    out.push_str(&format!(
        "\n{}\n",
        i18n::tr(lang, "notify-open", &[("url", &cx.link(&e.link))])
    ));
    out
}

/// `[kilowatch] Daily digest ...`.
pub fn digest_subject(d: &Digest, cx: &Context) -> String {
    let day = d.until.with_timezone(&cx.tz).date_naive();
    let text = i18n::tr(
        cx.lang,
        "notify-digest-subject",
        &[
            ("day", &day.to_string()),
            ("n", &d.items.len().to_string()),
            ("site", &cx.site_name),
        ],
    );
    format!("[kilowatch] {text}")
}

/// One line per notification of the digest, oldest first.
pub fn digest_body(d: &Digest, cx: &Context) -> String {
    let lang = cx.lang;
    let mut out = format!(
        "{}\n\n",
        i18n::tr(
            lang,
            "notify-digest-head",
            &[("since", &cx.local(d.since)), ("until", &cx.local(d.until))],
        )
    );
    for item in &d.items {
        let held = if item.status == "sent" {
            String::new()
        } else {
            format!(" ({})", cx.t("notify-digest-only"))
        };
        out.push_str(&format!(
            "- {}  {}{held}\n",
            cx.local(item.event.at),
            subject(&item.event, cx).trim_start_matches("[kilowatch] ")
        ));
        for (k, v) in evidence_rows(&item.event.evidence, lang) {
            out.push_str(&format!("    {k}: {v}\n"));
        }
    }
    out.push_str(&format!(
        "\n{}\n",
        i18n::tr(lang, "notify-open", &[("url", &cx.link("/#alarms"))])
    ));
    out
}

/// The plain JSON webhook body of an event.
pub fn json_event(e: &Event, cx: &Context) -> Value {
    json!({
        "kind": "alarm",
        "site": cx.site_id,
        "subject": subject(e, cx),
        "url": cx.link(&e.link),
        "event": e,
    })
}

/// The plain JSON webhook body of a digest.
pub fn json_digest(d: &Digest, cx: &Context) -> Value {
    json!({
        "kind": "digest",
        "site": cx.site_id,
        "subject": digest_subject(d, cx),
        "since": d.since,
        "until": d.until,
        "items": d.items,
    })
}

/// A Slack (or Mattermost, Rocket.Chat) incoming-webhook message: `text` for notifications
/// and old clients, `blocks` for the layout.
pub fn slack(subject: &str, fields: &[(String, String)], url: &str, lang: Language) -> Value {
    let fields: Vec<Value> = fields
        .iter()
        .take(10) // Slack's limit per section.
        .map(|(k, v)| json!({"type": "mrkdwn", "text": format!("*{k}*\n{v}")}))
        .collect();
    let mut blocks = vec![json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": format!("*{subject}*")},
    })];
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": i18n::tr(lang, "notify-open", &[("url", url)])}],
    }));
    json!({"text": subject, "blocks": blocks})
}

/// A Microsoft Teams incoming-webhook MessageCard.
pub fn teams(
    subject: &str,
    severity: Severity,
    fields: &[(String, String)],
    url: &str,
    lang: Language,
) -> Value {
    let color = match severity {
        Severity::Info => "2E86C1",
        Severity::Warning => "F39C12",
        Severity::Critical => "C0392B",
    };
    let facts: Vec<Value> = fields
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    let mut card = json!({
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": subject,
        "themeColor": color,
        "title": subject,
        "sections": [{"facts": facts}],
    });
    if url.starts_with("http") {
        card["potentialAction"] = json!([{
            "@type": "OpenUri",
            "name": i18n::t(lang, "notify-open-button"),
            "targets": [{"os": "default", "uri": url}],
        }]);
    }
    card
}

/// The facts shown by the Slack and Teams shapes for an event: state, severity, time, asset,
/// then the evidence.
pub fn event_fields(e: &Event, cx: &Context) -> Vec<(String, String)> {
    let lang = cx.lang;
    let mut f = vec![
        (cx.t("notify-state"), state_label(&e.state, lang)),
        (cx.t("notify-severity"), severity_label(e.severity, lang)),
        (cx.t("notify-time"), cx.local(e.at)),
    ];
    if let Some(a) = &e.asset {
        f.push((cx.t("notify-asset"), a.clone()));
    }
    f.extend(evidence_rows(&e.evidence, lang));
    f
}

/// The link of an event, absolute when the channel knows the dashboard's address.
pub fn event_url(e: &Event, cx: &Context) -> String {
    cx.link(&e.link)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Msg;
    use chrono::Utc;

    fn cx(lang: Language) -> Context {
        Context {
            site_id: "p".into(),
            site_name: "Plant".into(),
            tz: chrono_tz::Asia::Taipei,
            public_url: Some("https://energy.example/".into()),
            lang,
        }
    }

    fn demand() -> Event {
        let message = Msg::new("alarm-demand")
            .arg("projected", "1,040")
            .arg("contract", "1,000")
            .arg("warn", "950")
            .arg("shed", "90")
            .arg("minutes", "10");
        Event {
            key: "demand:1:raised".into(),
            alarm_id: "demand".into(),
            rule: "demand".into(),
            severity: Severity::Warning,
            state: "raised".into(),
            title: message.en(),
            title_message: Some(message),
            asset: Some("plant".into()),
            evidence: json!({"projected_kw": 1040.5, "contract_kw": 1000, "window": "10:00-10:15", "odd_key": 1}),
            link: "/#alarms".into(),
            at: "2026-11-30T02:05:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn subjects_are_in_the_site_language_and_name_the_state() {
        let e = demand();
        let en = cx(Language::English);
        assert_eq!(
            subject(&e, &en),
            "[kilowatch] Demand warning: demand heading for 1,040 kW this window (contract 1,000 kW, warn at 950 kW): shed 90 kW now, 10 min left"
        );
        let cleared = Event {
            state: "cleared".into(),
            severity: Severity::Critical,
            ..e.clone()
        };
        assert!(
            subject(&cleared, &en).starts_with("[kilowatch] CRITICAL Cleared: Demand warning: "),
            "{}",
            subject(&cleared, &en)
        );
        let zh = subject(&cleared, &cx(Language::TraditionalChinese));
        assert!(
            zh.starts_with("[kilowatch] 緊急 已解除：需量預警："),
            "{zh}"
        );
        // An event queued before events carried their message keeps its English title.
        let old = Event {
            title_message: None,
            title: "old words".into(),
            ..e
        };
        assert!(subject(&old, &cx(Language::TraditionalChinese)).ends_with("：old words"));
    }

    #[test]
    fn bodies_and_cards_carry_the_evidence_and_link() {
        let (e, cx) = (demand(), cx(Language::English));
        let body = email_body(&e, &cx);
        for needle in [
            "projected average  1040.5",
            "contract           1000",
            "over               10:00-10:15",
            "odd_key            1",
            "2026-11-30 10:05:00 CST",
            "Open: https://energy.example/#alarms",
            "Asset     plant",
            "Evidence:",
        ] {
            assert!(body.contains(needle), "{needle} in\n{body}");
        }
        let fields = event_fields(&e, &cx);
        let s = slack(&subject(&e, &cx), &fields, &event_url(&e, &cx), cx.lang);
        assert_eq!(s["text"], subject(&e, &cx));
        assert!(
            s["blocks"]
                .to_string()
                .contains("*projected average*\\n1040.5"),
            "{s}"
        );
        let t = teams(
            &subject(&e, &cx),
            e.severity,
            &fields,
            &event_url(&e, &cx),
            cx.lang,
        );
        assert_eq!(t["@type"], "MessageCard");
        assert!(
            t["sections"][0]["facts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["name"] == "contract" && f["value"] == "1000"),
            "{t}"
        );
        assert_eq!(
            t["potentialAction"][0]["targets"][0]["uri"],
            "https://energy.example/#alarms"
        );
        let j = json_event(&e, &cx);
        assert_eq!(j["event"]["evidence"]["projected_kw"], 1040.5);
    }

    /// Every word a Chinese-speaking site's notification adds is Chinese: the evidence labels,
    /// the facts, the subject and the alarm's own sentence.
    #[test]
    fn a_chinese_site_gets_chinese_notifications() {
        let (e, cx) = (demand(), cx(Language::TraditionalChinese));
        let body = email_body(&e, &cx);
        for needle in [
            "需量預警：",
            "契約容量",
            "預估需量",
            "證據：",
            "廠區",
            "嚴重度",
            "查看：https://energy.example/#alarms",
        ] {
            assert!(body.contains(needle), "{needle} in\n{body}");
        }
        for english in [
            "Evidence",
            "contract",
            "projected",
            "Severity",
            "Demand",
            "heading",
            "Open",
        ] {
            assert!(!body.contains(english), "{english} in\n{body}");
        }
        let fields = event_fields(&e, &cx);
        let t = teams(&subject(&e, &cx), e.severity, &fields, "https://x", cx.lang);
        assert_eq!(t["potentialAction"][0]["name"], "查看");
        assert!(fields.iter().any(|(k, v)| k == "契約容量" && v == "1000"));
        let s = slack(&subject(&e, &cx), &fields, "https://x", cx.lang);
        assert!(!s.to_string().contains("Open"), "{s}");
    }

    #[test]
    fn digests_list_every_item_and_mark_the_held_ones() {
        let cx = cx(Language::TraditionalChinese);
        let until: chrono::DateTime<Utc> = "2026-11-30T00:00:00Z".parse().unwrap();
        let d = Digest {
            since: until - chrono::Duration::hours(24),
            until,
            items: vec![
                super::super::event::DigestItem {
                    status: "sent".into(),
                    event: demand(),
                },
                super::super::event::DigestItem {
                    status: "held".into(),
                    event: Event {
                        title: "second".into(),
                        title_message: None,
                        ..demand()
                    },
                },
            ],
        };
        assert!(
            digest_subject(&d, &cx).contains("2026-11-30：2 則通知"),
            "{}",
            digest_subject(&d, &cx)
        );
        let body = digest_body(&d, &cx);
        assert!(body.contains("second (僅於摘要)"), "{body}");
        assert_eq!(body.matches("預估需量: 1040.5").count(), 2, "{body}");
    }
}
