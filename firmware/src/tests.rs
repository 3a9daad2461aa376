//! The board on the host: fakes behind the HAL traits, a downstream meter played by the core's
//! own slave, and requests sent to the board as an agent would.

extern crate std;

use crate::analog::LoopChannel;
use crate::board::{Board, Config, MeterConfig, WordOrder};
use crate::fakes::{line, FakeAdc, FakeCounter, FakePin, FakeUart};
use crate::rtu::{exception, parse_response, ReadRequest, Response};
use crate::slave::{Registers, Slave};

/// A meter with float registers at 0.. (voltage 230.5, current 12.25, power 2.75).
struct Meter;
impl Registers for Meter {
    fn read(&self, address: u16, out: &mut [u16]) -> Result<(), u8> {
        let values = [230.5f32, 12.25, 2.75];
        for (i, o) in out.iter_mut().enumerate() {
            let r = usize::from(address) + i;
            let v = *values.get(r / 2).ok_or(exception::ILLEGAL_DATA_ADDRESS)?;
            let bits = v.to_bits();
            *o = if r % 2 == 0 {
                (bits >> 16) as u16
            } else {
                bits as u16
            };
        }
        Ok(())
    }
}

fn config() -> Config {
    let ch = LoopChannel::reference_board;
    Config {
        unit: 5,
        upstream_baud: 19_200,
        meter_baud: 9_600,
        meter_timeout_ms: 100,
        meter_retries: 1,
        poll_period_ms: 1000,
        sample_period_ms: 10,
        interval_s: 10,
        analog: heapless::Vec::from_slice(&[ch(0, 0.0, 16.0), ch(1, -20.0, 80.0)]).unwrap(),
        meters: heapless::Vec::from_slice(&[
            MeterConfig {
                unit: 1,
                function: 4,
                address: 0,
                values: 3,
                order: WordOrder::HighFirst,
            },
            MeterConfig {
                unit: 2,
                function: 4,
                address: 0,
                values: 1,
                order: WordOrder::HighFirst,
            },
        ])
        .unwrap(),
        debounce_samples: 3,
        load_inverted: false,
        pulse_bits: 16,
    }
}

type TestBoard = Board<FakeUart, FakeUart, FakeAdc, FakePin, FakeCounter>;

struct Rig {
    board: TestBoard,
    agent: FakeUart,
    meter: Slave<FakeUart>,
    adc: FakeAdc,
    pin: FakePin,
    pulses: FakeCounter,
    now: u32,
}

impl Rig {
    fn new() -> Self {
        let (board_up, agent) = line();
        let (board_down, meter_end) = line();
        let (adc, pin, pulses) = (
            FakeAdc::default(),
            FakePin::default(),
            FakeCounter::default(),
        );
        let board = Board::new(
            config(),
            board_up,
            board_down,
            adc.clone(),
            pin.clone(),
            heapless::Vec::from_slice(core::slice::from_ref(&pulses)).unwrap(),
        );
        Rig {
            board,
            agent,
            meter: Slave::new(meter_end, 1, 9_600),
            adc,
            pin,
            pulses,
            now: 1_000,
        }
    }

    /// Runs the board (and the meter on its line) for `ms` in 1 ms steps.
    fn run(&mut self, ms: u32) {
        for _ in 0..ms {
            self.board.step(self.now);
            self.meter.poll(self.now, &Meter);
            self.now = self.now.wrapping_add(1);
        }
    }

    /// A read as the agent sends it; the board's answer.
    fn read(&mut self, address: u16, count: u16) -> Result<std::vec::Vec<u16>, u8> {
        let req = ReadRequest {
            unit: 5,
            function: 4,
            address,
            count,
        };
        self.agent.send(&req.encode());
        self.run(30);
        let frame = self.agent.take();
        let mut out = std::vec![0u16; usize::from(count)];
        match parse_response(&req, &frame, &mut out).expect("a valid frame") {
            Response::Registers => Ok(out),
            Response::Exception(c) => Err(c),
        }
    }
}

fn f32_at(regs: &[u16], i: usize) -> f32 {
    f32::from_bits(u32::from(regs[i]) << 16 | u32::from(regs[i + 1]))
}

