//! Source stage: reads devices over Modbus TCP, RTU (serial) or RTU over TCP and turns their
//! registers into readings.
//!
//! Read-only by construction: [`read_block`] is the single call site that sends a request to a
//! device, and [`ReadFn`] has a variant for each of the four read function codes and nothing
//! else; no write method of the Modbus client is called anywhere in the agent.

use std::borrow::Cow;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Mutex;
use tokio::time::timeout;
use tokio_modbus::client::{rtu, tcp, Context, Reader};
use tokio_modbus::slave::SlaveContext;
use tokio_modbus::{ExceptionCode, Slave};

use crate::plan::{self, Limits, ReadBlock};
use kilowatch_site::config::{DeviceConfig, Parity, Transport};
use kilowatch_site::payload::{Quality, Reading};
use kilowatch_site::profile::{PollClass, Profile, Table, Value};
use kilowatch_site::vocab;

#[derive(Debug, Error)]
pub enum PollError {
    #[error("cannot resolve {addr}: {message}")]
    Resolve { addr: String, message: String },
    #[error("cannot open {addr}: {message}")]
    Connect { addr: String, message: String },
    #[error("no answer from {addr} unit {unit} within {timeout:?} ({what})")]
    Timeout {
        addr: String,
        unit: u8,
        timeout: Duration,
        what: String,
    },
    #[error("{addr} unit {unit}: {what}: {message}")]
    Transport {
        addr: String,
        unit: u8,
        what: String,
        message: String,
    },
}

impl PollError {
    /// Short label for health counters.
    pub fn kind(&self) -> &'static str {
        match self {
            PollError::Resolve { .. } | PollError::Connect { .. } => "connect",
            PollError::Timeout { .. } => "timeout",
            PollError::Transport { .. } => "transport",
        }
    }
}

/// What a poll error says when the device closed the TCP connection.
pub const PEER_CLOSED: &str = "connection closed by the device";

