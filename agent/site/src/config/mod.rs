//! The site file (TOML): one file describes a plant's devices, its broker, its agent and its
//! gateway, and is read by the agent, the gateway and the simulators alike.
//!
//! Both binaries check the whole file (`kilowatch-agent check` also finds a bad `[gateway]`
//! setting), so the schema of every typed section is here, one module each: [`Site`],
//! `[mqtt]` ([`MqttConfig`]), `[[devices]]` ([`DeviceConfig`]), `[agent]` ([`AgentConfig`]), `[[alarms]]` ([`AlarmConfig`])
//! and `[gateway]` ([`GatewayConfig`]). What a binary does with its settings (the spool, the
//! InfluxDB writer, retention) lives in that binary. The gateway's own tables (`[plant]`,
//! `[[assets]]`, `[[mv_plans]]`, a device's `simulate`) are kept here as raw TOML and parsed
//! by the gateway, which locates their errors with [`SiteConfig::locate`].

mod access;
mod agent;
mod alarms;
mod contracts;
mod demand_response;
mod device;
mod error;
mod expr;
mod gateway;
mod home_assistant;
mod hub;
mod language;
mod meters;
mod mqtt;
mod notify;
mod rbe;
mod sparkplug;
mod values;

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

pub use agent::{AgentConfig, DEFAULT_MEMORY_BUFFER};
pub use alarms::{parse_amount, quiet_ranges, AlarmConfig, Amount, Severity, RULES};
pub use contracts::Contracts;
pub use demand_response::{quarter_minute, Adjustment, DrEvent, FieldError};
pub use device::{DeviceConfig, Parity, Transport};
pub use error::{Bound, ConfigError, Problem, Thing};
pub use gateway::{GatewayConfig, InfluxApi, InfluxConfig, Retention};
pub use home_assistant::HomeAssistantConfig;
pub use hub::{topic_prefix_problem, HubConfig, HubKind, HUB_TOPIC_PREFIX};
pub use language::{Language, UnknownLanguage};
pub use meters::{MeterNode, MeterTree, ReviewConfig, Significant, VirtualConfig};
pub use mqtt::{MqttConfig, MqttProtocol};
pub use notify::{
    is_loopback_host, parse_hhmm, parse_quiet_hours, ChannelKind, NotifyChannel, SmtpSecurity,
    WebhookFormat,
};
pub use rbe::{Deadband, ReportByException};
pub use sparkplug::SparkplugConfig;
pub use values::{parse_duration, parse_size, MAX_DURATION};

use crate::payload::is_identifier;
use crate::profile::ProfileLibrary;
use error::{line_at, with_line, Origin};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub site: Site,
    #[serde(default)]
    pub mqtt: MqttConfig,
    #[serde(default)]
    pub agent: AgentConfig,
    #[serde(default)]
    pub gateway: GatewayConfig,
    /// Forwarding to a portfolio hub (`[hub]`), read by the gateway; off when absent.
    pub hub: Option<HubConfig>,
    #[serde(default)]
    pub devices: Vec<DeviceConfig>,
    /// The simulated plant behind `plant = "…"` devices (`kilowatch-gateway simulate` and
    /// `demo`); the agent ignores it.
    pub plant: Option<toml::Table>,
    /// Assets and their energy-performance indicators (`[[assets]]`), read by the gateway's
    /// EnPI engine; the agent ignores them.
    #[serde(default)]
    pub assets: Vec<toml::Table>,
    /// Measurement and verification plans with savings guarantees (`[[mv_plans]]`),
    /// evaluated by the gateway; the agent ignores them.
    #[serde(default)]
    pub mv_plans: Vec<toml::Table>,
    /// Alarm rules of the gateway, tuned or added (`[[alarms]]`); the agent ignores them.
    #[serde(default)]
    pub alarms: Vec<AlarmConfig>,
    /// Where alarm notifications go (`[[notifications]]`: email, webhooks), read by the
    /// gateway; the agent ignores them.
    #[serde(default)]
    pub notifications: Vec<NotifyChannel>,
    /// Calculated meters (`[[virtual]]`), stored by the gateway as ordinary series; the agent
    /// ignores them.
    #[serde(default, rename = "virtual")]
    pub virtuals: Vec<VirtualConfig>,
    /// The energy review's settings (`[review]`), read by the gateway.
    #[serde(default)]
    pub review: ReviewConfig,
    /// Demand-response events to verify (`[[demand_response]]`), read by the gateway.
    #[serde(default)]
    pub demand_response: Vec<DrEvent>,
    /// The file name and text this was read from, for errors found after parsing.
    #[serde(skip)]
    origin: Origin,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Short identifier used in MQTT topics and series names (letters, digits, `-`, `_`).
    pub id: String,
    /// Human-readable name shown on dashboards.
    pub name: Option<String>,
    /// IANA time zone of the plant, for daily and monthly figures.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// The default language of the dashboard, reports and messages (`en`, `zh-TW`); a user
    /// picks another with `?lang=` or the dashboard's switch, a command with `--lang`.
    #[serde(default)]
    pub language: Language,
    /// Contract capacity with the utility, kW (demand above it is charged extra): shorthand
    /// for a regular contract alone, `[site.contracts]` without the other periods.
    pub contract_kw: Option<f64>,
    /// Contract capacities per tariff period (`[site.contracts]`); read through
    /// [`SiteConfig::contracts`].
    pub contracts: Option<Contracts>,
    /// Tariff file (seeds/tariffs/*.toml), relative to the site file's directory or absolute.
    pub tariff: Option<String>,
    /// Grid emission factors by year (seeds/emission-factors.toml).
    pub emission_factors: Option<String>,
    /// The plant's own non-working days (plant-local dates), for day-type baselines.
    #[serde(default)]
    pub holidays: Vec<chrono::NaiveDate>,
}

