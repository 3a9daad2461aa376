//! Source stage: reads one device over Modbus TCP and turns its registers into readings.
//!
//! Read-only by construction: [`read_block`] is the single call site that talks to a device,
//! and it can only issue the four read function codes.

use std::net::SocketAddr;
use std::time::Duration;

use thiserror::Error;
use tokio::time::timeout;
use tokio_modbus::client::{tcp, Context, Reader};
use tokio_modbus::{ExceptionCode, Slave};

use crate::config::DeviceConfig;
use crate::payload::{Quality, Reading};
use crate::plan::{self, ReadBlock};
use crate::profile::{Profile, Table, Value};
use crate::vocab;

#[derive(Debug, Error)]
pub enum PollError {
    #[error("cannot resolve {addr}: {message}")]
    Resolve { addr: String, message: String },
    #[error("cannot connect to {addr}: {message}")]
    Connect { addr: String, message: String },
    #[error("no answer from {addr} within {timeout:?} ({what})")]
    Timeout {
        addr: String,
        timeout: Duration,
        what: String,
    },
    #[error("{addr}: {what}: {message}")]
    Transport {
        addr: String,
        what: String,
        message: String,
    },
}

/// Polls one device; keeps its connection between polls and drops it after any failure, because
/// tokio-modbus would otherwise match a late reply to the next request.
pub struct Poller {
    device: DeviceConfig,
    profile: Profile,
    blocks: Vec<ReadBlock>,
    ctx: Option<Context>,
}

/// What one block read returned.
enum BlockData {
    Words(Vec<u16>),
    Bits(Vec<bool>),
}

impl Poller {
    pub fn new(device: DeviceConfig, profile: Profile) -> Self {
        let blocks = plan::plan(&profile, plan::Limits::default());
        Self {
            device,
            profile,
            blocks,
            ctx: None,
        }
    }

    pub fn device(&self) -> &DeviceConfig {
        &self.device
    }

    async fn connect(device: &DeviceConfig) -> Result<Context, PollError> {
        let addr = &device.tcp;
        let t = device.timeout;
        let resolved: SocketAddr = timeout(t, tokio::net::lookup_host(addr))
            .await
            .map_err(|_| PollError::Timeout {
                addr: addr.clone(),
                timeout: t,
                what: "resolving".into(),
            })?
            .map_err(|e| PollError::Resolve {
                addr: addr.clone(),
                message: e.to_string(),
            })?
            .next()
            .ok_or_else(|| PollError::Resolve {
                addr: addr.clone(),
                message: "no address".into(),
            })?;
        timeout(t, tcp::connect_slave(resolved, Slave(device.unit)))
            .await
            .map_err(|_| PollError::Timeout {
                addr: addr.clone(),
                timeout: t,
                what: "connecting".into(),
            })?
            .map_err(|e| PollError::Connect {
                addr: addr.clone(),
                message: e.to_string(),
            })
    }

    /// Reads every register of the profile once. A transport failure fails the whole poll (and
    /// drops the connection); a Modbus exception marks only the affected readings `bad`.
    pub async fn poll(&mut self) -> Result<Vec<Reading>, PollError> {
        let mut ctx = match self.ctx.take() {
            Some(ctx) => ctx,
            None => Self::connect(&self.device).await?,
        };
        let mut readings = Vec::with_capacity(self.profile.registers.len());
        for block in &self.blocks {
            let result = read_block(&mut ctx, block, self.device.timeout, &self.device.tcp).await?;
            for &i in &block.fields {
                let r = &self.profile.registers[i];
                let unit = vocab::quantity(&r.quantity).expect("checked").unit;
                let value = match &result {
                    Err(_) => Value::Invalid,
                    Ok(BlockData::Bits(bits)) => {
                        let at = usize::from(self.profile.protocol_address(r) - block.start);
                        Value::Good(f64::from(u8::from(bits[at])))
                    }
                    Ok(BlockData::Words(words)) => {
                        let at = usize::from(self.profile.protocol_address(r) - block.start);
                        let n = usize::from(r.data_type.words());
                        r.to_canonical(&words[at..at + n], self.profile.order(r))
                            .unwrap_or(Value::Invalid)
                    }
                };
                let (value, quality) = match value {
                    Value::Good(v) => (Some(v), Quality::Good),
                    Value::Unavailable => (None, Quality::Unavailable),
                    Value::Invalid => (None, Quality::Bad),
                };
                readings.push(Reading {
                    quantity: r.quantity.clone(),
                    value,
                    unit: unit.to_owned(),
                    quality,
                });
            }
            if let Err(code) = result {
                tracing::warn!(device = %self.device.id, table = ?block.table, start = block.start,
                    count = block.count, "device answered with exception {code:?}");
            }
        }
        self.ctx = Some(ctx);
        Ok(readings)
    }
}

/// The one place a request is sent to a device. Only read function codes exist here.
async fn read_block(
    ctx: &mut Context,
    block: &ReadBlock,
    t: Duration,
    addr: &str,
) -> Result<Result<BlockData, ExceptionCode>, PollError> {
    let (start, count) = (block.start, block.count);
    let fut = async {
        Ok::<_, tokio_modbus::Error>(match block.table {
            Table::Input => ctx
                .read_input_registers(start, count)
                .await?
                .map(BlockData::Words),
            Table::Holding => ctx
                .read_holding_registers(start, count)
                .await?
                .map(BlockData::Words),
            Table::Coil => ctx.read_coils(start, count).await?.map(BlockData::Bits),
            Table::DiscreteInput => ctx
                .read_discrete_inputs(start, count)
                .await?
                .map(BlockData::Bits),
        })
    };
    let what = || format!("reading {:?} {start}+{count}", block.table);
    let result = timeout(t, fut)
        .await
        .map_err(|_| PollError::Timeout {
            addr: addr.to_owned(),
            timeout: t,
            what: what(),
        })?
        .map_err(|e| PollError::Transport {
            addr: addr.to_owned(),
            what: what(),
            message: e.to_string(),
        })?;
    // A short reply would index out of bounds later: treat it as a transport fault.
    if let Ok(data) = &result {
        let got = match data {
            BlockData::Words(w) => w.len(),
            BlockData::Bits(b) => b.len(),
        };
        if got < usize::from(count) {
            return Err(PollError::Transport {
                addr: addr.to_owned(),
                what: what(),
                message: format!("short reply: {got} of {count}"),
            });
        }
    }
    Ok(result)
}
