//! The meter-board firmware core running on Linux, for tests without the board: its two RS-485
//! ports are serial devices (socat pseudo-terminals in the tests, or USB-RS485 adapters), and
//! the inputs it has no hardware for here (4–20 mA, load signal, pulses) are simulated behind
//! the same traits the board's drivers implement.
//!
//! usage: kilowatch-meterboard-host --upstream DEV --downstream DEV [--unit 1] [--baud 9600]
//!        [--meter UNIT:FC:ADDR:VALUES[:cdab]]... [--analog-ma 12.0,2.0] [--load-period-ms 4000]
//!        [--pulse-hz 50] [--interval-s 5]

use std::ffi::CString;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use kilowatch_firmware::analog::{LoopAdc, LoopChannel};
use kilowatch_firmware::board::{Board, Config, MeterConfig, WordOrder};
use kilowatch_firmware::pulse::PulseCounter;

/// A serial device opened raw and non-blocking; the embedded-io traits the core expects.
struct Serial(RawFd);

impl Serial {
    fn open(path: &str, baud: u32) -> anyhow::Result<Self> {
        let c = CString::new(path)?;
        // SAFETY: a valid C string; the descriptor is owned by the returned value.
        let fd =
            unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK) };
        anyhow::ensure!(
            fd >= 0,
            "cannot open {path}: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: fd is open; termios is plain data filled by tcgetattr.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(fd, &mut t) == 0 {
                libc::cfmakeraw(&mut t);
                let speed = match baud {
                    19_200 => libc::B19200,
                    38_400 => libc::B38400,
                    _ => libc::B9600,
                };
                libc::cfsetspeed(&mut t, speed);
                libc::tcsetattr(fd, libc::TCSANOW, &t);
            }
        }
        Ok(Self(fd))
    }
}

impl Drop for Serial {
    fn drop(&mut self) {
        // SAFETY: closing the descriptor this value owns.
        unsafe { libc::close(self.0) };
    }
}

#[derive(Debug)]
struct IoError(std::io::Error);

impl std::fmt::Display for IoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for IoError {}

impl embedded_io::Error for IoError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

impl embedded_io::ErrorType for Serial {
    type Error = IoError;
}

impl embedded_io::ReadReady for Serial {
    fn read_ready(&mut self) -> Result<bool, IoError> {
        let mut p = libc::pollfd {
            fd: self.0,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        if n < 0 {
            return Err(IoError(std::io::Error::last_os_error()));
        }
        Ok(n > 0 && p.revents & libc::POLLIN != 0)
    }
}

impl embedded_io::Read for Serial {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        // SAFETY: buf is valid for buf.len() bytes.
        let n = unsafe { libc::read(self.0, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return if e.kind() == std::io::ErrorKind::WouldBlock {
                Ok(0)
            } else {
                Err(IoError(e))
            };
        }
        Ok(n as usize)
    }
}

impl embedded_io::Write for Serial {
    fn write(&mut self, buf: &[u8]) -> Result<usize, IoError> {
        let mut done = 0;
        while done < buf.len() {
            // SAFETY: the slice from `done` is valid.
            let n = unsafe { libc::write(self.0, buf[done..].as_ptr().cast(), buf.len() - done) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::WouldBlock {
                    std::thread::sleep(Duration::from_micros(200));
                    continue;
                }
                return Err(IoError(e));
            }
            done += n as usize;
        }
        Ok(done)
    }

