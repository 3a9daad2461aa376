//! The words of a notification: subject and text (Traditional Chinese and English side by
//! side), the evidence as a small table, and the Slack and Teams message shapes.

use chrono_tz::Tz;
use serde_json::{json, Value};

use super::event::{Digest, Event, Severity};

/// What every message names beside the event.
#[derive(Debug, Clone)]
pub struct Context {
    pub site_id: String,
    pub site_name: String,
    pub tz: Tz,
    /// The dashboard's address as recipients reach it, to make links absolute.
    pub public_url: Option<String>,
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
}

/// The rule's name in both languages.
fn rule_label(rule: &str) -> (&'static str, &'static str) {
    match rule {
        "demand" => ("需量預警", "Demand warning"),
        "device-silent" | "agent-offline" | "data" | "meter-silent" => ("資料中斷", "Data missing"),
        "leak" | "leakage" => ("洩漏偏高", "Leakage high"),
        "specific-power" | "chiller-kw-tr" | "efficiency" => ("效率偏差", "Efficiency drift"),
        "power-factor" => ("功率因數偏低", "Low power factor"),
        "base-load" => ("基載偏高", "Base load high"),
        "test" => ("測試通知", "Test notification"),
        _ => ("警報", "Alarm"),
    }
}

fn state_label(state: &str) -> &'static str {
    match state {
        "raised" => "發生 raised",
        "acknowledged" => "已確認 acknowledged",
        "cleared" => "已解除 cleared",
        _ => "狀態 state",
    }
}

fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Info => "資訊 info",
        Severity::Warning => "警告 warning",
        Severity::Critical => "緊急 critical",
    }
}

/// `[kilowatch] 需量預警 Demand warning: <title>`, with the state when it is not a raise.
pub fn subject(e: &Event) -> String {
    let (zh, en) = rule_label(&e.rule);
    let state = match e.state.as_str() {
        "cleared" => "已解除 Cleared: ",
        "acknowledged" => "已確認 Acknowledged: ",
        _ => "",
    };
    let critical = if e.severity == Severity::Critical {
        "緊急 CRITICAL "
    } else {
        ""
    };
    format!("[kilowatch] {critical}{state}{zh} {en}: {}", e.title)
}

/// The evidence as (name, value) rows: an object's fields in order, anything else as one row.
pub fn evidence_rows(evidence: &Value) -> Vec<(String, String)> {
    let show = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match evidence {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), show(v))).collect(),
        Value::Null => Vec::new(),
        other => vec![("value".into(), show(other))],
    }
}

/// The evidence as an aligned text table.
fn evidence_table(evidence: &Value) -> String {
    let rows = evidence_rows(evidence);
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("  {k:<width$}  {v}\n"))
        .collect()
}

/// The email text of an event.
pub fn email_body(e: &Event, cx: &Context) -> String {
    let (zh, en) = rule_label(&e.rule);
    let mut out = format!(
        "{zh} {en}: {}\n\n\
         廠區 Site:       {}\n\
         狀態 State:      {}\n\
         嚴重度 Severity: {}\n\
         時間 Time:       {}\n",
        e.title,
        cx.site_name,
        state_label(&e.state),
        severity_label(e.severity),
        cx.local(e.at),
    );
    if let Some(a) = &e.asset {
        out.push_str(&format!("設備 Asset:      {a}\n"));
    }
    out.push_str(&format!("規則 Rule:       {} ({})\n", e.rule, e.alarm_id));
    out.push_str("\n證據 Evidence:\n");
    out.push_str(&evidence_table(&e.evidence));
    out.push_str(&format!("\n查看 Open: {}\n", cx.link(&e.link)));
    out
}

/// `[kilowatch] 每日摘要 Daily digest: ...`.
pub fn digest_subject(d: &Digest, cx: &Context) -> String {
    let day = d.until.with_timezone(&cx.tz).date_naive();
    format!(
        "[kilowatch] 每日摘要 Daily digest {day}: {} 則通知 notifications ({})",
        d.items.len(),
        cx.site_name
    )
}

/// One line per notification of the digest, oldest first.
pub fn digest_body(d: &Digest, cx: &Context) -> String {
    let mut out = format!(
        "每日摘要 Daily digest, {} – {}\n\n",
        cx.local(d.since),
        cx.local(d.until)
    );
    for item in &d.items {
        let held = if item.status == "sent" {
            ""
        } else {
            " (僅於摘要 digest only)"
        };
        out.push_str(&format!(
            "- {}  {}{held}\n",
            cx.local(item.event.at),
            subject(&item.event).trim_start_matches("[kilowatch] ")
        ));
        for (k, v) in evidence_rows(&item.event.evidence) {
            out.push_str(&format!("    {k}: {v}\n"));
        }
    }
    out.push_str(&format!("\n查看 Open: {}\n", cx.link("/#alarms")));
    out
}

