//! Interrupt-fed buffered serial behind the embedded-io traits: a receive interrupt pushes
//! each byte into a ring as it arrives and a transmit interrupt drains another, so the main
//! loop neither waits for the line nor loses bytes on one port while it sends on the other.

use core::cell::UnsafeCell;
use core::convert::Infallible;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A single-producer single-consumer byte ring shared between an interrupt handler and the
/// main loop; holds `N - 1` bytes.
pub struct Ring<const N: usize> {
    buf: UnsafeCell<[u8; N]>,
    head: AtomicUsize,
    tail: AtomicUsize,
    split: AtomicBool,
}

// SAFETY: the halves returned once by `split` are the only accessors; the producer writes only
// the slot at `head` before publishing it, the consumer reads only slots before `head`.
unsafe impl<const N: usize> Sync for Ring<N> {}

impl<const N: usize> Ring<N> {
    pub const fn new() -> Self {
        Self {
            buf: UnsafeCell::new([0; N]),
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            split: AtomicBool::new(false),
        }
    }

    /// The writing and the reading half; `None` after the first call.
    pub fn split(&self) -> Option<(Producer<'_, N>, Consumer<'_, N>)> {
        if self.split.swap(true, Ordering::AcqRel) {
            return None;
        }
        Some((Producer { ring: self }, Consumer { ring: self }))
    }

    fn is_empty(&self) -> bool {
        self.head.load(Ordering::Acquire) == self.tail.load(Ordering::Acquire)
    }
}

impl<const N: usize> Default for Ring<N> {
    fn default() -> Self {
        Self::new()
    }
}

pub struct Producer<'a, const N: usize> {
    ring: &'a Ring<N>,
}

impl<const N: usize> Producer<'_, N> {
    /// Appends `b`; false (and the byte dropped) when the ring is full.
    pub fn push(&mut self, b: u8) -> bool {
        let head = self.ring.head.load(Ordering::Relaxed);
        let next = (head + 1) % N;
        if next == self.ring.tail.load(Ordering::Acquire) {
            return false;
        }
        // SAFETY: slot `head` is outside what the consumer may read until `head` moves.
        unsafe { (*self.ring.buf.get())[head] = b };
        self.ring.head.store(next, Ordering::Release);
        true
    }

    pub fn is_full(&self) -> bool {
        (self.ring.head.load(Ordering::Relaxed) + 1) % N == self.ring.tail.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }
}

pub struct Consumer<'a, const N: usize> {
    ring: &'a Ring<N>,
}

impl<const N: usize> Consumer<'_, N> {
    pub fn pop(&mut self) -> Option<u8> {
        let tail = self.ring.tail.load(Ordering::Relaxed);
        if tail == self.ring.head.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: slot `tail` was published by the producer's release store of `head`.
        let b = unsafe { (*self.ring.buf.get())[tail] };
        self.ring.tail.store((tail + 1) % N, Ordering::Release);
        Some(b)
    }

    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }
}

/// The board's side of a buffered port's transmitter.
pub trait Transmitter {
    /// New bytes are in the transmit ring: make sure the interrupt that drains it runs.
    fn start(&mut self);
    /// Whether the last byte has left the line (for RS-485 driver-enable timing).
    fn idle(&self) -> bool;
}

/// The main loop's end of an interrupt-fed port: reads from the receive ring, writes into the
/// transmit ring.
pub struct Buffered<'a, T, const N: usize> {
    pub rx: Consumer<'a, N>,
    pub tx: Producer<'a, N>,
    pub transmitter: T,
}

impl<T, const N: usize> embedded_io::ErrorType for Buffered<'_, T, N> {
    type Error = Infallible;
}

impl<T, const N: usize> embedded_io::ReadReady for Buffered<'_, T, N> {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(!self.rx.is_empty())
    }
}

impl<T, const N: usize> embedded_io::Read for Buffered<'_, T, N> {
    /// Waits for at least one byte (callers ask `read_ready` first), then takes what is there.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut n = 0;
        while n == 0 || n < buf.len() {
            match self.rx.pop() {
                Some(b) => {
                    buf[n] = b;
                    n += 1;
                }
                None if n > 0 => break,
                None => core::hint::spin_loop(),
            }
        }
        Ok(n)
    }
}

impl<T: Transmitter, const N: usize> embedded_io::Write for Buffered<'_, T, N> {
    /// Queues what fits (waiting only while the ring is full) and starts the transmitter.
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        let mut n = 0;
        for &b in buf {
            if !self.tx.push(b) {
                if n > 0 {
                    break;
                }
                self.transmitter.start();
                while !self.tx.push(b) {
                    core::hint::spin_loop();
                }
            }
            n += 1;
        }
        self.transmitter.start();
        Ok(n)
    }

    /// Waits until every queued byte has left the line.
    fn flush(&mut self) -> Result<(), Infallible> {
        self.transmitter.start();
        while !(self.tx.is_empty() && self.transmitter.idle()) {
            core::hint::spin_loop();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_io::{Read, ReadReady, Write};

    #[test]
    fn ring_keeps_order_across_the_wrap_and_refuses_when_full() {
        let ring = Ring::<4>::new();
        let (mut p, mut c) = ring.split().unwrap();
        assert!(ring.split().is_none(), "one producer, one consumer");
        for round in 0..5u8 {
            assert!(p.push(round) && p.push(round + 10) && p.push(round + 20));
            assert!(!p.push(99) && p.is_full(), "N - 1 bytes fit");
            assert_eq!(
                [c.pop(), c.pop(), c.pop(), c.pop()],
                [Some(round), Some(round + 10), Some(round + 20), None]
            );
        }
    }

    /// A transmitter whose "interrupt" runs when `start` is called: it moves the ring to `line`.
    struct Wire<'a> {
        from: Consumer<'a, 8>,
        line: heapless::Vec<u8, 64>,
        starts: usize,
    }

    impl Transmitter for Wire<'_> {
        fn start(&mut self) {
            self.starts += 1;
            while let Some(b) = self.from.pop() {
                let _ = self.line.push(b);
            }
        }
        fn idle(&self) -> bool {
            self.from.is_empty()
        }
    }

    #[test]
    fn buffered_port_reads_what_arrived_and_writes_through_the_transmitter() {
        let (rx_ring, tx_ring) = (Ring::<8>::new(), Ring::<8>::new());
        let (mut arrive, rx) = rx_ring.split().unwrap();
        let (tx, drain) = tx_ring.split().unwrap();
        let mut port = Buffered {
            rx,
            tx,
            transmitter: Wire {
                from: drain,
                line: heapless::Vec::new(),
                starts: 0,
            },
        };
        assert!(!port.read_ready().unwrap());
        for b in [1, 2, 3] {
            arrive.push(b);
        }
        let mut buf = [0u8; 8];
        assert!(port.read_ready().unwrap());
        assert_eq!(port.read(&mut buf).unwrap(), 3);
        assert_eq!(buf[..3], [1, 2, 3]);
        // More than the ring holds: written in pieces, each drained by the transmitter.
        let frame: heapless::Vec<u8, 20> = (0..20).collect();
        port.write_all(&frame).unwrap();
        port.flush().unwrap();
        assert_eq!(port.transmitter.line[..], frame[..]);
        assert!(port.transmitter.starts >= 3);
    }
}
