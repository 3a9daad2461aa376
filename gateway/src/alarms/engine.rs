//! The engine: readings update per-device state as they arrive (a hash lookup and a few
//! additions per poll, no SQL), and `evaluate` judges every rule against that state, after
//! each ingest batch that touched a watched meter and once a second for silence and windows.

use std::collections::HashMap;

use chrono::{DateTime, Timelike, Utc};
use kilowatch_site::payload::DevicePoll;
use serde_json::json;

use super::rules::data::Losses;
use super::rules::demand::{window_start, Demand, Meter, WindowContract, WINDOW_MS};
use super::rules::window_mean::WindowMean;
use super::spec::{Kind, RuleSpec};
use super::state::{is_quiet, Change, Level, Tracker};
use crate::i18n::Msg;

/// A tariff period's name as a message (尖峰, 半尖峰, 離峰), else as the tariff gives it.
fn tou_period(name: &str) -> crate::i18n::Arg {
    let key = match name {
        "peak" => "tou-peak",
        "half_peak" => "tou-half-peak",
        "saturday_half_peak" => "tou-saturday-half-peak",
        "off_peak" => "tou-off-peak",
        _ => return name.into(),
    };
    Msg::new(key).into()
}

/// What the engine decided: alarm `key` of rule `spec` is raised or cleared.
#[derive(Debug, Clone)]
pub struct Decision {
    pub key: String,
    pub spec: usize,
    pub change: Change,
    /// The device or agent the alarm is about, or the asset's incomers.
    pub subject: String,
    pub evidence: serde_json::Value,
    /// What happened, as a catalogue message (stored beside its English).
    pub message: Msg,
    pub quiet: bool,
}

#[derive(Debug, Default)]
struct Feed {
    /// When a poll of this device last arrived (ms), or when watching began.
    seen: i64,
    demand: Meter,
    pf: WindowMean,
    /// Mean active power (kW) and air flow (m³/min) per window.
    kw: WindowMean,
    flow: WindowMean,
}

/// Inputs read from elsewhere at each evaluation.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Polls the agents reported lost, in total.
    pub lost_total: u64,
    /// InfluxDB batches waiting.
    pub backlog: u64,
    /// Per agent (from its latest health message): spooled readings waiting, evicted in all.
    pub spools: Vec<(String, u64, u64)>,
}

pub struct Engine {
    tz: chrono_tz::Tz,
    pub specs: Vec<RuleSpec>,
    index: HashMap<String, usize>,
    feeds: Vec<Feed>,
    trackers: HashMap<String, Tracker>,
    /// Agent → (online, since ms).
    agents: HashMap<String, (bool, i64)>,
    losses: Losses,
    /// Per agent: its spool's evictions.
    evictions: HashMap<String, Losses>,
    /// Per window rule (power factor, specific power): the last window judged.
    window_judged: HashMap<usize, i64>,
}

impl Engine {
    pub fn new(specs: Vec<RuleSpec>, tz: chrono_tz::Tz, now: i64) -> Self {
        let mut index = HashMap::new();
        let mut feeds = Vec::new();
        for s in &specs {
            let devices: Vec<&String> = match &s.kind {
                Kind::Demand { devices, .. } | Kind::PowerFactor { devices, .. } => {
                    devices.iter().collect()
                }
                Kind::DeviceSilent { devices } => devices.iter().map(|(d, _)| d).collect(),
                Kind::SpecificPower { power, flow, .. } => power.iter().chain([flow]).collect(),
                _ => Vec::new(),
            };
            for d in devices {
                index.entry(d.clone()).or_insert_with(|| {
                    feeds.push(Feed {
                        seen: now,
                        ..Feed::default()
                    });
                    feeds.len() - 1
                });
            }
        }
        Self {
            tz,
            specs,
            index,
            feeds,
            trackers: HashMap::new(),
            agents: HashMap::new(),
            losses: Losses::default(),
            evictions: HashMap::new(),
            window_judged: HashMap::new(),
        }
    }

    /// Marks `key` raised (an active alarm restored from the store at start).
    pub fn restore(&mut self, key: &str) {
        self.trackers.entry(key.to_owned()).or_default().raised = true;
    }

    /// Whether a rule could still decide about `key` (else a restored alarm is orphaned).
    pub fn knows(&self, key: &str) -> bool {
        let rule = key.split('.').next().unwrap_or(key);
        self.specs.iter().any(|s| s.id == rule)
    }