/// A TCP stream that notes when the peer closes it (a read returns end of file). tokio-modbus
/// reports that case over TCP with whatever `errno` happened to be left over ("os error 115",
/// "os error 11"), and over RTU-over-TCP as "broken pipe"; the poll error says what happened.
#[derive(Debug)]
struct WatchedStream {
    inner: tokio::net::TcpStream,
    closed: Arc<AtomicBool>,
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() == before && buf.remaining() > 0 {
            this.closed.store(true, Ordering::Relaxed);
        }
        r
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A write or read that failed because the device had closed the connection (a request sent
/// after its FIN is answered with a reset).
fn closed_by_peer(e: &tokio_modbus::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(e, tokio_modbus::Error::Transport(io) if matches!(
        io.kind(),
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof
    ))
}

/// One physical connection (a TCP socket, a serial port) and the devices behind it. Devices on
/// one bus are polled one at a time: the mutex is held for a whole device poll.
pub struct Bus {
    transport: Transport,
    conn: Mutex<Option<Context>>,
    /// The device closed the current TCP connection.
    peer_closed: Arc<AtomicBool>,
}

impl Bus {
    pub fn new(transport: Transport) -> Arc<Self> {
        Arc::new(Self {
            transport,
            conn: Mutex::new(None),
            peer_closed: Arc::default(),
        })
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    fn label(&self) -> String {
        match &self.transport {
            Transport::Tcp(a) | Transport::RtuOverTcp(a) => a.clone(),
            Transport::Rtu { path, .. } => path.clone(),
        }
    }

    async fn connect(&self, t: Duration, unit: u8) -> Result<Context, PollError> {
        let addr = self.label();
        let timed_out = |what: &str| PollError::Timeout {
            addr: addr.clone(),
            unit,
            timeout: t,
            what: what.into(),
        };
        let connect_err = |e: std::io::Error| PollError::Connect {
            addr: addr.clone(),
            message: e.to_string(),
        };
        match &self.transport {
            Transport::Tcp(a) | Transport::RtuOverTcp(a) => {
                let resolved = timeout(t, tokio::net::lookup_host(a.as_str()))
                    .await
                    .map_err(|_| timed_out("resolving"))?
                    .map_err(|e| PollError::Resolve {
                        addr: addr.clone(),
                        message: e.to_string(),
                    })?
                    .next()
                    .ok_or_else(|| PollError::Resolve {
                        addr: addr.clone(),
                        message: "no address".into(),
                    })?;
                let stream = timeout(t, tokio::net::TcpStream::connect(resolved))
                    .await
                    .map_err(|_| timed_out("connecting"))?
                    .map_err(connect_err)?;
                stream.set_nodelay(true).map_err(connect_err)?;
                self.peer_closed.store(false, Ordering::Relaxed);
                let stream = WatchedStream {
                    inner: stream,
                    closed: self.peer_closed.clone(),
                };
                Ok(if matches!(self.transport, Transport::Tcp(_)) {
                    tcp::attach_slave(stream, Slave(unit))
                } else {
                    rtu::attach_slave(stream, Slave(unit))
                })
            }
            Transport::Rtu {
                path,
                baud,
                parity,
                stop_bits,
            } => {
                use tokio_serial::SerialPortBuilderExt;
                let port = tokio_serial::new(path, *baud)
                    .data_bits(tokio_serial::DataBits::Eight)
                    .parity(match parity {
                        Parity::None => tokio_serial::Parity::None,
                        Parity::Even => tokio_serial::Parity::Even,
                        Parity::Odd => tokio_serial::Parity::Odd,
                    })
                    .stop_bits(if *stop_bits == 2 {
                        tokio_serial::StopBits::Two
                    } else {
                        tokio_serial::StopBits::One
                    })
                    .open_native_async()
                    .map_err(|e| PollError::Connect {
                        addr: addr.clone(),
                        message: e.to_string(),
                    })?;
                Ok(rtu::attach_slave(port, Slave(unit)))
            }
        }
    }
}

/// The read function codes, and only those.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFn {
    Coils,
    DiscreteInputs,
    InputRegisters,
    HoldingRegisters,
}

impl ReadFn {
    pub fn for_table(t: Table) -> Self {
        match t {
            Table::Coil => ReadFn::Coils,
            Table::DiscreteInput => ReadFn::DiscreteInputs,
            Table::Input => ReadFn::InputRegisters,
            Table::Holding => ReadFn::HoldingRegisters,
        }
    }

    pub fn code(self) -> u8 {
        match self {
            ReadFn::Coils => 0x01,
            ReadFn::DiscreteInputs => 0x02,
            ReadFn::HoldingRegisters => 0x03,
            ReadFn::InputRegisters => 0x04,
        }
    }
}

/// What one block read returned.
pub enum BlockData {
    Words(Vec<u16>),
    Bits(Vec<bool>),
}

/// The one place a request is sent to a device.
pub async fn read_block(
    ctx: &mut Context,
    f: ReadFn,
    start: u16,
    count: u16,
) -> Result<Result<BlockData, ExceptionCode>, tokio_modbus::Error> {
    Ok(match f {
        ReadFn::InputRegisters => ctx
            .read_input_registers(start, count)
            .await?
            .map(BlockData::Words),
        ReadFn::HoldingRegisters => ctx
            .read_holding_registers(start, count)
            .await?
            .map(BlockData::Words),
        ReadFn::Coils => ctx.read_coils(start, count).await?.map(BlockData::Bits),
        ReadFn::DiscreteInputs => ctx
            .read_discrete_inputs(start, count)
            .await?
            .map(BlockData::Bits),
    })
}

/// The result of one successful device poll.
#[derive(Debug)]
pub struct PollOutcome {
    pub readings: Vec<Reading>,
    /// Requests answered with a Modbus exception.
    pub exceptions: u32,
    pub requests: u32,
    pub latency: Duration,
}

/// Whether the profile's `slow` registers are read in this poll, `since` the last time they
/// were. Without a `slow_interval` (or one no longer than `interval`) they are read every
/// poll: a tick that started late must not skip them. Otherwise half an interval of lateness
/// is allowed, so a slow interval of 60 s on a 1 s schedule reads them every 60 polls, not 61.
fn slow_due(slow_interval: Option<Duration>, interval: Duration, since: Option<Duration>) -> bool {
    match (slow_interval, since) {
        (None, _) | (_, None) => true,
        (Some(slow), _) if slow <= interval => true,
        (Some(slow), Some(since)) => since + interval / 2 >= slow,
    }
}

/// Polls one device through its bus.
pub struct Poller {
    device: DeviceConfig,
    profile: Profile,
    blocks: Vec<ReadBlock>,
    /// Per register: the unit conversion, looked up once rather than on every read.
    conversions: Vec<vocab::Conversion>,
    bus: Arc<Bus>,
    last_slow: Option<Instant>,
}

impl Poller {
    /// `profile` must already be resolved for the device ([`Profile::for_device`]).
    pub fn new(device: DeviceConfig, profile: Profile, bus: Arc<Bus>) -> Self {
        let blocks = plan::plan(&profile, Limits::for_device(&device));
        let conversions = profile.registers.iter().map(|r| r.conversion()).collect();
        Self {
            device,
            profile,
            blocks,
            conversions,
            bus,
            last_slow: None,
        }
    }

    pub fn device(&self) -> &DeviceConfig {
        &self.device
    }

    /// The device's profile, resolved for it.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The read requests one full poll makes.
    pub fn blocks(&self) -> &[ReadBlock] {
        &self.blocks
    }

    /// Reads every due register once. A transport failure or timeout fails the whole poll and
    /// drops the bus connection (tokio-modbus would otherwise match a late reply to the next
    /// request); a Modbus exception marks only the affected readings `bad`.
    pub async fn poll(&mut self) -> Result<PollOutcome, PollError> {
        let started = Instant::now();
        let slow_due = slow_due(
            self.device.slow_interval,
            self.device.interval,
            self.last_slow.map(|t| started.duration_since(t)),
        );
        let bus = self.bus.clone();
        let mut guard = bus.conn.lock().await;
        let unit = self.device.unit;
        let mut ctx = match guard.take() {
            Some(ctx) => ctx,
            None => bus.connect(self.device.timeout, unit).await?,
        };
        ctx.set_slave(Slave(unit));
        let result = self.read_all(&mut ctx, slow_due).await;
        if result.is_ok() {
            // Keep the connection only after a clean exchange.
            *guard = Some(ctx);
            if slow_due {
                self.last_slow = Some(started);
            }
        }
        drop(guard);
        let (readings, exceptions, requests) = result?;
        Ok(PollOutcome {
            readings,
            exceptions,
            requests,
            latency: started.elapsed(),
        })
    }

    /// Reads the profile's identification fields (`[[info]]`), one request each, through the
    /// same read-only call site as polls. A field the device refuses is left out.
    pub async fn read_info(&mut self) -> Result<Vec<(String, String)>, PollError> {
        let bus = self.bus.clone();
        let mut guard = bus.conn.lock().await;
        let unit = self.device.unit;
        let mut ctx = match guard.take() {
            Some(ctx) => ctx,
            None => bus.connect(self.device.timeout, unit).await?,
        };
        ctx.set_slave(Slave(unit));
        let mut out = Vec::new();
        for f in self.profile.info.clone() {
            let block = ReadBlock {
                class: PollClass::Fast,
                table: f.table,
                start: f.address - u16::from(self.profile.address_base),
                count: f.words(),
                fields: Vec::new(),
            };
            match self.request(&mut ctx, &block).await? {
                Ok(BlockData::Words(w)) => {
                    out.push((f.name.clone(), f.decode(&w, self.profile.word_order)));
                }
                Ok(BlockData::Bits(_)) => {}
                Err(code) => {
                    tracing::debug!(field = %f.name, "device refused identification field: {code:?}");
                }
            }
        }
        *guard = Some(ctx);
        Ok(out)
    }

    async fn request(
        &self,
        ctx: &mut Context,
        block: &ReadBlock,
    ) -> Result<Result<BlockData, ExceptionCode>, PollError> {
        let (start, count) = (block.start, block.count);
        let t = self.device.timeout;
        // Error details are built only on the error path: this runs thousands of times a second.
        let what = || format!("reading {:?} {start}+{count}", block.table);
        let unit = self.device.unit;
        let result = timeout(
            t,
            read_block(ctx, ReadFn::for_table(block.table), start, count),
        )
        .await
        .map_err(|_| PollError::Timeout {
            addr: self.bus.label(),
            unit,
            timeout: t,
            what: what(),
        })?
        .map_err(|e| PollError::Transport {
            addr: self.bus.label(),
            unit,
            what: what(),
            message: if self.bus.peer_closed.load(Ordering::Relaxed) || closed_by_peer(&e) {
                PEER_CLOSED.to_owned()
            } else {
                e.to_string()
            },
        })?;
        // A short reply would index out of bounds later: treat it as a transport fault.
        if let Ok(data) = &result {
            let got = match data {
                BlockData::Words(w) => w.len(),
                BlockData::Bits(b) => b.len(),
            };
            if got < usize::from(count) {
                return Err(PollError::Transport {
                    addr: self.bus.label(),
                    unit,
                    what: what(),
                    message: format!("short reply: {got} of {count}"),
                });
            }
        }
        Ok(result)
    }

    async fn read_all(
        &mut self,
        ctx: &mut Context,
        slow_due: bool,
    ) -> Result<(Vec<Reading>, u32, u32), PollError> {
        let mut readings = Vec::with_capacity(self.profile.registers.len());
        let (mut exceptions, mut requests) = (0u32, 0u32);
        let mut i = 0;
        while i < self.blocks.len() {
            let block = &self.blocks[i];
            if block.class == PollClass::Slow && !slow_due {
                i += 1;
                continue;
            }
            if requests > 0 {
                if let Some(pause) = self.device.pause {
                    tokio::time::sleep(pause).await;
                }
            }
            requests += 1;
            let result = self.request(ctx, block).await?;
            if let Err(ExceptionCode::IllegalDataAddress) = result {
                if block.fields.len() > 1 {
                    // The device refuses part of the span (an unmapped gap): read each field
                    // on its own from now on, starting with this poll.
                    tracing::info!(device = %self.device.id, table = ?block.table, start = block.start,
                        count = block.count, "device refused a coalesced read; splitting it per field");
                    let singles: Vec<ReadBlock> = block
                        .fields
                        .iter()
                        .map(|&f| {
                            let r = &self.profile.registers[f];
                            ReadBlock {
                                class: block.class,
                                table: block.table,
                                start: self.profile.protocol_address(r),
                                count: if block.table.is_bits() {
                                    1
                                } else {
                                    r.data_type.words()
                                },
                                fields: vec![f],
                            }
                        })
                        .collect();
                    self.blocks.splice(i..=i, singles);
                    continue;
                }
            }
            if let Err(code) = &result {
                exceptions += 1;
                tracing::debug!(device = %self.device.id, table = ?block.table, start = block.start,
                    count = block.count, "device answered with exception {code:?}");
            }
            self.decode_block(block, &result, &mut readings);
            i += 1;
        }
        Ok((readings, exceptions, requests))
    }

    fn decode_block(
        &self,
        block: &ReadBlock,
        result: &Result<BlockData, ExceptionCode>,
        out: &mut Vec<Reading>,
    ) {
        for &f in &block.fields {
            let r = &self.profile.registers[f];
            let conversion = &self.conversions[f];
            let at = usize::from(self.profile.protocol_address(r) - block.start);
            let value = match result {
                Err(_) => Value::Invalid,
                Ok(BlockData::Bits(bits)) => Value::Good(f64::from(u8::from(bits[at]))),
                Ok(BlockData::Words(words)) => {
                    let n = usize::from(r.data_type.words());
                    r.to_canonical_with(&words[at..at + n], self.profile.order(r), conversion)
                        .unwrap_or(Value::Invalid)
                }
            };
            let (value, quality) = match value {
                Value::Good(v) => (Some(v), Quality::Good),
                Value::Unavailable => (None, Quality::Unavailable),
                Value::Invalid => (None, Quality::Bad),
            };
            out.push(Reading {
                quantity: Cow::Borrowed(vocab::quantity(&r.quantity).expect("checked").name),
                value,
                unit: Cow::Borrowed(conversion.target()),
                quality,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::slow_due;
    use std::time::Duration;

    #[test]
    fn slow_registers_follow_their_interval_and_a_late_tick_never_skips_them() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        // No slow interval: every poll, even one that comes early after a late one.
        assert!(slow_due(None, s(1), Some(ms(900))));
        assert!(slow_due(Some(s(1)), s(1), Some(ms(10))));
        assert!(slow_due(Some(s(60)), s(1), None));
        assert!(!slow_due(Some(s(60)), s(1), Some(s(30))));
        assert!(slow_due(Some(s(60)), s(1), Some(ms(59_600))));
        assert!(!slow_due(Some(s(60)), s(1), Some(ms(59_400))));
    }

    use super::*;
    use kilowatch_site::profile::ProfileLibrary;

    fn poller(addr: &str) -> Poller {
        let transport = Transport::Tcp(addr.to_owned());
        let device = DeviceConfig::new(
            "m",
            "eastron-sdm630",
            transport.clone(),
            1,
            Duration::from_secs(2),
        );
        let profile = ProfileLibrary::builtin()
            .get("eastron-sdm630")
            .unwrap()
            .for_device(&device.channels)
            .unwrap();
        Poller::new(device, profile, Bus::new(transport))
    }

    /// A "device" that accepts TCP connections and closes them, at once or after reading the
    /// request (the end of file tokio-modbus reported as e.g. "os error 115").
    async fn closing_peer(read_first: bool) {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let accepts = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                if read_first {
                    let mut req = [0u8; 12];
                    let _ = sock.read_exact(&mut req).await;
                }
                drop(sock);
            }
        });
        let mut p = poller(&addr);
        for _ in 0..3 {
            let e = p.poll().await.expect_err("nothing answers");
            let text = e.to_string();
            assert!(text.contains(PEER_CLOSED), "{text}");
            assert!(!text.contains("os error"), "{text}");
            assert_eq!(e.kind(), "transport");
        }
        accepts.abort();
    }

    #[tokio::test]
    async fn a_peer_that_closes_after_the_request_is_reported_as_such() {
        closing_peer(true).await;
    }

    #[tokio::test]
    async fn a_peer_that_closes_at_once_is_reported_as_such() {
        closing_peer(false).await;
    }

    /// A refused connection still says so (the watch only names closed connections).
    #[tokio::test]
    async fn a_refused_connection_is_not_called_closed() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = poller(&format!("127.0.0.1:{port}"))
            .poll()
            .await
            .expect_err("nothing listens");
        assert_eq!(e.kind(), "connect");
        assert!(!e.to_string().contains(PEER_CLOSED), "{e}");
    }

    /// Read-only by construction: no source file of the agent calls a Modbus write method.
    #[test]
    fn no_write_function_code_anywhere_in_the_agent() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let writes = [
            "write_single_coil",
            "write_multiple_coils",
            "write_single_register",
            "write_multiple_registers",
            "masked_write_register",
            "read_write_multiple_registers",
            "Request::Write",
            "Request::MaskWrite",
            "Request::ReadWrite",
        ];
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                // This test names the methods it forbids; skip its own module.
                let code = text.split("mod tests").next().unwrap();
                for w in writes {
                    assert!(!code.contains(w), "{} calls {w}", path.display());
                }
                checked += 1;
            }
        }
        assert!(checked >= 8, "scanned {checked} files");
    }
}