    fn flush(&mut self) -> Result<(), IoError> {
        Ok(())
    }
}

/// Simulated loop currents (no ADC here): counts as a 12-bit converter over 150 Ω would read.
struct SimAdc(Vec<f32>);

impl LoopAdc for SimAdc {
    type Error = ();
    fn read_counts(&mut self, channel: u8) -> Result<u16, ()> {
        let ma = *self.0.get(usize::from(channel)).ok_or(())?;
        Ok((ma * 150.0 / 3300.0 * 4095.0).round().clamp(0.0, 4095.0) as u16)
    }
}

/// The load signal: loaded for the first half of each period.
struct SimLoad {
    start: Instant,
    period_ms: u64,
}

impl embedded_hal::digital::ErrorType for SimLoad {
    type Error = core::convert::Infallible;
}

impl embedded_hal::digital::InputPin for SimLoad {
    fn is_high(&mut self) -> Result<bool, Self::Error> {
        let ms = self.start.elapsed().as_millis() as u64;
        Ok(ms % self.period_ms < self.period_ms / 2)
    }
    fn is_low(&mut self) -> Result<bool, Self::Error> {
        self.is_high().map(|h| !h)
    }
}

/// A totaliser sending `hz` pulses per second, counted by a 16-bit timer.
struct SimPulses {
    start: Instant,
    hz: f64,
}

impl PulseCounter for SimPulses {
    fn count(&mut self) -> u32 {
        (self.start.elapsed().as_secs_f64() * self.hz) as u32 & 0xFFFF
    }
}

fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn meter(spec: &str) -> anyhow::Result<MeterConfig> {
    let p: Vec<&str> = spec.split(':').collect();
    anyhow::ensure!(
        p.len() >= 4,
        "--meter {spec}: write UNIT:FC:ADDR:VALUES[:cdab]"
    );
    Ok(MeterConfig {
        unit: p[0].parse()?,
        function: p[1].parse()?,
        address: p[2].parse()?,
        values: p[3].parse()?,
        order: if p.get(4) == Some(&"cdab") {
            WordOrder::LowFirst
        } else {
            WordOrder::HighFirst
        },
    })
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(up), Some(down)) = (arg(&args, "--upstream"), arg(&args, "--downstream")) else {
        anyhow::bail!("usage: kilowatch-meterboard-host --upstream DEV --downstream DEV [options]");
    };
    let baud: u32 = arg(&args, "--baud").unwrap_or("9600").parse()?;
    let ma: Vec<f32> = arg(&args, "--analog-ma")
        .unwrap_or("12.0,2.0")
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let mut meters = heapless::Vec::new();
    for (i, a) in args.iter().enumerate() {
        if a == "--meter" {
            let m = meter(args.get(i + 1).map(String::as_str).unwrap_or(""))?;
            meters
                .push(m)
                .map_err(|_| anyhow::anyhow!("at most 4 meters"))?;
        }
    }
    let mut analog = heapless::Vec::new();
    for ch in 0..ma.len().min(4) as u8 {
        let (low, high) = if ch == 0 { (0.0, 16.0) } else { (-20.0, 80.0) };
        let _ = analog.push(LoopChannel::reference_board(ch, low, high));
    }
    let cfg = Config {
        unit: arg(&args, "--unit").unwrap_or("1").parse()?,
        upstream_baud: baud,
        meter_baud: baud,
        meter_timeout_ms: 300,
        meter_retries: 1,
        poll_period_ms: 500,
        sample_period_ms: 10,
        interval_s: arg(&args, "--interval-s").unwrap_or("5").parse()?,
        analog,
        meters,
        debounce_samples: 3,
        load_inverted: false,
        pulse_bits: 16,
    };
    let start = Instant::now();
    let mut pulses = heapless::Vec::new();
    let _ = pulses.push(SimPulses {
        start,
        hz: arg(&args, "--pulse-hz").unwrap_or("50").parse()?,
    });
    let mut board = Board::new(
        cfg,
        Serial::open(up, baud)?,
        Serial::open(down, baud)?,
        SimAdc(ma),
        SimLoad {
            start,
            period_ms: arg(&args, "--load-period-ms").unwrap_or("4000").parse()?,
        },
        pulses,
    );
    eprintln!("meter board core serving on {up}, polling meters on {down}");
    loop {
        board.step(start.elapsed().as_millis() as u32);
        std::thread::sleep(Duration::from_micros(200));
    }
}