fn u32_at(regs: &[u16], i: usize) -> u32 {
    u32::from(regs[i]) << 16 | u32::from(regs[i + 1])
}

#[test]
fn board_serves_sensors_meters_and_diagnostics() {
    let mut rig = Rig::new();
    // Channel 0 at 12 mA (8 bar of 0-16), channel 1 open (0 mA).
    rig.adc.0.borrow_mut()[0] = Some(2234);
    rig.adc.0.borrow_mut()[1] = Some(0);
    // Load signal: 2 s unloaded, 3 s loaded, twice; 100 pulses per second.
    for _ in 0..2 {
        *rig.pin.0.borrow_mut() = false;
        for _ in 0..20 {
            rig.run(100);
            *rig.pulses.0.borrow_mut() += 10;
        }
        *rig.pin.0.borrow_mut() = true;
        for _ in 0..30 {
            rig.run(100);
            *rig.pulses.0.borrow_mut() += 10;
        }
    }
    rig.run(200);

    let sys = rig.read(0, 30).unwrap();
    assert_eq!(sys[0], 2, "map version");
    assert_eq!(u32_at(&sys, 2), 10, "uptime s");
    assert_eq!(sys[5], 1, "one 10 s interval completed");
    assert_eq!(sys[6] & 0b011, 0b011, "a channel and a meter are not good");
    assert!(u32_at(&sys, 14) >= 10, "meter polls ok");
    assert!(u32_at(&sys, 16) >= 10, "unit 2 times out every round");

    let a = rig.read(100, 40).unwrap();
    assert_eq!(a[0], 0, "channel 0 good");
    assert!((f32_at(&a, 2) - 8.0).abs() < 0.01, "{}", f32_at(&a, 2));
    assert!((f32_at(&a, 4) - 8.0).abs() < 0.01, "interval average");
    assert!((f32_at(&a, 10) - 12.0).abs() < 0.01, "loop mA");
    assert_eq!(a[20], 1, "channel 1 open loop");
    assert!(f32_at(&a, 22).is_nan(), "no value for an open loop");

    let l = rig.read(200, 10).unwrap();
    assert_eq!(l[0], 1, "loaded now");
    assert_eq!(u32_at(&l, 6), 2, "two load cycles");
    let loaded = u32_at(&l, 2);
    assert!((5..=6).contains(&loaded), "loaded s {loaded}");
    assert!((3..=4).contains(&u32_at(&l, 4)), "unloaded s");

    let p = rig.read(300, 8).unwrap();
    assert_eq!(p[0], 0);
    let total = u32_at(&p, 2);
    assert!((990..=1000).contains(&total), "pulses {total}");

    let m = rig.read(1000, 40).unwrap();
    assert_eq!(m[0], 0, "meter 1 good");
    assert_eq!(f32_at(&m, 10), 230.5, "voltage last");
    assert_eq!(f32_at(&m, 12), 230.5, "voltage interval average");
    assert_eq!(f32_at(&m, 18), 12.25, "current last");
    assert_eq!(f32_at(&m, 26), 2.75, "power last");
    let m2 = rig.read(1100, 10).unwrap();
    assert_eq!(m2[0], 1, "meter 2 timed out");
    assert!(u32_at(&m2, 4) >= 10);
}

#[test]
fn system_block_serves_version_reset_cause_configuration_and_stack() {
    use crate::system::{reset, ConfigSource, SystemInfo, FIRMWARE_VERSION};
    let mut rig = Rig::new();
    rig.board.state.system = SystemInfo {
        reset_cause: reset::WATCHDOG | reset::PIN,
        config_source: ConfigSource::Corrupt,
        config_error: crate::settings::BlockError::BadCrc as u16,
        config_crc: 0xDEAD_BEEF,
        watchdog_ms: 1_000,
        stack_used: 1_234,
        stack_boot: 1_000,
        stack_size: 120_000,
    };
    rig.run(50);
    let sys = rig.read(0, 48).unwrap();
    assert_eq!(sys[1], FIRMWARE_VERSION[0] * 100 + FIRMWARE_VERSION[1]);
    assert_eq!(sys[6] & 0b1000, 0b1000, "running the default configuration");
    assert_eq!((u32_at(&sys, 32), u32_at(&sys, 34)), (1_234, 120_000));
    assert_eq!(sys[36], reset::WATCHDOG | reset::PIN);
    assert_eq!((sys[37], sys[38], sys[39]), (2, 5, 1_000));
    assert_eq!(u32_at(&sys, 40), 0xDEAD_BEEF);
    assert_eq!(sys[42], crate::settings::VERSION);
    assert_eq!(sys[43..46], FIRMWARE_VERSION);
    assert_eq!(u32_at(&sys, 46), 1_000);
    assert_eq!(
        u32_at(&rig.read(40, 8).unwrap(), 0),
        0xDEAD_BEEF,
        "ends the block"
    );
    assert_eq!(rig.read(46, 4), Err(exception::ILLEGAL_DATA_ADDRESS));
    assert_eq!(u32_at(&rig.read(46, 2).unwrap(), 0), 1_000);
    rig.board.state.system.config_source = ConfigSource::Flash;
    assert_eq!(rig.read(6, 1).unwrap()[0] & 0b1000, 0);
}