fn default_timezone() -> String {
    "UTC".into()
}

impl SiteConfig {
    /// Reads, parses and checks a site file against the profile library.
    pub fn load(path: &Path, profiles: &ProfileLibrary) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::unreadable(&file, &e))?;
        Self::parse(&text, &file, profiles)
    }

    /// Parses and checks site TOML; `file` names the origin in errors.
    pub fn parse(text: &str, file: &str, profiles: &ProfileLibrary) -> Result<Self, ConfigError> {
        let mut config: SiteConfig = parse_toml(text, file)?;
        config.origin = Origin {
            file: file.to_owned(),
            text: text.to_owned(),
        };
        config
            .check(file, profiles)
            .map_err(|e| with_line(e, text))?;
        Ok(config)
    }

    /// Adds the line of the error's key in the file this was read from (for errors found by
    /// the gateway in tables the agent keeps raw, such as `[[mv_plans]]`).
    pub fn locate(&self, e: ConfigError) -> ConfigError {
        self.origin.locate(e)
    }

    /// The name of the file this was read from, for errors found after parsing.
    pub fn file(&self) -> &str {
        &self.origin.file
    }

    /// Checks what the MQTT settings point at on this machine: the broker address, readable
    /// password, CA and client certificate files, and a set password variable.
    pub fn check_mqtt_access(&self) -> Result<(), ConfigError> {
        self.mqtt.check_access(&self.origin)
    }

    /// Checks what the gateway's settings point at on this machine, serving the API on
    /// `http`: the access token (required off loopback unless waived) and InfluxDB secrets.
    pub fn check_gateway_access(&self, http: SocketAddr) -> Result<(), ConfigError> {
        self.gateway.check_access(http, &self.origin)
    }

    /// Checks what `[hub.mqtt]` points at on this machine (see [`Self::check_mqtt_access`]).
    pub fn check_hub_access(&self) -> Result<(), ConfigError> {
        match &self.hub {
            Some(h) => h.check_access(&self.origin),
            None => Ok(()),
        }
    }

    /// Checks the notification channels' secrets: readable files, set variables.
    pub fn check_notify_access(&self) -> Result<(), ConfigError> {
        notify::check_access(&self.notifications, &self.origin)
    }

    fn check(&self, file: &str, profiles: &ProfileLibrary) -> Result<(), ConfigError> {
        self.check_site(file)?;
        self.mqtt.check(file)?;
        self.gateway.check(file)?;
        if let Some(h) = &self.hub {
            h.check(file)?;
        }
        self.agent.check(file, self.gateway.gap_limit)?;
        let assets: Vec<String> = self
            .assets
            .iter()
            .filter_map(|a| a.get("id")?.as_str().map(str::to_owned))
            .collect();
        notify::check_channels(&self.notifications, &assets, file)?;
        device::check_devices(&self.devices, file, profiles)?;
        meters::check(&self.devices, &self.virtuals, file)?;
        self.review.check(file)?;
        demand_response::check(&self.demand_response, file)?;
        alarms::check_alarms(&self.alarms, &self.devices, &self.assets, file)
    }

    fn check_site(&self, file: &str) -> Result<(), ConfigError> {
        if !is_identifier(&self.site.id) {
            return Err(ConfigError::new(
                file,
                "site.id",
                format!(
                    "`{}` must be 1-64 letters, digits, `-` or `_`",
                    self.site.id
                ),
            ));
        }
        if self.site.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ConfigError::new(
                file,
                "site.timezone",
                format!(
                    "unknown time zone `{}` (use an IANA name such as Asia/Taipei)",
                    self.site.timezone
                ),
            ));
        }
        contracts::resolve(self.site.contract_kw, self.site.contracts.as_ref(), file)?;
        Ok(())
    }

    /// The site's contract capacities, from `[site.contracts]` or `contract_kw` (checked at
    /// load: at most one of them is given).
    pub fn contracts(&self) -> Option<Contracts> {
        self.site
            .contracts
            .or(self.site.contract_kw.map(Contracts::regular_only))
    }

    /// The meters linked by `parent` (devices and virtual meters), in file order.
    pub fn meter_tree(&self) -> MeterTree {
        MeterTree::build(&self.devices, &self.virtuals)
    }

    /// The plant's time zone (checked at load).
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.site.timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// The hub forwarder's MQTT client id.
    pub fn uplink_client_id(&self) -> String {
        self.hub
            .as_ref()
            .and_then(|h| h.client_id.clone())
            .unwrap_or_else(|| format!("kilowatch-uplink-{}", self.site.id))
    }

    /// The agent's MQTT client id.
    pub fn agent_client_id(&self) -> String {
        self.mqtt
            .agent_client_id
            .clone()
            .unwrap_or_else(|| format!("kilowatch-agent-{}", self.site.id))
    }

    /// The agent's spool directory.
    pub fn spool_dir(&self) -> std::path::PathBuf {
        self.agent
            .spool_dir
            .clone()
            .unwrap_or_else(|| format!("kilowatch-spool-{}", self.site.id))
            .into()
    }

    /// The gateway's MQTT client id.
    pub fn gateway_client_id(&self) -> String {
        self.mqtt
            .gateway_client_id
            .clone()
            .unwrap_or_else(|| format!("kilowatch-gateway-{}", self.site.id))
    }
}

