//! Which channels an event goes to, and when: severity, asset and state filters, quiet
//! hours, the hourly limit and the daily digest, in the plant's time zone.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use kilowatch_site::config::{parse_hhmm, parse_quiet_hours, NotifyChannel, Severity};

use super::event::Event;

/// A notification channel from the site file.
pub type Channel = NotifyChannel;

/// Does `channel` want `event`? A channel with an `assets` list gets only those assets'
/// alarms (not the site-wide ones, which have no asset).
pub fn routes(channel: &Channel, event: &Event) -> bool {
    event.severity >= channel.min_severity
        && channel.states.contains(&event.state)
        && (channel.assets.is_empty()
            || event
                .asset
                .as_ref()
                .is_some_and(|a| channel.assets.contains(a)))
}

/// A channel's pacing, parsed once (the site file was checked at load).
#[derive(Debug, Clone, Default)]
pub struct Pacing {
    pub max_per_hour: Option<u32>,
    pub digest: Option<NaiveTime>,
    pub quiet: Option<(NaiveTime, NaiveTime)>,
}

impl Pacing {
    pub fn of(channel: &Channel) -> Pacing {
        Pacing {
            max_per_hour: channel.max_per_hour,
            digest: channel.digest.as_deref().and_then(|d| parse_hhmm(d).ok()),
            quiet: channel
                .quiet_hours
                .as_deref()
                .and_then(|q| parse_quiet_hours(q).ok()),
        }
    }
}

/// What to do now with a due notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Send,
    /// Keep it for the next digest (it is not sent on its own).
    Hold,
    /// Try again at this time.
    Defer(DateTime<Utc>),
}

/// The channel's sending in the last hour: how many, and when the oldest of them went.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecentSends {
    pub count: u32,
    pub oldest: Option<DateTime<Utc>>,
}

/// Decides for one event notification. In quiet hours only critical alarms go out; the rest
/// wait for the digest, or without one for the end of the quiet hours. Past `max_per_hour`,
/// notifications wait for the digest, or without one until the hour has room again.
pub fn decide(
    pacing: &Pacing,
    severity: Severity,
    recent: RecentSends,
    now: DateTime<Utc>,
    tz: Tz,
) -> Decision {
    if let Some(quiet) = pacing.quiet {
        if severity < Severity::Critical {
            if let Some(end) = quiet_until(quiet, now, tz) {
                return match pacing.digest {
                    Some(_) => Decision::Hold,
                    None => Decision::Defer(end),
                };
            }
        }
    }
    match pacing.max_per_hour {
        Some(max) if recent.count >= max => match pacing.digest {
            Some(_) => Decision::Hold,
            None => Decision::Defer(
                recent
                    .oldest
                    .map_or(now, |t| t + Duration::hours(1))
                    .max(now + Duration::seconds(1)),
            ),
        },
        _ => Decision::Send,
    }
}

/// If `now` is in the quiet hours `(start, end)` (plant-local, may wrap midnight), when they end.
pub fn quiet_until(
    (start, end): (NaiveTime, NaiveTime),
    now: DateTime<Utc>,
    tz: Tz,
) -> Option<DateTime<Utc>> {
    let local = now.with_timezone(&tz);
    let t = local.time();
    let inside = if start < end {
        start <= t && t < end
    } else {
        t >= start || t < end
    };
    if !inside {
        return None;
    }
    let mut day = local.date_naive();
    if t >= end {
        day = day.succ_opt()?;
    }
    Some(at_local(day.and_time(end), tz))
}

/// The latest scheduled digest at or before `now`: today's `at` in the plant's zone if it has
/// passed, else yesterday's. Its key names the plant-local day.
pub fn last_digest(at: NaiveTime, now: DateTime<Utc>, tz: Tz) -> (String, DateTime<Utc>) {
    let today = now.with_timezone(&tz).date_naive();
    let mut day = today;
    let mut when = at_local(day.and_time(at), tz);
    if when > now {
        day = today.pred_opt().unwrap_or(today);
        when = at_local(day.and_time(at), tz);
    }
    (format!("digest:{day}"), when)
}

