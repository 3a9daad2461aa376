#![no_main]

use libfuzzer_sys::fuzz_target;

// Arbitrary bytes as a request and as a response: no panic, and whatever parses re-encodes to
// the same bytes.
fuzz_target!(|data: &[u8]| {
    kilowatch_firmware::rtu::check_parsers(data);
});