#[test]
fn board_refuses_writes_unmapped_ranges_and_ignores_other_units() {
    let mut rig = Rig::new();
    rig.run(50);
    assert_eq!(rig.read(40, 10), Err(exception::ILLEGAL_DATA_ADDRESS));
    assert_eq!(rig.read(1390, 20), Err(exception::ILLEGAL_DATA_ADDRESS));
    // Write single register: exception 01, nothing changes.
    let mut w: heapless::Vec<u8, 16> = heapless::Vec::new();
    w.extend_from_slice(&[5, 0x06, 0, 4, 0, 99]).unwrap();
    let crc = crate::rtu::crc16(&w).to_le_bytes();
    w.extend_from_slice(&crc).unwrap();
    rig.agent.send(&w);
    rig.run(30);
    assert_eq!(
        rig.agent.take(),
        crate::rtu::encode_exception(5, 0x06, 1).as_slice()
    );
    // Another unit's request and a corrupt frame get no answer; both are counted.
    let other = ReadRequest {
        unit: 9,
        function: 4,
        address: 0,
        count: 2,
    };
    rig.agent.send(&other.encode());
    rig.run(30);
    let mut bad = other.encode();
    bad[0] = 5;
    rig.agent.send(&bad);
    rig.run(30);
    assert!(rig.agent.take().is_empty());
    let sys = rig.read(0, 14).unwrap();
    assert_eq!(u32_at(&sys, 10), 1, "CRC errors");
    assert_eq!(u32_at(&sys, 12), 3, "exceptions sent");
}

#[test]
fn master_retries_a_corrupt_answer_and_reports_exceptions() {
    use crate::master::{Master, PollError};
    let (board_end, meter_end) = line();
    let mut m = Master::new(board_end, 9_600, 50, 1);
    let req = ReadRequest {
        unit: 1,
        function: 4,
        address: 0,
        count: 2,
    };
    let mut out = [0u16; 2];
    assert!(m.start(req));
    let mut now = 0u32;
    let mut step = |m: &mut Master<FakeUart>, ms: u32| {
        let mut r = None;
        for _ in 0..ms {
            r = r.or(m.poll(now, &mut out));
            now += 1;
        }
        r
    };
    assert_eq!(step(&mut m, 10), None);
    assert_eq!(
        meter_end.take(),
        req.encode().as_slice(),
        "sent after the silence"
    );
    // A corrupt answer: retried after the silence.
    let mut resp = crate::rtu::encode_read_response(1, 4, &[1, 2]);
    resp[3] ^= 0xFF;
    meter_end.send(&resp);
    assert_eq!(step(&mut m, 20), None);
    assert_eq!(meter_end.take(), req.encode().as_slice(), "resent");
    meter_end.send(&crate::rtu::encode_exception(1, 4, 2));
    assert_eq!(step(&mut m, 20), Some(Err(PollError::Exception(2))));
    assert_eq!(
        (m.stats.crc_errors, m.stats.retries, m.stats.exceptions),
        (1, 1, 1)
    );
    // Silence until the timeout, twice (one retry): a timeout.
    assert!(m.start(req));
    assert_eq!(step(&mut m, 200), Some(Err(PollError::Timeout)));
    assert_eq!(m.stats.timeouts, 1);
}
