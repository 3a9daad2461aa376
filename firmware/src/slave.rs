//! Modbus RTU slave on the board's upstream RS-485 port: collects a frame until 3.5 characters
//! of silence, answers reads from the register map, refuses everything else (the board is
//! read-only: writes get exception 01), ignores frames for other units and corrupt frames.

use embedded_io::{Read, ReadReady, Write};

use crate::clock::since;
use crate::rtu::{
    encode_exception, encode_read_response, exception, interframe_silence_ms, parse_request,
    FrameError, Request, MAX_FRAME, MAX_READ,
};

/// What the slave serves.
pub trait Registers {
    /// Fills `out` from `address`; an exception code when the range is not mapped.
    fn read(&self, address: u16, out: &mut [u16]) -> Result<(), u8>;
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlaveStats {
    /// Requests answered (normally or with an exception).
    pub requests: u32,
    pub crc_errors: u32,
    pub exceptions: u32,
    /// Frames for other units on the bus.
    pub other_units: u32,
}

pub struct Slave<U> {
    uart: U,
    unit: u8,
    silence_ms: u32,
    buf: heapless::Vec<u8, MAX_FRAME>,
    overflow: bool,
    last_byte: u32,
    pub stats: SlaveStats,
}

impl<U: Read + Write + ReadReady> Slave<U> {
    pub fn new(uart: U, unit: u8, baud: u32) -> Self {
        Self {
            uart,
            unit,
            silence_ms: interframe_silence_ms(baud),
            buf: heapless::Vec::new(),
            overflow: false,
            last_byte: 0,
            stats: SlaveStats::default(),
        }
    }

    /// Ends frames after `ms` of silence instead of 3.5 characters: for a line whose bytes
    /// can arrive with gaps no real UART would leave (an emulator's).
    pub fn set_frame_gap_ms(&mut self, ms: u32) {
        self.silence_ms = ms;
    }

    /// Reads what arrived; answers a complete frame addressed to this unit.
    pub fn poll(&mut self, now: u32, regs: &impl Registers) {
        let mut chunk = [0u8; 32];
        while let Ok(true) = self.uart.read_ready() {
            match self.uart.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = self.buf.capacity() - self.buf.len();
                    self.overflow |= n > room;
                    let _ = self.buf.extend_from_slice(&chunk[..n.min(room)]);
                    self.last_byte = now;
                }
            }
        }
        if self.buf.is_empty() || since(now, self.last_byte) < self.silence_ms {
            return;
        }
        let frame = core::mem::take(&mut self.buf);
        let overflow = core::mem::replace(&mut self.overflow, false);
        if overflow {
            self.stats.crc_errors += 1;
            return;
        }
        self.answer(&frame, regs);
    }

    fn answer(&mut self, frame: &[u8], regs: &impl Registers) {
        let req = match parse_request(frame) {
            Ok(r) => r,
            Err(FrameError::Crc) | Err(FrameError::Short) => {
                fw_debug!("upstream: corrupt frame of {} bytes", frame.len());
                self.stats.crc_errors += 1;
                return;
            }
            // A malformed frame for this unit: refuse it; for another unit: not ours.
            Err(_) => {
                if frame.first() == Some(&self.unit) {
                    self.send_exception(frame[1], exception::ILLEGAL_DATA_VALUE);
                }
                return;
            }
        };
        let (unit, function) = match req {
            Request::Read(r) => (r.unit, r.function),
            Request::Other { unit, function } => (unit, function),
        };
        if unit != self.unit {
            // Broadcast (0) needs no answer and the board acts on none.
            self.stats.other_units += 1;
            return;
        }
        self.stats.requests += 1;
        let Request::Read(r) = req else {
            self.send_exception(function, exception::ILLEGAL_FUNCTION);
            return;
        };
        if r.count == 0 || r.count > MAX_READ {
            self.send_exception(function, exception::ILLEGAL_DATA_VALUE);
            return;
        }
        let mut out = [0u16; MAX_READ as usize];
        let out = &mut out[..r.count as usize];
        match regs.read(r.address, out) {
            Ok(()) => {
                let _ = self
                    .uart
                    .write_all(&encode_read_response(self.unit, function, out));
                let _ = self.uart.flush();
            }
            Err(code) => self.send_exception(function, code),
        }
    }

    fn send_exception(&mut self, function: u8, code: u8) {
        self.stats.exceptions += 1;
        let _ = self
            .uart
            .write_all(&encode_exception(self.unit, function, code));
        let _ = self.uart.flush();
    }
}
