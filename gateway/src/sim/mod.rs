//! Device simulators: each simulated device is served over Modbus TCP with the register map of
//! its real profile, encoded through the same profile the agent decodes with.

mod meter;
pub mod plant;
mod rng;

pub use meter::{production_shape, Meter, MeterSettings};

use std::future::Ready;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use kilowatch_agent::config::{parse_duration, ConfigError, DeviceConfig, SiteConfig};
use kilowatch_agent::profile::{Profile, ProfileLibrary, Table};
use tokio::net::TcpListener;
use tokio_modbus::server::tcp::{accept_tcp_connection, Server};
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

/// Registers the simulated device answers for in each register table; reads beyond get
/// `IllegalDataAddress`, as on a real meter.
const IMAGE_SIZE: usize = 0x200;

/// The registers a simulated device serves.
#[derive(Default)]
struct Image {
    input: Vec<u16>,
    holding: Vec<u16>,
}

struct SimService {
    unit: u8,
    image: Arc<RwLock<Image>>,
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
        if req.slave != self.unit {
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

/// Parses a device's `simulate` table, naming the file and key on error.
fn settings(file: &str, index: usize, d: &DeviceConfig) -> Result<MeterSettings, ConfigError> {
    let table = d.simulate.clone().unwrap_or_default();
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError {
        file: file.to_owned(),
        key: Some(format!("devices[{index}].simulate.{}", e.path())),
        what: e.into_inner().message().trim().to_owned(),
        line: None,
    })
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
    for (i, d) in config.devices.iter().enumerate() {
        if d.simulate.is_some() {
            let s = settings(file, i, d)?;
            parse_duration(&s.step).map_err(|what| ConfigError {
                file: file.to_owned(),
                key: Some(format!("devices[{i}].simulate.step")),
                what,
                line: None,
            })?;
            n += 1;
        }
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
    check(config, file)?;
    let tz = config.timezone();
    let mut served = Vec::new();
    for (i, d) in config.devices.iter().enumerate() {
        if d.simulate.is_none() {
            continue;
        }
        let s = settings(file, i, d)?;
        let step = parse_duration(&s.step).map_err(anyhow::Error::msg)?;
        let profile = profiles
            .get(&d.profile)
            .with_context(|| format!("unknown profile {}", d.profile))?
            .clone();
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
            input: vec![0; IMAGE_SIZE],
            holding: vec![0; IMAGE_SIZE],
        }));
        let mut meter = Meter::new(s, tz);
        {
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
    // Give the first simulation step a moment to fill the registers.
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(served)
}
