//! The meter board: samples its inputs, polls its downstream meters and serves everything as
//! one Modbus device (`firmware/REGISTER_MAP.md`). Generic over the HAL: the board binary and
//! the host tests plug in real and fake drivers behind the same traits.

use embedded_hal::digital::InputPin;
use embedded_io::{Read, ReadReady, Write};

use crate::analog::{LoopAdc, LoopChannel, Quality};
use crate::clock::{reached, since};
use crate::digital::LoadInput;
use crate::master::{Master, MasterStats, PollError};
use crate::pulse::{PulseCounter, PulseTotal};
use crate::rtu::ReadRequest;
use crate::slave::{Slave, SlaveStats};
use crate::stats::Interval;

pub const MAX_ANALOG: usize = 4;
pub const MAX_PULSE: usize = 2;
pub const MAX_METERS: usize = 4;
/// Float values per meter (two registers each).
pub const MAX_VALUES: usize = 8;

/// How a meter orders the two registers of a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordOrder {
    /// High word first (ABCD): Eastron, most meters.
    HighFirst,
    /// Low word first (CDAB).
    LowFirst,
}

/// One downstream meter: a block of float32 registers read each poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterConfig {
    pub unit: u8,
    /// 3 (holding) or 4 (input registers).
    pub function: u8,
    pub address: u16,
    /// Floats in the block (registers = 2 × values), at most [`MAX_VALUES`].
    pub values: u8,
    pub order: WordOrder,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub unit: u8,
    pub upstream_baud: u32,
    pub meter_baud: u32,
    pub meter_timeout_ms: u32,
    pub meter_retries: u8,
    /// A full round of meter polls starts this often.
    pub poll_period_ms: u32,
    pub sample_period_ms: u32,
    /// Aggregation interval, seconds.
    pub interval_s: u16,
    pub analog: heapless::Vec<LoopChannel, MAX_ANALOG>,
    pub meters: heapless::Vec<MeterConfig, MAX_METERS>,
    /// Equal samples needed to accept a change of the load input.
    pub debounce_samples: u8,
    pub load_inverted: bool,
    /// Width of the pulse counters' hardware registers.
    pub pulse_bits: u8,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalogState {
    pub quality: Quality,
    pub value: Interval,
    pub milliamps: f32,
}

impl Default for AnalogState {
    fn default() -> Self {
        Self {
            quality: Quality::NoData,
            value: Interval::default(),
            milliamps: f32::NAN,
        }
    }
}

/// Quality of a meter's latest poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum MeterQuality {
    Good = 0,
    Timeout = 1,
    BadFrame = 2,
    Exception = 3,
    NeverPolled = 4,
    Io = 5,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeterState {
    pub quality: MeterQuality,
    pub last_exception: u8,
    pub ok: u32,
    pub failed: u32,
    pub last_good_ms: Option<u64>,
    pub values: [Interval; MAX_VALUES],
}

