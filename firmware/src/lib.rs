//! kilowatch meter-board firmware core: `no_std`, no allocator (every buffer is a heapless or
//! fixed array), hardware-independent logic generic over embedded-hal 1.0 and embedded-io
//! traits. It builds for the host (tests with fake drivers) and for `thumbv7em-none-eabihf`
//! (the board binary in `src/bin/board.rs`).
//!
//! Inputs (4–20 mA, the load signal, pulse counters) are sampled, downstream RS-485 meters are
//! polled as a Modbus RTU master, every channel is aggregated per interval, and all of it is
//! served as one Modbus RTU slave ([`regmap`], documented in `firmware/REGISTER_MAP.md`).
#![no_std]

#[macro_use]
mod log;

pub mod analog;
pub mod board;
pub mod clock;
pub mod digital;
pub mod master;
pub mod pulse;
pub mod regmap;
pub mod rs485;
pub mod rtu;
pub mod serial;
pub mod settings;
pub mod slave;
pub mod stack;
pub mod stats;
pub mod system;
pub mod watchdog;

#[cfg(test)]
mod fakes;
#[cfg(test)]
mod tests;
