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
    fn silence_from_baud_rate() {
        assert_eq!(interframe_silence_us(9_600), 4_011);
        assert_eq!(interframe_silence_us(19_200), 2_006);
        assert_eq!(interframe_silence_us(115_200), 1_750);
    }
}
