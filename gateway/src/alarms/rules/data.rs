//! Data rules: a device silent past its poll intervals, an agent offline (its retained status,
//! `offline` being its MQTT last will), readings lost upstream, and the InfluxDB backlog.

use std::collections::VecDeque;

/// An agent's retained status topic: `kilowatch/v1/<site>/agent/<agent>/status`.
pub fn agent_of_status_topic<'a>(topic: &'a str, site: &str) -> Option<&'a str> {
    let rest = topic
        .strip_prefix(kilowatch_site::payload::TOPIC_ROOT)?
        .strip_prefix('/')?
        .strip_prefix(site)?
        .strip_prefix("/agent/")?;
    let agent = rest.strip_suffix("/status")?;
    kilowatch_site::payload::is_identifier(agent).then_some(agent)
}

/// Polls lost upstream within a trailing window, from the running total of losses.
#[derive(Debug, Clone, Default)]
pub struct Losses {
    /// The total seen last, and when each increase of it happened.
    total: Option<u64>,
    increases: VecDeque<(i64, u64)>,
}

impl Losses {
    /// Takes the running total at `now`; returns the polls lost in the last `window` ms.
    pub fn update(&mut self, total: u64, now: i64, window: i64) -> u64 {
        // The first total is the past (losses before this gateway started): not new.
        let before = *self.total.get_or_insert(total);
        if total > before {
            self.increases.push_back((now, total - before));
        }
        self.total = Some(total);
        while self
            .increases
            .front()
            .is_some_and(|(t, _)| now - t >= window)
        {
            self.increases.pop_front();
        }
        self.increases.iter().map(|(_, n)| n).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_count_within_the_window() {
        let mut l = Losses::default();
        assert_eq!(l.update(7, 0, 3_600_000), 0);
        assert_eq!(l.update(10, 1000, 3_600_000), 3);
        assert_eq!(l.update(12, 2000, 3_600_000), 5);
        assert_eq!(l.update(12, 3_601_000, 3_600_000), 2);
        assert_eq!(l.update(12, 3_602_000, 3_600_000), 0);
    }

    #[test]
    fn status_topics() {
        assert_eq!(
            agent_of_status_topic("kilowatch/v1/s/agent/kilowatch-agent-s/status", "s"),
            Some("kilowatch-agent-s")
        );
        assert_eq!(
            agent_of_status_topic("kilowatch/v1/t/agent/a/status", "s"),
            None
        );
        assert_eq!(
            agent_of_status_topic("kilowatch/v1/s/agent/a/health", "s"),
            None
        );
    }
}
