//! Device simulators: each simulated device is served over Modbus TCP with the register map of
//! its real profile, encoded through the same profile the agent decodes with.

mod meter;
mod parts;
pub mod plant;
pub mod rng;
pub mod sampling;
pub mod scenario;
mod snapshot;
pub mod utilities;
mod variation;

pub use meter::{production_shape, Meter, MeterSettings};
pub use plant::{Part, Plant, PlantSettings};
pub use scenario::Scenario;

use std::future::Ready;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use kilowatch_site::config::{parse_duration, ConfigError, DeviceConfig, SiteConfig};
use kilowatch_site::profile::{Profile, ProfileLibrary, Table};
use tokio::net::TcpListener;
use tokio_modbus::server::tcp::{accept_tcp_connection, Server};
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

/// Registers the simulated device answers for in each register table (at least; a profile
/// with registers further up gets an image reaching them, e.g. drives at 0x2100 or 20 000);
/// reads beyond get `IllegalDataAddress`, as on a real meter.
const IMAGE_SIZE: usize = 0x200;

/// Registers the image of a device with `profile` holds: up to its highest register (four
/// words past its address covers every type).
fn image_size(profile: &Profile) -> usize {
    profile
        .registers
        .iter()
        .map(|r| usize::from(profile.protocol_address(r)) + 4)
        .max()
        .unwrap_or(0)
        .max(IMAGE_SIZE)
}

/// The registers a simulated device serves.
#[derive(Default)]
struct Image {
    input: Vec<u16>,
    holding: Vec<u16>,
}

struct SimService {
    unit: u8,
    image: Arc<RwLock<Image>>,
    /// Answers nothing at all (the `meter-silent` scenario).
    silent: bool,
}

fn slice(regs: &[u16], addr: u16, cnt: u16) -> Result<Vec<u16>, ExceptionCode> {
    let (a, n) = (usize::from(addr), usize::from(cnt));
    if n == 0 || n > 125 || a + n > regs.len() {
        return Err(ExceptionCode::IllegalDataAddress);
    }
    Ok(regs[a..a + n].to_vec())
}

impl tokio_modbus::server::Service for SimService {
    type Request = SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = Ready<Result<Option<Response>, ExceptionCode>>;

    fn call(&self, req: SlaveRequest<'static>) -> Self::Future {
        // Like a device on a shared bus: stay silent for other unit ids.
        if req.slave != self.unit || self.silent {
            return std::future::ready(Ok(None));
        }
        let image = self.image.read().unwrap_or_else(|p| p.into_inner());
        let result = match req.request {
            Request::ReadInputRegisters(addr, cnt) => {
                slice(&image.input, addr, cnt).map(Response::ReadInputRegisters)
            }
            Request::ReadHoldingRegisters(addr, cnt) => {
                slice(&image.holding, addr, cnt).map(Response::ReadHoldingRegisters)
            }
            other => {
                tracing::warn!(unit = self.unit, "simulator refused request {other:?}");
                Err(ExceptionCode::IllegalFunction)
            }
        };
        std::future::ready(result.map(Some))
    }
}

/// A simulated device that is being served.
pub struct Served {
    pub device: String,
    pub addr: SocketAddr,
}

/// What a device's `simulate` table asks for: a stand-alone meter with its own load profile,
/// or a view of the shared physics plant.
enum SimSettings {
    Meter(MeterSettings),
    Part(plant::PartSettings),
}

/// Parses a device's `simulate` table, naming the file and key on error.
fn settings(file: &str, index: usize, d: &DeviceConfig) -> Result<SimSettings, ConfigError> {
    let table = d.simulate.clone().unwrap_or_default();
    let err = |path: String, what: String| ConfigError {
        problem: Default::default(),
        file: file.to_owned(),
        key: Some(format!("devices[{index}].simulate.{path}")),
        what,
        line: None,
    };
    if table.contains_key("plant") {
        return serde_path_to_error::deserialize(toml::Value::Table(table))
            .map(SimSettings::Part)
            .map_err(|e| {
                err(
                    e.path().to_string(),
                    e.into_inner().message().trim().to_owned(),
                )
            });
    }
    serde_path_to_error::deserialize(toml::Value::Table(table))
        .map(SimSettings::Meter)
        .map_err(|e| {
            err(
                e.path().to_string(),
                e.into_inner().message().trim().to_owned(),
            )
        })
}