    /// Takes one stored poll, arrived at `now`; returns whether it fed a demand meter (worth
    /// evaluating at once).
    pub fn observe(&mut self, poll: &DevicePoll, now: i64) -> bool {
        let Some(&i) = self.index.get(&poll.device) else {
            return false;
        };
        let feed = &mut self.feeds[i];
        feed.seen = feed.seen.max(now);
        let ts = poll.ts.timestamp_millis();
        let mut demand = false;
        for r in &poll.readings {
            match (r.quantity.as_ref(), r.value) {
                ("active_power", Some(kw)) if kw.is_finite() => {
                    feed.demand.observe(ts, kw, self.tz);
                    feed.kw.observe(ts, kw, self.tz);
                    demand = true;
                }
                // Meters that report a signed PF (negative when leading or exporting) count by
                // its magnitude.
                ("power_factor", Some(pf)) => feed.pf.observe(ts, pf.abs().min(1.0), self.tz),
                ("air_flow", Some(flow)) => feed.flow.observe(ts, flow, self.tz),
                _ => {}
            }
        }
        demand
    }

    /// An agent's retained status (`online`/`offline`).
    pub fn agent_status(&mut self, agent: &str, online: bool, now: i64) {
        let e = self.agents.entry(agent.to_owned()).or_insert((online, now));
        if e.0 != online {
            *e = (online, now);
        }
    }

    fn feed(&mut self, device: &str) -> Option<&mut Feed> {
        let i = *self.index.get(device)?;
        self.feeds.get_mut(i)
    }

    /// Takes a quarterly rule's verdict at `now`: a decision when it raises or clears.
    pub fn judge_quarterly(&mut self, v: super::quarterly::Verdict, now: i64) -> Option<Decision> {
        let spec = self.specs.get(v.spec)?;
        let minute = DateTime::<Utc>::from_timestamp_millis(now)
            .map(|t| {
                let l = t.with_timezone(&self.tz);
                l.hour() * 60 + l.minute()
            })
            .unwrap_or(0);
        let quiet = is_quiet(&spec.quiet, minute);
        let (raise, clear) = (spec.raise_after_ms, spec.clear_after_ms);
        let change = self
            .trackers
            .entry(v.key.clone())
            .or_default()
            .update(v.level, now, raise, clear)?;
        Some(Decision {
            key: v.key,
            spec: v.spec,
            change,
            subject: v.subject,
            evidence: v.evidence,
            message: v.message,
            quiet,
        })
    }

    /// The quarterly rules, with their index.
    pub fn quarterly_specs(&self) -> Vec<(usize, RuleSpec)> {
        self.specs
            .iter()
            .enumerate()
            .filter(|(_, s)| s.kind.is_quarterly())
            .map(|(i, s)| (i, s.clone()))
            .collect()
    }