/// The plain JSON webhook body of an event.
pub fn json_event(e: &Event, cx: &Context) -> Value {
    json!({
        "kind": "alarm",
        "site": cx.site_id,
        "subject": subject(e),
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
pub fn slack(subject: &str, fields: &[(String, String)], url: &str) -> Value {
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
        "elements": [{"type": "mrkdwn", "text": format!("查看 Open: {url}")}],
    }));
    json!({"text": subject, "blocks": blocks})
}

/// A Microsoft Teams incoming-webhook MessageCard.
pub fn teams(subject: &str, severity: Severity, fields: &[(String, String)], url: &str) -> Value {
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
            "name": "查看 Open",
            "targets": [{"os": "default", "uri": url}],
        }]);
    }
    card
}

/// The facts shown by the Slack and Teams shapes for an event: state, severity, time, asset,
/// then the evidence.
pub fn event_fields(e: &Event, cx: &Context) -> Vec<(String, String)> {
    let mut f = vec![
        ("狀態 State".into(), state_label(&e.state).into()),
        ("嚴重度 Severity".into(), severity_label(e.severity).into()),
        ("時間 Time".into(), cx.local(e.at)),
    ];
    if let Some(a) = &e.asset {
        f.push(("設備 Asset".into(), a.clone()));
    }
    f.extend(evidence_rows(&e.evidence));
    f
}

/// The link of an event, absolute when the channel knows the dashboard's address.
pub fn event_url(e: &Event, cx: &Context) -> String {
    cx.link(&e.link)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn cx() -> Context {
        Context {
            site_id: "p".into(),
            site_name: "Plant".into(),
            tz: chrono_tz::Asia::Taipei,
            public_url: Some("https://energy.example/".into()),
        }
    }

    fn demand() -> Event {
        Event {
            key: "demand:1:raised".into(),
            alarm_id: "demand".into(),
            rule: "demand".into(),
            severity: Severity::Warning,
            state: "raised".into(),
            title: "projected 15-min demand 1,040 kW".into(),
            asset: Some("plant".into()),
            evidence: json!({"projected_kw": 1040.5, "contract_kw": 1000, "window": "10:00-10:15"}),
            link: "/#alarms".into(),
            at: "2026-11-30T02:05:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn subjects_are_bilingual_and_name_the_state() {
        let e = demand();
        assert_eq!(
            subject(&e),
            "[kilowatch] 需量預警 Demand warning: projected 15-min demand 1,040 kW"
        );
        let cleared = Event {
            state: "cleared".into(),
            severity: Severity::Critical,
            ..e
        };
        assert!(subject(&cleared).starts_with("[kilowatch] 緊急 CRITICAL 已解除 Cleared: 需量預警"));
    }

    #[test]
    fn bodies_and_cards_carry_the_evidence_and_link() {
        let (e, cx) = (demand(), cx());
        let body = email_body(&e, &cx);
        for needle in [
            "projected_kw  1040.5",
            "contract_kw   1000",
            "window        10:00-10:15",
            "2026-11-30 10:05:00 CST",
            "https://energy.example/#alarms",
            "設備 Asset:      plant",
        ] {
            assert!(body.contains(needle), "{needle} in\n{body}");
        }
        let fields = event_fields(&e, &cx);
        let s = slack(&subject(&e), &fields, &event_url(&e, &cx));
        assert_eq!(s["text"], subject(&e));
        assert!(
            s["blocks"].to_string().contains("*projected_kw*\\n1040.5"),
            "{s}"
        );
        let t = teams(&subject(&e), e.severity, &fields, &event_url(&e, &cx));
        assert_eq!(t["@type"], "MessageCard");
        assert!(
            t["sections"][0]["facts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["name"] == "contract_kw" && f["value"] == "1000"),
            "{t}"
        );
        assert_eq!(
            t["potentialAction"][0]["targets"][0]["uri"],
            "https://energy.example/#alarms"
        );
        let j = json_event(&e, &cx);
        assert_eq!(j["event"]["evidence"]["projected_kw"], 1040.5);
    }

    #[test]
    fn digests_list_every_item_and_mark_the_held_ones() {
        let cx = cx();
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
                        ..demand()
                    },
                },
            ],
        };
        assert!(
            digest_subject(&d, &cx).contains("2026-11-30: 2 則通知"),
            "{}",
            digest_subject(&d, &cx)
        );
        let body = digest_body(&d, &cx);
        assert!(body.contains("second (僅於摘要 digest only)"), "{body}");
        assert_eq!(body.matches("projected_kw: 1040.5").count(), 2, "{body}");
    }
}
