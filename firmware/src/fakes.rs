//! Fakes behind the same traits a HAL implements, for host tests: a UART pair (an RS-485 line
//! between two ends), an ADC with settable counts, a pulse counter. Test-only.

extern crate std;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

type Wire = Rc<RefCell<VecDeque<u8>>>;

/// One end of a serial line: what it writes, the other end reads.
pub struct FakeUart {
    rx: Wire,
    tx: Wire,
}

/// Two connected ends.
pub fn line() -> (FakeUart, FakeUart) {
    let (a, b): (Wire, Wire) = (Default::default(), Default::default());
    (
        FakeUart {
            rx: a.clone(),
            tx: b.clone(),
        },
        FakeUart { rx: b, tx: a },
    )
}

impl FakeUart {
    /// Everything received so far.
    pub fn take(&self) -> std::vec::Vec<u8> {
        self.rx.borrow_mut().drain(..).collect()
    }

    pub fn send(&self, bytes: &[u8]) {
        self.tx.borrow_mut().extend(bytes.iter().copied());
    }
}

impl embedded_io::ErrorType for FakeUart {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for FakeUart {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let mut rx = self.rx.borrow_mut();
        let n = buf.len().min(rx.len());
        for b in buf.iter_mut().take(n) {
            *b = rx.pop_front().unwrap_or_default();
        }
        Ok(n)
    }
}

impl embedded_io::ReadReady for FakeUart {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(!self.rx.borrow().is_empty())
    }
}

impl embedded_io::Write for FakeUart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.tx.borrow_mut().extend(buf.iter().copied());
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// An ADC whose counts per channel the test sets.
#[derive(Clone, Default)]
pub struct FakeAdc(pub Rc<RefCell<[Option<u16>; 8]>>);

impl crate::analog::LoopAdc for FakeAdc {
    type Error = ();
    fn read_counts(&mut self, channel: u8) -> Result<u16, ()> {
        self.0.borrow()[usize::from(channel)].ok_or(())
    }
}

/// A pin whose level the test sets.
#[derive(Clone, Default)]
pub struct FakePin(pub Rc<RefCell<bool>>);

impl embedded_hal::digital::ErrorType for FakePin {
    type Error = core::convert::Infallible;
}

impl embedded_hal::digital::InputPin for FakePin {
    fn is_high(&mut self) -> Result<bool, Self::Error> {
        Ok(*self.0.borrow())
    }
    fn is_low(&mut self) -> Result<bool, Self::Error> {
        Ok(!*self.0.borrow())
    }
}

/// A 16-bit hardware counter the test advances.
#[derive(Clone, Default)]
pub struct FakeCounter(pub Rc<RefCell<u32>>);

impl crate::pulse::PulseCounter for FakeCounter {
    fn count(&mut self) -> u32 {
        *self.0.borrow() & 0xFFFF
    }
}