impl Default for MeterState {
    fn default() -> Self {
        Self {
            quality: MeterQuality::NeverPolled,
            last_exception: 0,
            ok: 0,
            failed: 0,
            last_good_ms: None,
            values: [Interval::default(); MAX_VALUES],
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PulseState {
    pub configured: bool,
    pub total: u32,
    pub last_interval: u32,
}

/// Everything the register map shows.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub uptime_ms: u64,
    pub interval_s: u16,
    pub intervals: u16,
    pub analog: [AnalogState; MAX_ANALOG],
    pub analog_n: usize,
    pub load: crate::digital::LoadCounters,
    pub load_fraction: Interval,
    pub pulses: [PulseState; MAX_PULSE],
    pub meters: [MeterState; MAX_METERS],
    pub meters_n: usize,
    pub slave: SlaveStats,
    pub master: MasterStats,
    pub adc_errors: u32,
    /// Filled in by the board binary (version, reset cause, configuration, stack).
    pub system: crate::system::SystemInfo,
}

pub struct Board<S, M, A, P, C> {
    cfg: Config,
    slave: Slave<S>,
    master: Master<M>,
    adc: A,
    load: LoadInput<P>,
    pulses: heapless::Vec<PulseTotal<C>, MAX_PULSE>,
    pub state: State,
    last_now: Option<u32>,
    next_sample: u32,
    next_roll: u32,
    next_round: u32,
    meter: usize,
    regs: [u16; 2 * MAX_VALUES],
}

impl<S, M, A, P, C> Board<S, M, A, P, C>
where
    S: Read + Write + ReadReady,
    M: Read + Write + ReadReady,
    A: LoopAdc,
    P: InputPin,
    C: PulseCounter,
{
    pub fn new(
        cfg: Config,
        upstream: S,
        downstream: M,
        adc: A,
        load_pin: P,
        pulse_counters: heapless::Vec<C, MAX_PULSE>,
    ) -> Self {
        let mut state = State {
            interval_s: cfg.interval_s.max(1),
            analog_n: cfg.analog.len(),
            meters_n: cfg.meters.len(),
            ..State::default()
        };
        let mut pulses = heapless::Vec::new();
        for (i, c) in pulse_counters.into_iter().enumerate() {
            state.pulses[i].configured = true;
            let _ = pulses.push(PulseTotal::new(c, cfg.pulse_bits));
        }
        Self {
            slave: Slave::new(upstream, cfg.unit, cfg.upstream_baud),
            master: Master::new(
                downstream,
                cfg.meter_baud,
                cfg.meter_timeout_ms,
                cfg.meter_retries,
            ),
            load: LoadInput::new(load_pin, cfg.debounce_samples, cfg.load_inverted),
            cfg,
            adc,
            pulses,
            state,
            last_now: None,
            next_sample: 0,
            next_roll: 0,
            next_round: 0,
            meter: 0,
            regs: [0; 2 * MAX_VALUES],
        }
    }

    /// Both ports end a frame only after `ms` without a byte, not 3.5 characters: for an
    /// emulated board whose input bytes arrive with the host's scheduling gaps.
    pub fn set_frame_gap_ms(&mut self, ms: u32) {
        self.slave.set_frame_gap_ms(ms);
        self.master.set_frame_gap_ms(ms);
    }

    /// One pass of the main loop at `now` (ms). Call it as often as possible.
    pub fn step(&mut self, now: u32) {
        match self.last_now {
            None => {
                self.next_sample = now;
                self.next_roll = now.wrapping_add(u32::from(self.state.interval_s) * 1000);
                self.next_round = now;
            }
            Some(last) => self.state.uptime_ms += u64::from(since(now, last)),
        }
        self.last_now = Some(now);
        for p in &mut self.pulses {
            p.tick();
        }
        if reached(now, self.next_sample) {
            self.sample(now);
            self.next_sample = self.next_sample.wrapping_add(self.cfg.sample_period_ms);
            // After a stall, resume from now rather than catching up in a burst.
            if reached(now, self.next_sample) {
                self.next_sample = now.wrapping_add(self.cfg.sample_period_ms);
            }
        }
        if reached(now, self.next_roll) {
            self.roll();
            self.next_roll = self
                .next_roll
                .wrapping_add(u32::from(self.state.interval_s) * 1000);
        }
        self.meters(now);
        self.state.master = self.master.stats;
        self.state.slave = self.slave.stats;
        self.slave.poll(now, &self.state);
        self.state.slave = self.slave.stats;
    }

    fn sample(&mut self, now: u32) {
        for (i, ch) in self.cfg.analog.iter().enumerate() {
            let (ma, v, q) = ch.sample(&mut self.adc);
            let a = &mut self.state.analog[i];
            if q == Quality::AdcError {
                self.state.adc_errors = self.state.adc_errors.wrapping_add(1);
            }
            a.quality = q;
            a.milliamps = ma;
            a.value.push(v);
        }
        self.load.sample(now);
        self.state.load = self.load.counters;
        if self.load.counters.valid {
            self.state
                .load_fraction
                .push(if self.load.counters.loaded { 1.0 } else { 0.0 });
        }
        for (i, p) in self.pulses.iter_mut().enumerate() {
            p.sample();
            self.state.pulses[i].total = p.total;
        }
    }

    fn roll(&mut self) {
        for a in &mut self.state.analog {
            a.value.roll();
        }
        self.state.load_fraction.roll();
        for (i, p) in self.pulses.iter_mut().enumerate() {
            p.roll();
            self.state.pulses[i].last_interval = p.done;
        }
        for m in &mut self.state.meters {
            for v in &mut m.values {
                v.roll();
            }
        }
        self.state.intervals = self.state.intervals.wrapping_add(1);
    }

    fn meters(&mut self, now: u32) {
        let n = self.cfg.meters.len();
        if n == 0 {
            return;
        }
        if self.master.is_idle() {
            if self.meter == 0 && !reached(now, self.next_round) {
                return;
            }
            if self.meter == 0 {
                self.next_round = now.wrapping_add(self.cfg.poll_period_ms);
            }
            let m = self.cfg.meters[self.meter];
            self.master.start(ReadRequest {
                unit: m.unit,
                function: m.function,
                address: m.address,
                count: 2 * u16::from(m.values.min(MAX_VALUES as u8)),
            });
        }
        let Some(result) = self.master.poll(now, &mut self.regs) else {
            return;
        };
        let cfg = self.cfg.meters[self.meter];
        let st = &mut self.state.meters[self.meter];
        match result {
            Ok(()) => {
                st.quality = MeterQuality::Good;
                st.ok = st.ok.wrapping_add(1);
                st.last_good_ms = Some(self.state.uptime_ms);
                for i in 0..usize::from(cfg.values.min(MAX_VALUES as u8)) {
                    let (a, b) = (self.regs[2 * i], self.regs[2 * i + 1]);
                    let (hi, lo) = match cfg.order {
                        WordOrder::HighFirst => (a, b),
                        WordOrder::LowFirst => (b, a),
                    };
                    st.values[i].push(f32::from_bits(u32::from(hi) << 16 | u32::from(lo)));
                }
            }
            Err(e) => {
                st.failed = st.failed.wrapping_add(1);
                st.quality = match e {
                    PollError::Timeout => MeterQuality::Timeout,
                    PollError::Frame(_) => MeterQuality::BadFrame,
                    PollError::Exception(code) => {
                        st.last_exception = code;
                        MeterQuality::Exception
                    }
                    PollError::Io => MeterQuality::Io,
                };
            }
        }
        self.meter = (self.meter + 1) % n;
    }
}