/// The site's `[plant]` table.
pub fn plant_settings(
    config: &SiteConfig,
    file: &str,
) -> Result<plant::PlantSettings, ConfigError> {
    let mut table = config.plant.clone().unwrap_or_default();
    // The simulated plant keeps the site's holidays unless it is given its own.
    if !table.contains_key("holidays") && !config.site.holidays.is_empty() {
        let days = config
            .site
            .holidays
            .iter()
            .map(|d| toml::Value::String(d.to_string()));
        table.insert("holidays".into(), toml::Value::Array(days.collect()));
    }
    let mut settings: plant::PlantSettings =
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError {
            problem: Default::default(),
            file: file.to_owned(),
            key: Some(format!("plant.{}", e.path())),
            what: e.into_inner().message().trim().to_owned(),
            line: None,
        })?;
    if settings.scenarios.contains(&Scenario::DemandPeak) && settings.peak_kw.is_none() {
        let contract = config
            .contracts()
            .map(|c| c.regular)
            .ok_or_else(|| ConfigError {
                problem: Default::default(),
                file: file.to_owned(),
                key: Some("plant.peak_kw".into()),
                what: "the demand-peak scenario needs site.contract_kw or plant.peak_kw".into(),
                line: None,
            })?;
        settings.peak_kw = Some(contract * scenario::PEAK_SHARE);
    }
    Ok(settings)
}

fn encode(profile: &Profile, values: &std::collections::BTreeMap<&str, f64>, image: &mut Image) {
    for r in &profile.registers {
        let Some(&v) = values.get(r.quantity.as_str()) else {
            continue;
        };
        let words = r.from_canonical(v, profile.order(r));
        let at = usize::from(profile.protocol_address(r));
        let regs = match r.table {
            Table::Input => &mut image.input,
            Table::Holding => &mut image.holding,
            Table::Coil | Table::DiscreteInput => continue,
        };
        regs[at..at + words.len()].copy_from_slice(&words);
    }
}

/// Where to listen: the addresses in the site file, or any free loopback port (the demo).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bind {
    Configured,
    EphemeralLoopback,
}

/// Checks the simulated devices of a site file without starting anything.
pub fn check(config: &SiteConfig, file: &str) -> Result<usize, ConfigError> {
    let mut n = 0;
    let mut plant = false;
    for (i, d) in config.devices.iter().enumerate() {
        if d.simulate.is_some() {
            match settings(file, i, d)? {
                SimSettings::Meter(s) => {
                    parse_duration(&s.step).map_err(|what| ConfigError {
                        problem: Default::default(),
                        file: file.to_owned(),
                        key: Some(format!("devices[{i}].simulate.step")),
                        what,
                        line: None,
                    })?;
                }
                SimSettings::Part(_) => plant = true,
            }
            n += 1;
        }
    }
    if plant || config.plant.is_some() {
        plant_settings(config, file)?;
    }
    Ok(n)
}

/// Starts a Modbus TCP server for every device with a `[devices.simulate]` table.
pub async fn start(
    config: &SiteConfig,
    file: &str,
    profiles: &ProfileLibrary,
    bind: Bind,
) -> anyhow::Result<Vec<Served>> {
    start_with_plant(config, file, profiles, bind, None).await
}

/// The devices of a site file that show the shared plant, with their settings.
pub fn plant_devices(
    config: &SiteConfig,
    file: &str,
) -> Result<Vec<(DeviceConfig, plant::PartSettings)>, ConfigError> {
    let mut out = Vec::new();
    for (i, d) in config.devices.iter().enumerate() {
        if d.simulate.is_some() {
            if let SimSettings::Part(p) = settings(file, i, d)? {
                out.push((d.clone(), p));
            }
        }
    }
    Ok(out)
}

