//! Half-duplex RS-485: a serial port and the transceiver's driver-enable pin, raised while
//! the port sends and released once the last stop bit has left (the port's `flush`), so the
//! line is free for the answer. Generic over any embedded-io port and embedded-hal pin.

use core::convert::Infallible;

use embedded_hal::digital::OutputPin;
use embedded_io::{ErrorType, Read, ReadReady, Write};

pub struct Rs485<U, DE> {
    port: U,
    de: DE,
}

impl<U, DE: OutputPin<Error = Infallible>> Rs485<U, DE> {
    pub fn new(port: U, mut de: DE) -> Self {
        let Ok(()) = de.set_low();
        Self { port, de }
    }
}

impl<U: ErrorType, DE> ErrorType for Rs485<U, DE> {
    type Error = U::Error;
}

impl<U: ReadReady, DE> ReadReady for Rs485<U, DE> {
    fn read_ready(&mut self) -> Result<bool, U::Error> {
        self.port.read_ready()
    }
}

impl<U: Read, DE> Read for Rs485<U, DE> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, U::Error> {
        self.port.read(buf)
    }
}

impl<U: Write, DE: OutputPin<Error = Infallible>> Write for Rs485<U, DE> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, U::Error> {
        let Ok(()) = self.de.set_high();
        self.port.write(buf)
    }

    fn flush(&mut self) -> Result<(), U::Error> {
        let r = self.port.flush();
        // Released even when the port failed, so a fault never holds the bus.
        let Ok(()) = self.de.set_low();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::RefCell;

    /// Records the pin's level at each write and flush of the port.
    struct Pin<'a>(&'a RefCell<heapless::Vec<&'static str, 16>>);

    impl embedded_hal::digital::ErrorType for Pin<'_> {
        type Error = Infallible;
    }

    impl OutputPin for Pin<'_> {
        fn set_low(&mut self) -> Result<(), Infallible> {
            let _ = self.0.borrow_mut().push("de low");
            Ok(())
        }
        fn set_high(&mut self) -> Result<(), Infallible> {
            let _ = self.0.borrow_mut().push("de high");
            Ok(())
        }
    }

    struct Port<'a>(&'a RefCell<heapless::Vec<&'static str, 16>>);

    impl ErrorType for Port<'_> {
        type Error = Infallible;
    }

    impl Write for Port<'_> {
        fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
            let _ = self.0.borrow_mut().push("write");
            Ok(buf.len())
        }
        fn flush(&mut self) -> Result<(), Infallible> {
            let _ = self.0.borrow_mut().push("flush");
            Ok(())
        }
    }

    #[test]
    fn driver_is_enabled_while_sending_and_released_after_the_flush() {
        let events = RefCell::new(heapless::Vec::new());
        let mut bus = Rs485::new(Port(&events), Pin(&events));
        bus.write_all(&[1, 2, 3]).unwrap();
        bus.flush().unwrap();
        assert_eq!(
            events.borrow()[..],
            ["de low", "de high", "write", "flush", "de low"]
        );
    }
}
