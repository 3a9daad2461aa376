//! Modbus RTU framing: CRC-16/MODBUS and the inter-frame silence derived from the baud rate.

/// CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF) of `data`. On the wire the low byte is
/// sent first.
pub const fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    let mut i = 0;
    while i < data.len() {
        crc ^= data[i] as u16;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
            bit += 1;
        }
        i += 1;
    }
    crc
}

/// True when `frame` ends with the correct CRC of the bytes before it.
pub fn crc_ok(frame: &[u8]) -> bool {
    if frame.len() < 3 {
        return false;
    }
    let (body, tail) = frame.split_at(frame.len() - 2);
    crc16(body) == u16::from_le_bytes([tail[0], tail[1]])
}

/// Minimum silence between frames (3.5 character times), in microseconds. One character is 11
/// bits (start, 8 data, parity or second stop, stop). Above 19200 baud the specification fixes
/// it at 1750 µs.
pub const fn interframe_silence_us(baud: u32) -> u32 {
    if baud > 19_200 {
        1_750
    } else {
        // 3.5 × 11 bits = 38.5 bit times, rounded up.
        38_500_000_u32.div_ceil(baud)
    }
}

/// Largest RTU frame (address, PDU of up to 253 bytes, CRC).
pub const MAX_FRAME: usize = 256;

/// Most registers one read may ask for (the protocol's limit for FC 03/04).
pub const MAX_READ: u16 = 125;

/// A frame the parser refuses, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrameError {
    /// Fewer bytes than the smallest frame of its kind.
    Short,
    /// The CRC does not match.
    Crc,
    /// A length field disagrees with the frame's size.
    Length,
    /// Not the function code that was asked for.
    Function,
    /// Another unit answered.
    Unit,
}

/// A read request (FC 03 holding or 04 input registers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReadRequest {
    pub unit: u8,
    pub function: u8,
    pub address: u16,
    pub count: u16,
}

/// What a slave receives: a read it can answer, or another function it must refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Request {
    Read(ReadRequest),
    /// Any other function code (writes among them): answered with exception 01.
    Other {
        unit: u8,
        function: u8,
    },
}

/// Modbus exception codes the board sends or receives.
pub mod exception {
    pub const ILLEGAL_FUNCTION: u8 = 0x01;
    pub const ILLEGAL_DATA_ADDRESS: u8 = 0x02;
    pub const ILLEGAL_DATA_VALUE: u8 = 0x03;
}

fn push_crc(buf: &mut heapless::Vec<u8, MAX_FRAME>) {
    let crc = crc16(buf).to_le_bytes();
    // Capacity is checked by the callers: a frame never exceeds MAX_FRAME.
    let _ = buf.extend_from_slice(&crc);
}

impl ReadRequest {
    /// The 8-byte request frame.
    pub fn encode(&self) -> heapless::Vec<u8, MAX_FRAME> {
        let mut v = heapless::Vec::new();
        let a = self.address.to_be_bytes();
        let c = self.count.to_be_bytes();
        let _ = v.extend_from_slice(&[self.unit, self.function, a[0], a[1], c[0], c[1]]);
        push_crc(&mut v);
        v
    }

    /// Length of a normal response to this request.
    pub const fn response_len(&self) -> usize {
        5 + 2 * self.count as usize
    }
}

/// Parses a request frame received by a slave (CRC included).
pub fn parse_request(frame: &[u8]) -> Result<Request, FrameError> {
    if frame.len() < 4 {
        return Err(FrameError::Short);
    }
    if !crc_ok(frame) {
        return Err(FrameError::Crc);
    }
    let (unit, function) = (frame[0], frame[1]);
    match function {
        0x03 | 0x04 => {
            if frame.len() != 8 {
                return Err(FrameError::Length);
            }
            Ok(Request::Read(ReadRequest {
                unit,
                function,
                address: u16::from_be_bytes([frame[2], frame[3]]),
                count: u16::from_be_bytes([frame[4], frame[5]]),
            }))
        }
        _ => Ok(Request::Other { unit, function }),
    }
}