/// Deserialises a TOML file into `T`, with errors naming the file, the key path and the line.
/// One definition for every kilowatch configuration file (site, hub).
pub fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    file: &str,
) -> Result<T, ConfigError> {
    let line_of = |span: Option<std::ops::Range<usize>>| span.map(|s| line_at(text, s.start));
    let de = toml::Deserializer::parse(text).map_err(|e| ConfigError {
        line: line_of(e.span()),
        ..ConfigError::of(
            file,
            None,
            Problem::Syntax {
                detail: e.message().trim().to_owned(),
            },
        )
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        let what = inner.message().trim().to_owned();
        ConfigError {
            file: file.to_owned(),
            key: (key != ".").then_some(key),
            // The deserialiser's own words stay the English text; the kind is read from them.
            problem: Box::new(Problem::of_serde(&what)),
            what,
            line: line_of(inner.span()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::error::line_of_key;
    use super::*;
    use std::time::Duration;

    fn parse(text: &str) -> Result<SiteConfig, ConfigError> {
        SiteConfig::parse(text, "site.toml", &ProfileLibrary::builtin())
    }

    const GOOD: &str = r#"
[site]
id = "plant"

[[devices]]
id = "incomer"
profile = "eastron-sdm630"
tcp = "127.0.0.1:502"
interval = "2s"
"#;

    #[test]
    fn transports_and_channels() {
        let c = parse(&GOOD.replace(
            "tcp = \"127.0.0.1:502\"",
            "rtu = \"/dev/ttyUSB0\"\nbaud = 19200\nparity = \"even\"",
        ))
        .unwrap();
        assert_eq!(
            c.devices[0].transport(),
            Transport::Rtu {
                path: "/dev/ttyUSB0".into(),
                baud: 19200,
                parity: Parity::Even,
                stop_bits: 1
            }
        );
        let e = parse(&GOOD.replace(
            "tcp = \"127.0.0.1:502\"",
            "tcp = \"127.0.0.1:502\"\nrtu = \"/dev/ttyUSB0\"",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("exactly one"), "{e}");
        let e = parse(&GOOD.replace("eastron-sdm630", "advantech-adam-4117")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("devices[0].channels"), "{e}");
        let ok = GOOD.replace("eastron-sdm630", "advantech-adam-4117")
            + "channels = [{ channel = 0, quantity = \"pressure\", unit = \"bar\", range = [0.0, 16.0] }]\n";
        parse(&ok).unwrap();
        let two_bauds = format!(
            "{}\n[[devices]]\nid = \"b\"\nprofile = \"eastron-sdm120\"\nrtu = \"/dev/ttyUSB0\"\nunit = 2\nbaud = 19200\n",
            GOOD.replace("tcp = \"127.0.0.1:502\"", "rtu = \"/dev/ttyUSB0\"")
        );
        let e = parse(&two_bauds).unwrap_err();
        assert!(e.to_string().contains("other serial settings"), "{e}");
    }

    #[test]
    fn the_site_language_defaults_to_english_and_names_a_bad_one() {
        assert_eq!(parse(GOOD).unwrap().site.language, Language::English);
        let zh = GOOD.replace("id = \"plant\"\n", "id = \"plant\"\nlanguage = \"zh-TW\"\n");
        assert_eq!(
            parse(&zh).unwrap().site.language,
            Language::TraditionalChinese
        );
        let e = parse(&zh.replace("zh-TW", "fr")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("site.language"), "{e}");
        assert!(e.to_string().contains("zh-TW"), "{e}");
    }

    #[test]
    fn ct_pt_and_scale_overrides_are_checked_with_their_key() {
        let with = |extra: &str| parse(&format!("{GOOD}{extra}\n"));
        let c = with("ct_ratio = 200\npt_ratio = 110.0\nscale = { active_power = 0.001 }").unwrap();
        let d = &c.devices[0];
        assert_eq!((d.ct_ratio, d.pt_ratio), (Some(200.0), Some(110.0)));
        let lib = ProfileLibrary::builtin();
        let p = d.resolve(lib.get("eastron-sdm630").unwrap()).unwrap();
        let r = p
            .registers
            .iter()
            .find(|r| r.quantity == "current_l1")
            .unwrap();
        assert_eq!(r.scale, 200.0);
        let r = p
            .registers
            .iter()
            .find(|r| r.quantity == "active_power")
            .unwrap();
        assert!(
            (r.scale - 200.0 * 110.0 * 0.001).abs() < 1e-12,
            "{}",
            r.scale
        );
        for (extra, key) in [
            ("ct_ratio = 0", "devices[0].ct_ratio"),
            ("ct_ratio = -200", "devices[0].ct_ratio"),
            ("pt_ratio = nan", "devices[0].pt_ratio"),
            (
                "scale = { active_powr = 2.0 }",
                "devices[0].scale.active_powr",
            ),
            (
                "scale = { active_power = 0.0 }",
                "devices[0].scale.active_power",
            ),
        ] {
            let e = with(extra).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{extra}: {e}");
            assert!(
                e.to_string().starts_with(&format!("site.toml: {key}: ")),
                "{e}"
            );
        }
        let e = with("ct_ratio = -200").unwrap_err();
        assert!(e.to_string().contains("(line 10)"), "{e}");
    }

    #[test]
    fn good_config_with_defaults() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.devices[0].interval, Duration::from_secs(2));
        assert_eq!(c.devices[0].unit, 1);
        assert_eq!(c.mqtt.broker, "127.0.0.1:1883");
        assert_eq!(c.agent_client_id(), "kilowatch-agent-plant");
    }

    #[test]
    fn errors_name_file_key_and_line() {
        let e = parse(&GOOD.replace("\"2s\"", "\"2 parsecs\"")).unwrap_err();
        let msg = e.to_string();
        assert_eq!(e.key.as_deref(), Some("devices[0].interval"), "{msg}");
        assert!(msg.starts_with("site.toml: devices[0].interval: "), "{msg}");
        assert!(msg.contains("(line 9)"), "{msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");

        let e = parse(&GOOD.replace("eastron-sdm630", "eastron-sdm999")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("devices[0].profile"));
        assert!(e.to_string().contains("unknown profile `eastron-sdm999`"));

        let e = parse(&GOOD.replace("tcp =", "tcpp =")).unwrap_err();
        assert!(e.to_string().contains("tcpp"), "{e}");

        let e = parse("[site]\nid = \"bad/id\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("site.id"));

        let e = parse("[site\n").unwrap_err();
        assert_eq!(e.line, Some(1), "{e}");
    }

    #[test]
    fn demand_response_events_are_read_and_bad_ones_name_file_key_and_line() {
        let ev = |extra: &str| {
            format!(
                "[site]\nid = \"p\"\n\n[[demand_response]]\nid = \"e1\"\ndate = \"2026-07-01\"\n\
                 start = \"13:00\"\nend = \"15:00\"\n{extra}\n"
            )
        };
        let c = parse(&ev("committed_kw = 50\nadjustment = \"additive\"")).unwrap();
        assert_eq!(c.demand_response.len(), 1);
        assert_eq!(c.demand_response[0].adjustment, Adjustment::Additive);
        assert_eq!(c.demand_response[0].window(), Ok((780, 900)));

        let e = parse(&ev("committed_kw = -1")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("demand_response[0].committed_kw"));
        assert_eq!(e.line, Some(9), "{e}");
        assert!(e.to_string().starts_with("site.toml: "), "{e}");
        let e = parse(&ev("committed_kw = 5\nkw = 5")).unwrap_err();
        assert!(e.to_string().contains("kw"), "{e}");
        let e = parse(&ev("committed_kw = 5\nadjustment = \"mult\"")).unwrap_err();
        assert_eq!(
            e.key.as_deref(),
            Some("demand_response[0].adjustment"),
            "{e}"
        );
        let e = parse(&ev("committed_kw = 5").replace("2026-07-01", "2026-07-32")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("demand_response[0].date"), "{e}");
    }

    #[test]
    fn overlong_durations_are_config_errors_with_their_line() {
        let e = parse(&GOOD.replace("\"2s\"", "\"999999999999999d\"")).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("site.toml: devices[0].interval: `999999999999999d` is too long"),
            "{msg}"
        );
        assert!(msg.ends_with("(line 9)"), "{msg}");
    }

    #[test]
    fn broker_addresses_are_checked_with_their_line() {
        for bad in ["nohost", "host:99999", ":1883", "", "host:0", "[]:1883"] {
            let text = format!("[site]\nid = \"p\"\n\n[mqtt]\nbroker = \"{bad}\"\n");
            let e = parse(&text).unwrap_err();
            assert_eq!(e.key.as_deref(), Some("mqtt.broker"), "{bad}: {e}");
            assert_eq!(e.line, Some(5), "{bad}: {e}");
        }
        for good in ["127.0.0.1:1883", "broker.local:8883", "[::1]:1883"] {
            let text = format!("[site]\nid = \"p\"\n[mqtt]\nbroker = \"{good}\"\n");
            parse(&text).unwrap();
        }
    }

    #[test]
    fn a_network_address_needs_a_token_or_a_waiver() {
        let open = "[site]\nid = \"p\"\n[gateway]\nhttp = \"0.0.0.0:8080\"\n";
        let e = parse(open).unwrap_err();
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("gateway.http"), Some(4)),
            "{e}"
        );
        assert!(e.to_string().contains("gateway.access_token_file"), "{e}");
        parse(&format!("{open}allow_unauthenticated = true\n")).unwrap();
        let c = parse(&format!(
            "{open}access_token_env = \"KW_UNSET_TOKEN_VAR\"\n"
        ))
        .unwrap();
        let e = c
            .check_gateway_access(c.gateway.http)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "site.toml: gateway.access_token_env: environment variable KW_UNSET_TOKEN_VAR is not set (line 5)"
        );
        // `run --http` may move a loopback file onto the network.
        let c = parse("[site]\nid = \"p\"\n").unwrap();
        let e = c
            .check_gateway_access("0.0.0.0:80".parse().unwrap())
            .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("gateway.http"));
    }

    #[test]
    fn secret_files_and_variables_are_checked() {
        let text =
            "[site]\nid = \"p\"\n[mqtt]\nusername = \"u\"\npassword_file = \"/nonexistent/pw\"\n";
        let e = parse(text).unwrap().check_mqtt_access().unwrap_err();
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("mqtt.password_file"), Some(5))
        );
        assert!(e.what.starts_with("cannot read /nonexistent/pw"), "{e}");
        let text = "[site]\nid = \"p\"\n[mqtt]\nca_file = \"/nonexistent/ca.pem\"\n";
        let e = parse(text).unwrap().check_mqtt_access().unwrap_err();
        assert_eq!(e.key.as_deref(), Some("mqtt.ca_file"));
        let text =
            "[site]\nid = \"p\"\n[mqtt]\nusername = \"u\"\npassword_env = \"KW_UNSET_PW_VAR\"\n";
        let e = parse(text).unwrap().check_mqtt_access().unwrap_err();
        assert_eq!(e.key.as_deref(), Some("mqtt.password_env"));
    }

    #[test]
    fn alarm_errors_name_file_key_and_line() {
        let with = |alarm: &str| parse(&format!("{GOOD}\n[[alarms]]\n{alarm}\n"));
        let e = with("id = \"demand\"\nthreshold = \"480\"").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("site.toml: alarms[0].threshold: "), "{msg}");
        assert!(
            msg.contains("no unit") && msg.ends_with("(line 13)"),
            "{msg}"
        );
        let e = with("id = \"x\"\nrule = \"device_silent\"\ndevice = \"nope\"").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("site.toml: alarms[0].device: unknown device `nope`"),
            "{e}"
        );
        let e = with("id = \"demand\"\nasset = \"boiler\"").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("site.toml: alarms[0].asset: unknown asset `boiler`"),
            "{e}"
        );
        let e =
            with("id = \"demand\"\nquiet_hours = [[\"22:00\", \"06:00\"], [\"05:30\", \"07:00\"]]")
                .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("site.toml: alarms[0].quiet_hours[1]: overlaps"),
            "{e}"
        );
        let e = with("id = \"demand\"\nthreshold = \"90s\"").unwrap_err();
        assert!(e.to_string().contains("kW"), "{e}");
        let e = with("id = \"mystery\"").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("alarms[0].id"), "{e}");
        let ok = with(
            "id = \"demand\"\nthreshold = \"480 kW\"\nwarn_at = 0.9\nhysteresis = \"2 %\"\nseverity = \"critical\"\nquiet_hours = [[\"22:00\", \"06:00\"]]\n\n[[alarms]]\nid = \"incomer-silent\"\nrule = \"device_silent\"\ndevice = \"incomer\"\nthreshold = \"30s\"",
        )
        .unwrap();
        assert_eq!(ok.alarms.len(), 2);
        assert_eq!(ok.alarms[1].kind(), "device_silent");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn site_files_never_panic(text in "\\PC{0,200}") {
                let _ = parse(&text);
            }

            #[test]
            fn any_setting_value_gives_a_result_not_a_panic(
                key in prop::sample::select(vec![
                    "interval", "timeout", "slow_interval", "pause", "unit", "baud", "tcp",
                ]),
                value in "\\PC{0,30}",
                broker in "\\PC{0,30}",
                budget in "\\PC{0,20}",
            ) {
                let quote = |v: &str| format!("{v:?}");
                let text = format!(
                    "{GOOD}{key} = {}\n[mqtt]\nbroker = {}\n[agent]\nspool_budget = {}\n",
                    quote(&value),
                    quote(&broker),
                    quote(&budget),
                );
                if let Err(e) = parse(&text) {
                    let msg = e.to_string();
                    prop_assert!(!msg.contains(['\n', '\r']), "one line: {}", msg);
                }
                let _ = line_of_key(&text, &format!("devices[0].{key}"));
            }
        }
    }
}