/// A plant-local time as UTC: the earlier of an ambiguous time (the clock going back); a time
/// the clock skips (going forward) is taken an hour later.
fn at_local(t: chrono::NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    tz.from_local_datetime(&t)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(t + Duration::hours(1))).earliest())
        .map_or_else(|| t.and_utc(), |d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kilowatch_site::config::SiteConfig;
    use kilowatch_site::profile::ProfileLibrary;

    fn channel(extra: &str) -> Channel {
        let text = format!(
            "[site]\nid = \"p\"\n[[notifications]]\nid = \"c\"\nkind = \"webhook\"\nurl = \"https://h/x\"\n{extra}"
        );
        let site = SiteConfig::parse(&text, "t", &ProfileLibrary::builtin()).unwrap();
        site.notifications[0].clone()
    }

    fn event(severity: Severity, state: &str, asset: Option<&str>) -> Event {
        Event {
            severity,
            state: state.into(),
            asset: asset.map(Into::into),
            ..Event::test(Utc::now())
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn routing_by_severity_state_and_asset() {
        let c = channel("min_severity = \"warning\"\nassets = [\"chiller\"]\n");
        assert!(routes(
            &c,
            &event(Severity::Warning, "raised", Some("chiller"))
        ));
        assert!(routes(
            &c,
            &event(Severity::Critical, "cleared", Some("chiller"))
        ));
        assert!(!routes(
            &c,
            &event(Severity::Info, "raised", Some("chiller"))
        ));
        assert!(!routes(
            &c,
            &event(Severity::Critical, "acknowledged", Some("chiller"))
        ));
        assert!(!routes(
            &c,
            &event(Severity::Critical, "raised", Some("air"))
        ));
        assert!(!routes(&c, &event(Severity::Critical, "raised", None)));
        let all = channel("min_severity = \"info\"\nstates = [\"acknowledged\"]\n");
        assert!(routes(&all, &event(Severity::Info, "acknowledged", None)));
        assert!(!routes(&all, &event(Severity::Info, "raised", None)));
    }

    #[test]
    fn the_hourly_limit_holds_for_the_digest_or_defers() {
        let now = utc("2026-11-30T01:00:00Z");
        let tz = chrono_tz::Asia::Taipei;
        let oldest = Some(utc("2026-11-30T00:20:00Z"));
        let limited = Pacing::of(&channel("max_per_hour = 2\n"));
        let under = RecentSends { count: 1, oldest };
        let full = RecentSends { count: 2, oldest };
        assert_eq!(
            decide(&limited, Severity::Warning, under, now, tz),
            Decision::Send
        );
        assert_eq!(
            decide(&limited, Severity::Critical, full, now, tz),
            Decision::Defer(utc("2026-11-30T01:20:00Z"))
        );
        let digest = Pacing::of(&channel("max_per_hour = 2\ndigest = \"08:00\"\n"));
        assert_eq!(
            decide(&digest, Severity::Warning, full, now, tz),
            Decision::Hold
        );
    }

    #[test]
    fn quiet_hours_are_plant_local_and_let_critical_through() {
        let tz = chrono_tz::Asia::Taipei; // UTC+8
        let p = Pacing::of(&channel("quiet_hours = \"22:00-06:00\"\n"));
        // 23:30 in Taipei is 15:30 UTC: quiet until 06:00 Taipei, 22:00 UTC.
        let night = utc("2026-11-30T15:30:00Z");
        assert_eq!(
            decide(&p, Severity::Warning, RecentSends::default(), night, tz),
            Decision::Defer(utc("2026-11-30T22:00:00Z"))
        );
        assert_eq!(
            decide(&p, Severity::Critical, RecentSends::default(), night, tz),
            Decision::Send
        );
        // 05:00 Taipei (21:00 UTC the day before): still quiet, ends at 06:00 the same day.
        assert_eq!(
            quiet_until(p.quiet.unwrap(), utc("2026-11-30T21:00:00Z"), tz),
            Some(utc("2026-11-30T22:00:00Z"))
        );
        // Noon in Taipei is 04:00 UTC, which would be "quiet" in UTC terms (22:00-06:00).
        assert_eq!(
            quiet_until(p.quiet.unwrap(), utc("2026-11-30T04:00:00Z"), tz),
            None
        );
    }

    #[test]
    fn the_digest_is_at_plant_local_time() {
        let at = parse_hhmm("08:00").unwrap();
        let tz = chrono_tz::Asia::Taipei;
        // 07:59 Taipei on Dec 1 (23:59 UTC Nov 30): the last digest was Nov 30 08:00 Taipei.
        let (key, when) = last_digest(at, utc("2026-11-30T23:59:00Z"), tz);
        assert_eq!(
            (key.as_str(), when),
            ("digest:2026-11-30", utc("2026-11-30T00:00:00Z"))
        );
        // 08:00 Taipei on Dec 1: due now.
        let (key, when) = last_digest(at, utc("2026-12-01T00:00:00Z"), tz);
        assert_eq!(
            (key.as_str(), when),
            ("digest:2026-12-01", utc("2026-12-01T00:00:00Z"))
        );
        // A zone with daylight saving: 08:00 in Berlin is 06:00 UTC in summer, 07:00 in winter.
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(
            last_digest(at, utc("2026-07-01T12:00:00Z"), berlin).1,
            utc("2026-07-01T06:00:00Z")
        );
        assert_eq!(
            last_digest(at, utc("2026-12-01T12:00:00Z"), berlin).1,
            utc("2026-12-01T07:00:00Z")
        );
    }
}