/// A normal read response carrying `regs`.
pub fn encode_read_response(unit: u8, function: u8, regs: &[u16]) -> heapless::Vec<u8, MAX_FRAME> {
    let mut v = heapless::Vec::new();
    let n = regs.len().min(MAX_READ as usize);
    let _ = v.extend_from_slice(&[unit, function, (2 * n) as u8]);
    for r in &regs[..n] {
        let _ = v.extend_from_slice(&r.to_be_bytes());
    }
    push_crc(&mut v);
    v
}

/// An exception response.
pub fn encode_exception(unit: u8, function: u8, code: u8) -> heapless::Vec<u8, MAX_FRAME> {
    let mut v = heapless::Vec::new();
    let _ = v.extend_from_slice(&[unit, function | 0x80, code]);
    push_crc(&mut v);
    v
}

/// What a master gets back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Response {
    /// Registers were written into the caller's buffer.
    Registers,
    /// The device refused with this exception code.
    Exception(u8),
}

/// Parses the response to `req` into `out` (at least `req.count` long).
pub fn parse_response(
    req: &ReadRequest,
    frame: &[u8],
    out: &mut [u16],
) -> Result<Response, FrameError> {
    if frame.len() < 5 {
        return Err(FrameError::Short);
    }
    if !crc_ok(frame) {
        return Err(FrameError::Crc);
    }
    if frame[0] != req.unit {
        return Err(FrameError::Unit);
    }
    if frame[1] == req.function | 0x80 {
        return if frame.len() == 5 {
            Ok(Response::Exception(frame[2]))
        } else {
            Err(FrameError::Length)
        };
    }
    if frame[1] != req.function {
        return Err(FrameError::Function);
    }
    let n = req.count as usize;
    if frame[2] as usize != 2 * n || frame.len() != 5 + 2 * n || out.len() < n {
        return Err(FrameError::Length);
    }
    for (i, o) in out.iter_mut().take(n).enumerate() {
        *o = u16::from_be_bytes([frame[3 + 2 * i], frame[4 + 2 * i]]);
    }
    Ok(Response::Registers)
}

/// Silence between frames in whole milliseconds, never less than 1 ms (timers tick in ms).
pub const fn interframe_silence_ms(baud: u32) -> u32 {
    interframe_silence_us(baud).div_ceil(1000)
}