    /// Judges every rule at `now`.
    pub fn evaluate(&mut self, now: i64, ctx: &Context) -> Vec<Decision> {
        let local = DateTime::<Utc>::from_timestamp_millis(now)
            .unwrap_or_default()
            .with_timezone(&self.tz);
        let minute = local.hour() * 60 + local.minute();
        let mut out = Vec::new();
        // Taken out while judged (the rules borrow the engine's state), put back after.
        let specs = std::mem::take(&mut self.specs);
        for (si, spec) in specs.iter().enumerate() {
            // Evidence and message are built only for a change: most evaluations change nothing.
            let mut judge =
                |me: &mut Self,
                 key: String,
                 subject: &str,
                 level: Level,
                 detail: &dyn Fn() -> (serde_json::Value, Msg)| {
                    let t = me.trackers.entry(key.clone()).or_default();
                    if let Some(change) =
                        t.update(level, now, spec.raise_after_ms, spec.clear_after_ms)
                    {
                        let (evidence, message) = detail();
                        out.push(Decision {
                            key,
                            spec: si,
                            change,
                            subject: subject.to_owned(),
                            evidence,
                            message,
                            quiet: is_quiet(&spec.quiet, minute),
                        });
                    }
                };
            match &spec.kind {
                Kind::Demand {
                    devices,
                    contracts,
                    tariff,
                    warn_at,
                } => {
                    let (mut kwh, mut kw, mut known) = (0.0, 0.0, false);
                    let mut observed_from: Option<i64> = None;
                    for d in devices {
                        let tz = self.tz;
                        if let Some(f) = self.feed(d) {
                            if let Some(e) = f.demand.projected_kwh(now, tz) {
                                kwh += e;
                                kw += f.demand.latest_kw().unwrap_or(0.0);
                                known = true;
                                observed_from = observed_from.max(f.demand.observed_from());
                            }
                        }
                    }
                    let window = window_start(now, self.tz);
                    let contract =
                        WindowContract::of(contracts, tariff.as_deref(), window, self.tz);
                    let warn_kw = contract.kw * warn_at;
                    let d = Demand {
                        projected_kw: kwh * 3.6e6 / WINDOW_MS as f64,
                        current_kw: kw,
                        contract,
                        warn_kw,
                        window,
                        now,
                        observed_from,
                    };
                    let level = if known {
                        Level::of(d.projected_kw, warn_kw, spec.hysteresis.of(warn_kw), true)
                    } else {
                        Level::Hold
                    };
                    let detail = || {
                        let message = match d.contract.period.as_deref() {
                            Some(p) => Msg::new("alarm-demand-period").arg("period", tou_period(p)),
                            None => Msg::new("alarm-demand"),
                        }
                        .arg("projected", format!("{:.0}", d.projected_kw))
                        .arg("contract", format!("{:.0}", d.contract.kw))
                        .arg("warn", format!("{warn_kw:.0}"))
                        .arg("shed", format!("{:.0}", d.shed_kw()))
                        .arg("minutes", format!("{:.1}", d.minutes_left()));
                        (d.evidence(), message)
                    };
                    judge(self, spec.id.clone(), &devices.join(","), level, &detail);
                }
                Kind::PowerFactor { devices, threshold } => {
                    let tz = self.tz;
                    let mut latest: Option<i64> = None;
                    let mut means = Vec::new();
                    for d in devices {
                        if let Some(f) = self.feed(d) {
                            f.pf.close_until(now, tz);
                            if let Some((w, m)) = f.pf.closed {
                                latest = Some(latest.map_or(w, |l: i64| l.max(w)));
                                means.push((w, m));
                            }
                        }
                    }
                    let Some(w) = latest else { continue };
                    if self.window_judged.get(&si) == Some(&w) {
                        continue; // a closed window is judged once
                    }
                    self.window_judged.insert(si, w);
                    let of_w: Vec<f64> = means
                        .iter()
                        .filter(|(x, _)| *x == w)
                        .map(|(_, m)| *m)
                        .collect();
                    let mean = of_w.iter().sum::<f64>() / of_w.len() as f64;
                    let at = |ms: i64| {
                        DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.to_rfc3339())
                    };
                    let evidence = json!({
                        "value": (mean * 1000.0).round() / 1000.0,
                        "threshold": threshold,
                        "unit": "PF",
                        "window_start": at(w),
                        "window_end": at(w + WINDOW_MS),
                    });
                    let level = Level::of(mean, *threshold, spec.hysteresis.of(*threshold), false);
                    let message = Msg::new("alarm-power-factor")
                        .arg("value", format!("{mean:.3}"))
                        .arg("threshold", threshold.to_string());
                    let detail = || (evidence.clone(), message.clone());
                    judge(self, spec.id.clone(), &devices.join(","), level, &detail);
                }
                Kind::SpecificPower {
                    power,
                    flow,
                    threshold,
                } => {
                    let tz = self.tz;
                    let mut closed = |d: &str, pick: fn(&mut Feed) -> &mut WindowMean| {
                        self.feed(d).and_then(|f| {
                            let m = pick(f);
                            m.close_until(now, tz);
                            m.closed
                        })
                    };
                    let Some((w, flow_mean)) = closed(flow, |f| &mut f.flow) else {
                        continue;
                    };
                    let kw: Vec<(i64, f64)> = power
                        .iter()
                        .filter_map(|d| closed(d, |f| &mut f.kw))
                        .collect();
                    if self.window_judged.get(&si) == Some(&w) {
                        continue; // a closed window is judged once
                    }
                    self.window_judged.insert(si, w);
                    let kw: f64 = kw.iter().filter(|(x, _)| *x == w).map(|(_, m)| m).sum();
                    // Compressors stopped (or nearly): no specific power to judge.
                    let level = if flow_mean < 0.1 {
                        Level::Hold
                    } else {
                        Level::of(
                            kw / flow_mean,
                            *threshold,
                            spec.hysteresis.of(*threshold),
                            true,
                        )
                    };
                    let sp = kw / flow_mean.max(0.1);
                    let detail = || {
                        let at = |ms: i64| {
                            DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.to_rfc3339())
                        };
                        let r = |x: f64| (x * 100.0).round() / 100.0;
                        let evidence = json!({
                            "value": r(sp),
                            "threshold": threshold,
                            "unit": "kW/(m³/min)",
                            "kw": r(kw),
                            "air_flow": r(flow_mean),
                            "window_start": at(w),
                            "window_end": at(w + WINDOW_MS),
                        });
                        let message = Msg::new("alarm-specific-power")
                            .arg("value", format!("{sp:.2}"))
                            .arg("kw", format!("{kw:.1}"))
                            .arg("flow", format!("{flow_mean:.2}"))
                            .arg("threshold", threshold.to_string());
                        (evidence, message)
                    };
                    judge(self, spec.id.clone(), &power.join(","), level, &detail);
                }
                Kind::DeviceSilent { devices } => {
                    for (d, limit) in devices {
                        let Some(seen) = self.feed(d).map(|f| f.seen) else {
                            continue;
                        };
                        let silent = now - seen;
                        let level = Level::of(silent as f64, *limit as f64, 0.0, true);
                        let detail = || {
                            let evidence = json!({
                                "value": silent as f64 / 1000.0,
                                "threshold": *limit as f64 / 1000.0,
                                "unit": "s",
                                "last_seen": DateTime::<Utc>::from_timestamp_millis(seen).map(|t| t.to_rfc3339()),
                            });
                            let message = Msg::new("alarm-device-silent")
                                .arg("device", d.as_str())
                                .arg("seconds", format!("{:.0}", silent as f64 / 1000.0))
                                .arg("limit", format!("{:.0}", *limit as f64 / 1000.0));
                            (evidence, message)
                        };
                        judge(self, format!("{}.{d}", spec.id), d, level, &detail);
                    }
                }
                Kind::AgentOffline { after_ms } => {
                    let agents: Vec<(String, bool, i64)> = self
                        .agents
                        .iter()
                        .map(|(a, (on, since))| (a.clone(), *on, *since))
                        .collect();
                    for (agent, online, since) in agents {
                        let level = if online {
                            Level::Off
                        } else if now - since >= *after_ms {
                            Level::On
                        } else {
                            Level::Hold
                        };
                        let evidence = json!({
                            "value": if online { "online" } else { "offline" },
                            "threshold": *after_ms as f64 / 1000.0,
                            "unit": "s",
                            "since": DateTime::<Utc>::from_timestamp_millis(since).map(|t| t.to_rfc3339()),
                        });
                        let message = Msg::new(if online {
                            "alarm-agent-online"
                        } else {
                            "alarm-agent-offline"
                        })
                        .arg("agent", agent.as_str());
                        let detail = || (evidence.clone(), message.clone());
                        judge(self, format!("{}.{agent}", spec.id), &agent, level, &detail);
                    }
                }
                Kind::ReadingsLost { polls } => {
                    let lost = self.losses.update(ctx.lost_total, now, 3_600_000);
                    let level = Level::of(lost as f64, *polls as f64 + 0.5, 0.0, true);
                    let evidence = json!({ "value": lost, "threshold": polls, "unit": "polls", "window": "1h" });
                    let message = Msg::new("alarm-readings-lost").arg("n", lost.to_string());
                    let detail = || (evidence.clone(), message.clone());
                    judge(self, spec.id.clone(), "agents", level, &detail);
                }
                Kind::SpoolBacklog { readings } => {
                    for (agent, pending, _) in &ctx.spools {
                        let level = Level::of(*pending as f64, *readings as f64, 0.0, true);
                        let detail = || {
                            let evidence = json!({ "value": pending, "threshold": readings, "unit": "readings" });
                            (
                                evidence,
                                Msg::new("alarm-spool-backlog")
                                    .arg("agent", agent.as_str())
                                    .arg("n", pending.to_string()),
                            )
                        };
                        judge(self, format!("{}.{agent}", spec.id), agent, level, &detail);
                    }
                }
                Kind::SpoolEvictions { readings } => {
                    for (agent, _, evicted) in &ctx.spools {
                        let n = self
                            .evictions
                            .entry(agent.clone())
                            .or_default()
                            .update(*evicted, now, 3_600_000);
                        let level = Level::of(n as f64, *readings as f64 + 0.5, 0.0, true);
                        let detail = || {
                            let evidence = json!({ "value": n, "threshold": readings, "unit": "readings", "window": "1h" });
                            let message = Msg::new("alarm-spool-evictions")
                                .arg("agent", agent.as_str())
                                .arg("n", n.to_string());
                            (evidence, message)
                        };
                        judge(self, format!("{}.{agent}", spec.id), agent, level, &detail);
                    }
                }
                // Judged per closed quarter from stored facts (`judge_quarterly`).
                Kind::ChillerKwPerTr { .. } | Kind::Leakage { .. } | Kind::BaseLoad { .. } => {}
                Kind::StoreBacklog { batches } => {
                    let level = Level::of(ctx.backlog as f64, *batches as f64 + 0.5, 0.0, true);
                    let evidence =
                        json!({ "value": ctx.backlog, "threshold": batches, "unit": "batches" });
                    let message = Msg::new("alarm-store-backlog").arg("n", ctx.backlog.to_string());
                    let detail = || (evidence.clone(), message.clone());
                    judge(self, spec.id.clone(), "influx", level, &detail);
                }
            }
        }
        self.specs = specs;
        out
    }
}
