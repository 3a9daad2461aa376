//! `GET /metrics`: the gateway's ingest counters in the Prometheus text format, beside the
//! agent's own `/metrics`, so one scrape config watches delivery from poller to store.

use std::fmt::Write as _;

/// The Prometheus content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

pub fn render(ingest: &crate::ingest::IngestStats) -> String {
    let s = ingest.snapshot();
    let mut out = String::new();
    let mut one = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    one(
        "kilowatch_gateway_mqtt_connected",
        "gauge",
        "1 while connected to the broker.",
        s.mqtt_connected.into(),
    );
    one(
        "kilowatch_gateway_messages_total",
        "counter",
        "MQTT data messages received.",
        s.messages,
    );
    one(
        "kilowatch_gateway_stored_samples_total",
        "counter",
        "Readings committed to the store.",
        s.stored_samples,
    );
    one(
        "kilowatch_gateway_rejected_total",
        "counter",
        "Messages dead-lettered (invalid, oversized, not of this site).",
        s.rejected,
    );
    one(
        "kilowatch_gateway_poison_total",
        "counter",
        "Messages the store refused on their own (dead-lettered).",
        s.poison,
    );
    one(
        "kilowatch_gateway_store_errors_total",
        "counter",
        "Failed store writes (retried).",
        s.store_errors,
    );
    one(
        "kilowatch_gateway_dropped_qos0_total",
        "counter",
        "QoS 0 messages dropped in a flood (more than 10000 waiting).",
        s.dropped_qos0,
    );
    one(
        "kilowatch_gateway_replay_requests_total",
        "counter",
        "Requests to agents to publish missing polls again.",
        s.sequence.replay_requests,
    );
    one(
        "kilowatch_gateway_replay_reports_total",
        "counter",
        "Agents' answers to replay requests.",
        s.sequence.replay_reports,
    );
    let devices = ingest.sequences();
    type Field = fn(&crate::ingest::sequence::SequenceSnapshot) -> u64;
    let per_device: [(&str, &str, &str, Field); 8] = [
        (
            "kilowatch_gateway_seq_missing",
            "gauge",
            "Polls missing now (asked for again).",
            |d| d.missing,
        ),
        (
            "kilowatch_gateway_seq_gaps_total",
            "counter",
            "Holes detected in the poll numbering.",
            |d| d.counts.gaps_detected,
        ),
        (
            "kilowatch_gateway_seq_missing_detected_total",
            "counter",
            "Polls found missing.",
            |d| d.counts.missing_detected,
        ),
        (
            "kilowatch_gateway_seq_repaired_total",
            "counter",
            "Missing polls that arrived later (replayed).",
            |d| d.counts.repaired,
        ),
        (
            "kilowatch_gateway_seq_lost_total",
            "counter",
            "Missing polls the agent could no longer provide.",
            |d| d.counts.lost,
        ),
        (
            "kilowatch_gateway_seq_duplicates_total",
            "counter",
            "Polls received more than once (stored once).",
            |d| d.counts.duplicates,
        ),
        (
            "kilowatch_gateway_seq_refused_total",
            "counter",
            "Polls received but refused (dead-lettered).",
            |d| d.counts.refused,
        ),
        (
            "kilowatch_gateway_seq_restarts_total",
            "counter",
            "Times the device's numbering started again.",
            |d| d.counts.restarts,
        ),
    ];
    for (name, kind, help, field) in per_device {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for d in &devices {
            let _ = writeln!(out, "{name}{{device=\"{}\"}} {}", d.device, field(d));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_has_help_and_type() {
        let stats = crate::ingest::IngestStats::default();
        let text = render(&stats);
        let helps = text.matches("# HELP").count();
        assert_eq!(helps, text.matches("# TYPE").count());
        assert!(helps >= 14, "{text}");
        assert!(text.contains("kilowatch_gateway_messages_total 0"));
    }
}