/// The frame parsers' properties on arbitrary bytes, for fuzzing (`firmware/fuzz`) and the
/// randomized test below: never panic, and whatever parses re-encodes to the same bytes.
pub fn check_parsers(data: &[u8]) {
    if let Ok(Request::Read(r)) = parse_request(data) {
        assert_eq!(
            r.encode().as_slice(),
            data,
            "a parsed request re-encodes to itself"
        );
    }
    let req = ReadRequest {
        unit: data.first().copied().unwrap_or(1),
        function: 0x04,
        address: 0,
        count: data
            .get(2)
            .map(|n| u16::from(*n / 2))
            .unwrap_or(1)
            .clamp(1, MAX_READ),
    };
    let mut out = [0u16; MAX_READ as usize];
    match parse_response(&req, data, &mut out) {
        Ok(Response::Registers) => {
            let again = encode_read_response(req.unit, 0x04, &out[..usize::from(req.count)]);
            assert_eq!(
                again.as_slice(),
                data,
                "a parsed response re-encodes to itself"
            );
        }
        Ok(Response::Exception(code)) => {
            assert_eq!(encode_exception(req.unit, 0x04, code).as_slice(), data);
        }
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_the_standard_check_string() {
        // CRC-16/MODBUS catalogue check value for "123456789".
        assert_eq!(crc16(b"123456789"), 0x4B37);
    }

    #[test]
    fn crc_of_a_real_request() {
        // Read input registers: unit 1, address 0x0000, 2 registers → CRC bytes 71 CB.
        let frame = [0x01, 0x04, 0x00, 0x00, 0x00, 0x02, 0x71, 0xCB];
        assert!(crc_ok(&frame));
        let mut corrupt = frame;
        corrupt[3] ^= 0x01;
        assert!(!crc_ok(&corrupt));
        assert!(!crc_ok(&frame[..2]));
    }

    #[test]
    fn request_and_response_round_trip() {
        let req = ReadRequest {
            unit: 7,
            function: 0x04,
            address: 100,
            count: 3,
        };
        let frame = req.encode();
        assert_eq!(frame.len(), 8);
        assert_eq!(parse_request(&frame), Ok(Request::Read(req)));
        let resp = encode_read_response(7, 0x04, &[1, 0xABCD, 3]);
        assert_eq!(resp.len(), req.response_len());
        let mut out = [0u16; 3];
        assert_eq!(
            parse_response(&req, &resp, &mut out),
            Ok(Response::Registers)
        );
        assert_eq!(out, [1, 0xABCD, 3]);
        let ex = encode_exception(7, 0x04, exception::ILLEGAL_DATA_ADDRESS);
        assert_eq!(
            parse_response(&req, &ex, &mut out),
            Ok(Response::Exception(2))
        );
        // Another unit, a wrong length, a flipped bit.
        let other = encode_read_response(8, 0x04, &[1, 2, 3]);
        assert_eq!(
            parse_response(&req, &other, &mut out),
            Err(FrameError::Unit)
        );
        let short = encode_read_response(7, 0x04, &[1, 2]);
        assert_eq!(
            parse_response(&req, &short, &mut out),
            Err(FrameError::Length)
        );
        let mut bad = resp.clone();
        bad[4] ^= 0x10;
        assert_eq!(parse_response(&req, &bad, &mut out), Err(FrameError::Crc));
        // A write is a request the slave must refuse, not a parse error.
        let mut w: heapless::Vec<u8, MAX_FRAME> = heapless::Vec::new();
        w.extend_from_slice(&[7, 0x06, 0, 1, 0, 5]).unwrap();
        push_crc(&mut w);
        assert_eq!(
            parse_request(&w),
            Ok(Request::Other {
                unit: 7,
                function: 0x06
            })
        );
    }

    /// Random and mutated frames through the parsers (the fuzz target's properties, on stable).
    #[test]
    fn parsers_survive_random_and_mutated_frames() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let valid = [
            ReadRequest {
                unit: 1,
                function: 4,
                address: 7,
                count: 3,
            }
            .encode(),
            encode_read_response(1, 4, &[1, 2, 3]),
            encode_exception(1, 4, 2),
        ];
        let mut parsed = 0;
        for i in 0..200_000 {
            let mut buf = [0u8; 40];
            let len = (next() % 40) as usize;
            let frame: &[u8] = if i % 2 == 0 {
                for b in buf.iter_mut().take(len) {
                    *b = next() as u8;
                }
                &buf[..len]
            } else {
                // A valid frame with one or two bytes changed, or cut short.
                let v = &valid[(next() % 3) as usize];
                let n = v.len().min(len.max(1));
                buf[..v.len()].copy_from_slice(v);
                for _ in 0..(next() % 3) {
                    let k = (next() as usize) % v.len();
                    buf[k] = next() as u8;
                }
                &buf[..n]
            };
            check_parsers(frame);
            parsed += usize::from(parse_request(frame).is_ok());
        }
        assert!(parsed > 0);
        for v in &valid {
            check_parsers(v);
        }
    }

    #[test]
    fn silence_from_baud_rate() {
        assert_eq!(interframe_silence_us(9_600), 4_011);
        assert_eq!(interframe_silence_us(19_200), 2_006);
        assert_eq!(interframe_silence_us(115_200), 1_750);
        assert_eq!(interframe_silence_ms(9_600), 5);
        assert_eq!(interframe_silence_ms(115_200), 2);
    }
}