/// Like [`start`], continuing `plant` (already run up to the given time, e.g. by a history
/// backfill) instead of starting a fresh one, so live data joins the history seamlessly.
pub async fn start_with_plant(
    config: &SiteConfig,
    file: &str,
    profiles: &ProfileLibrary,
    bind: Bind,
    resume: Option<(plant::Plant, chrono::DateTime<Utc>)>,
) -> anyhow::Result<Vec<Served>> {
    check(config, file)?;
    let tz = config.timezone();
    let meter_silent = plant_settings(config, file)?
        .scenarios
        .contains(&Scenario::MeterSilent);
    let mut served = Vec::new();
    // Devices that show the shared plant: (image, profile, part settings), updated together.
    let mut plant_views: Vec<(Arc<RwLock<Image>>, Profile, plant::PartSettings)> = Vec::new();
    for (i, d) in config.devices.iter().enumerate() {
        if d.simulate.is_none() {
            continue;
        }
        let sim = settings(file, i, d)?;
        let profile = profiles
            .get(&d.profile)
            .with_context(|| format!("unknown profile {}", d.profile))?
            .for_device(&d.channels)
            .map_err(|e| anyhow::anyhow!("{file}: devices[{i}]: {e}"))?;
        let addr = match bind {
            Bind::Configured => d.tcp.clone().ok_or_else(|| {
                anyhow::anyhow!(
                    "{file}: devices[{i}]: a simulated device needs `tcp = \"host:port\"`"
                )
            })?,
            Bind::EphemeralLoopback => "127.0.0.1:0".into(),
        };
        let listener = TcpListener::bind(&addr).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                anyhow::anyhow!(
                    "{file}: devices[{i}].tcp: {addr} is already in use; change the port in the site file"
                )
            } else {
                anyhow::anyhow!("{file}: devices[{i}].tcp: cannot listen on {addr}: {e}")
            }
        })?;
        let local = listener.local_addr()?;
        let image = Arc::new(RwLock::new(Image {
            input: vec![0; image_size(&profile)],
            holding: vec![0; image_size(&profile)],
        }));
        let silent =
            meter_silent && matches!(&sim, SimSettings::Part(p) if p.plant == Part::CompressorVsd);
        if silent {
            tracing::info!(device = %d.id, "scenario meter-silent: this device answers nothing");
        }
        match sim {
            SimSettings::Meter(s) => {
                let step = parse_duration(&s.step).map_err(anyhow::Error::msg)?;
                let mut meter = Meter::new(s, tz);
                let image = image.clone();
                let device = d.id.clone();
                tokio::spawn(async move {
                    let mut ticker = tokio::time::interval(step);
                    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                    loop {
                        ticker.tick().await;
                        let values = meter.step(Utc::now());
                        let mut img = image.write().unwrap_or_else(|p| p.into_inner());
                        encode(&profile, &values, &mut img);
                        drop(img);
                        tracing::trace!(%device, kw = values["active_power"], "simulator step");
                    }
                });
            }
            SimSettings::Part(part) => plant_views.push((image.clone(), profile, part)),
        }
        let unit = d.unit;
        let server = Server::new(listener);
        tokio::spawn(async move {
            let on_connected = |stream, socket_addr| {
                let image = image.clone();
                async move {
                    accept_tcp_connection(stream, socket_addr, move |_| {
                        Ok(Some(SimService {
                            unit,
                            image: image.clone(),
                            silent,
                        }))
                    })
                }
            };
            let on_error = |e| tracing::debug!("simulator connection ended: {e}");
            if let Err(e) = server.serve(&on_connected, on_error).await {
                tracing::error!("simulator stopped: {e}");
            }
        });
        tracing::info!(device = %d.id, profile = %d.profile, %local, unit, "simulating device");
        served.push(Served {
            device: d.id.clone(),
            addr: local,
        });
    }
    if !plant_views.is_empty() {
        let settings = plant_settings(config, file)?;
        let mut rng = rng::Rng::new(settings.seed ^ 0x5eed);
        let now = Utc::now();
        let (mut plant, last) = match resume {
            // Catch up from the end of the history in one-second steps.
            Some((mut plant, mut at)) => {
                while at + chrono::Duration::seconds(1) <= now {
                    at += chrono::Duration::seconds(1);
                    plant.step(at, 1.0);
                }
                (plant, at)
            }
            None => {
                // Settle the receiver and compressors for a few simulated minutes.
                let mut plant = plant::Plant::new(settings, tz);
                for k in (1..=300).rev() {
                    plant.step(now - chrono::Duration::seconds(k), 1.0);
                }
                (plant, now - chrono::Duration::seconds(1))
            }
        };
        // Scenarios act on the live plant only, not on the history it may continue.
        plant.go_live(now, last);
        let publish = move |plant: &plant::Plant, rng: &mut rng::Rng| {
            for (image, profile, part) in &plant_views {
                let values = sampling::read(
                    part.plant,
                    plant.snapshot(),
                    part.voltage_ln,
                    part.frequency,
                    rng,
                );
                let mut img = image.write().unwrap_or_else(|p| p.into_inner());
                encode(profile, &values, &mut img);
            }
        };
        publish(&plant, &mut rng);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(1));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut last = now;
            loop {
                ticker.tick().await;
                let now = Utc::now();
                let dt = (now - last).num_milliseconds() as f64 / 1000.0;
                if dt > 0.0 {
                    plant.step(now, dt);
                    last = now;
                }
                publish(&plant, &mut rng);
            }
        });
    }
    // Give the first simulation step a moment to fill the registers.
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(served)
}
