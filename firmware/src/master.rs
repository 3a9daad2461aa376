//! Modbus RTU master for the downstream RS-485 meters, as a state machine the main loop steps:
//! it waits for the bus to be silent (3.5 characters), sends, collects the answer until it is
//! complete or the timeout passes, and retries timeouts and corrupt frames.

use embedded_io::{Read, ReadReady, Write};

use crate::clock::{reached, since};
use crate::rtu::{
    interframe_silence_ms, parse_response, FrameError, ReadRequest, Response, MAX_FRAME,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PollError {
    /// No complete answer within the timeout (after every retry).
    Timeout,
    /// A frame arrived but was wrong (CRC, length, another unit).
    Frame(FrameError),
    /// The meter answered with this exception code (not retried).
    Exception(u8),
    /// The UART failed.
    Io,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MasterStats {
    pub ok: u32,
    pub timeouts: u32,
    pub crc_errors: u32,
    pub frame_errors: u32,
    pub exceptions: u32,
    pub retries: u32,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Idle,
    /// Waiting for bus silence before (re)sending.
    Silence {
        attempt: u8,
    },
    Receiving {
        attempt: u8,
        sent: u32,
        last_byte: u32,
    },
}

pub struct Master<U> {
    uart: U,
    silence_ms: u32,
    /// A pause this long inside an answer ends it: `silence_ms` unless stretched.
    gap_ms: u32,
    timeout_ms: u32,
    retries: u8,
    state: State,
    req: Option<ReadRequest>,
    buf: heapless::Vec<u8, MAX_FRAME>,
    /// When the bus was last active (sent or received a byte).
    last_activity: u32,
    pub stats: MasterStats,
}

impl<U: Read + Write + ReadReady> Master<U> {
    pub fn new(uart: U, baud: u32, timeout_ms: u32, retries: u8) -> Self {
        Self {
            uart,
            silence_ms: interframe_silence_ms(baud),
            gap_ms: interframe_silence_ms(baud),
            timeout_ms,
            retries,
            state: State::Idle,
            req: None,
            buf: heapless::Vec::new(),
            last_activity: 0,
            stats: MasterStats::default(),
        }
    }

    /// Ends answers after a pause of `ms` inside them instead of 3.5 characters: for a line
    /// whose bytes can arrive with gaps no real UART would leave (an emulator's).
    pub fn set_frame_gap_ms(&mut self, ms: u32) {
        self.gap_ms = ms;
    }

    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle)
    }

    /// Starts a read; false if one is still running.
    pub fn start(&mut self, req: ReadRequest) -> bool {
        if !self.is_idle() {
            return false;
        }
        self.req = Some(req);
        self.state = State::Silence { attempt: 0 };
        true
    }

    /// Advances the transaction. Returns its outcome once, when it ends; registers go to `out`.
    pub fn poll(&mut self, now: u32, out: &mut [u16]) -> Option<Result<(), PollError>> {
        let req = self.req?;
        match self.state {
            State::Idle => None,
            State::Silence { attempt } => {
                // Anything still arriving belongs to an earlier exchange: drain and wait.
                if self.drain(now).is_err() {
                    return Some(self.finish(Err(PollError::Io)));
                }
                if since(now, self.last_activity) < self.silence_ms {
                    return None;
                }
                let frame = req.encode();
                if self.uart.write_all(&frame).is_err() || self.uart.flush().is_err() {
                    return Some(self.finish(Err(PollError::Io)));
                }
                self.last_activity = now;
                self.buf.clear();
                self.state = State::Receiving {
                    attempt,
                    sent: now,
                    last_byte: now,
                };
                None
            }
            State::Receiving {
                attempt,
                sent,
                mut last_byte,
            } => {
                let mut chunk = [0u8; 32];
                loop {
                    match self.uart.read_ready() {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(_) => return Some(self.finish(Err(PollError::Io))),
                    }
                    let n = match self.uart.read(&mut chunk) {
                        Ok(n) => n,
                        Err(_) => return Some(self.finish(Err(PollError::Io))),
                    };
                    if n == 0 {
                        break;
                    }
                    // A frame longer than any valid one is corrupt; keep what fits.
                    let room = self.buf.capacity() - self.buf.len();
                    let _ = self.buf.extend_from_slice(&chunk[..n.min(room)]);
                    last_byte = now;
                    self.last_activity = now;
                }
                self.state = State::Receiving {
                    attempt,
                    sent,
                    last_byte,
                };
                let expected = if self.buf.len() >= 2 && self.buf[1] & 0x80 != 0 {
                    5
                } else {
                    req.response_len()
                };
                let complete = self.buf.len() >= expected;
                // A pause of 3.5 characters inside an answer ends it (the RTU rule).
                let ended = !self.buf.is_empty() && since(now, last_byte) >= self.gap_ms;
                if complete || ended {
                    return match parse_response(&req, &self.buf, out) {
                        Ok(Response::Registers) => Some(self.finish(Ok(()))),
                        Ok(Response::Exception(code)) => {
                            Some(self.finish(Err(PollError::Exception(code))))
                        }
                        Err(e) => self.retry(attempt, PollError::Frame(e)),
                    };
                }
                if reached(now, sent.wrapping_add(self.timeout_ms)) {
                    return self.retry(attempt, PollError::Timeout);
                }
                None
            }
        }
    }

    fn drain(&mut self, now: u32) -> Result<(), ()> {
        let mut junk = [0u8; 32];
        while self.uart.read_ready().map_err(|_| ())? {
            if self.uart.read(&mut junk).map_err(|_| ())? == 0 {
                break;
            }
            self.last_activity = now;
        }
        Ok(())
    }

    fn retry(&mut self, attempt: u8, err: PollError) -> Option<Result<(), PollError>> {
        match err {
            PollError::Frame(FrameError::Crc) => self.stats.crc_errors += 1,
            PollError::Frame(_) => self.stats.frame_errors += 1,
            _ => {}
        }
        if attempt < self.retries {
            fw_debug!(
                "unit {}: {}, retrying",
                self.req.map(|r| r.unit).unwrap_or(0),
                err
            );
            self.stats.retries += 1;
            self.state = State::Silence {
                attempt: attempt + 1,
            };
            return None;
        }
        if err == PollError::Timeout {
            self.stats.timeouts += 1;
        }
        fw_warn!("unit {}: {}", self.req.map(|r| r.unit).unwrap_or(0), err);
        Some(self.finish(Err(err)))
    }

    fn finish(&mut self, r: Result<(), PollError>) -> Result<(), PollError> {
        match r {
            Ok(()) => self.stats.ok += 1,
            Err(PollError::Exception(_)) => self.stats.exceptions += 1,
            _ => {}
        }
        self.state = State::Idle;
        self.req = None;
        r
    }

    /// Gives the UART back (tests).
    pub fn release(self) -> U {
        self.uart
    }
}
