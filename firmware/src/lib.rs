//! kilowatch meter-board firmware core: `no_std`, no allocator, hardware-independent logic that
//! builds for the host (tests) and for `thumbv7em-none-eabihf` (the board).
//!
//! This is the start of the core: Modbus RTU framing primitives shared by the RS-485 master and
//! the slave. The acquisition logic follows in the firmware issue.
#![no_std]

pub mod rtu;
