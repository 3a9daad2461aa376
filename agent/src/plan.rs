//! Request planning: a device's registers coalesced into as few reads as the protocol allows.

use kilowatch_site::profile::{PollClass, Profile, Table};

/// Limits of one read request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Registers per read (Modbus allows 125).
    pub max_registers: u16,
    /// Bits per coil/discrete-input read (Modbus allows 2000).
    pub max_bits: u16,
    /// Largest run of unused addresses read through rather than split at. Reading a gap is
    /// cheaper than another round trip on a 9600-baud line, but some devices reject reads of
    /// unmapped addresses, so it is configurable.
    pub max_gap: u16,
    /// One request per register (devices that refuse multi-register reads).
    pub single_reads: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_registers: 125,
            max_bits: 2000,
            max_gap: 16,
            single_reads: false,
        }
    }
}

impl Limits {
    /// Protocol limits narrowed by a device's overrides.
    pub fn for_device(d: &kilowatch_site::config::DeviceConfig) -> Self {
        let base = Self::default();
        Self {
            max_registers: d.max_registers.unwrap_or(base.max_registers),
            max_gap: d.max_gap.unwrap_or(base.max_gap),
            single_reads: d.single_reads,
            ..base
        }
    }
}

/// One read request and the profile registers it serves.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadBlock {
    pub class: PollClass,
    pub table: Table,
    /// Protocol (0-based) start address.
    pub start: u16,
    /// Registers or bits to read.
    pub count: u16,
    /// Indices into `profile.registers`.
    pub fields: Vec<usize>,
}

/// Plans the reads for every register of `profile`.
pub fn plan(profile: &Profile, limits: Limits) -> Vec<ReadBlock> {
    let mut order: Vec<usize> = (0..profile.registers.len()).collect();
    order.sort_by_key(|&i| {
        let r = &profile.registers[i];
        (r.poll, r.table, profile.protocol_address(r))
    });
    let mut blocks: Vec<ReadBlock> = Vec::new();
    for i in order {
        let r = &profile.registers[i];
        let addr = profile.protocol_address(r);
        let width = if r.table.is_bits() {
            1
        } else {
            r.data_type.words()
        };
        let max = if r.table.is_bits() {
            limits.max_bits
        } else {
            limits.max_registers
        };
        if let Some(b) = blocks.last_mut() {
            let end = u32::from(b.start) + u32::from(b.count);
            let new_end = (u32::from(addr) + u32::from(width)).max(end);
            let fits = !limits.single_reads
                && b.class == r.poll
                && b.table == r.table
                && u32::from(addr) <= end + u32::from(limits.max_gap)
                && new_end - u32::from(b.start) <= u32::from(max);
            if fits {
                b.count = (new_end - u32::from(b.start)) as u16;
                b.fields.push(i);
                continue;
            }
        }
        blocks.push(ReadBlock {
            class: r.poll,
            table: r.table,
            start: addr,
            count: width,
            fields: vec![i],
        });
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use kilowatch_site::profile::ProfileLibrary;

    /// A profile with registers at the given addresses (all f32 input registers, fast).
    fn profile_at(addrs: &[u16]) -> Profile {
        let regs: String = addrs
            .iter()
            .zip(kilowatch_site::vocab::QUANTITIES.iter().filter(|q| q.unit == "V"))
            .map(|(a, q)| {
                format!(
                    "{{ quantity = \"{}\", table = \"input\", address = {a}, type = \"f32\", unit = \"V\" }},\n",
                    q.name
                )
            })
            .collect();
        let text = format!(
            "name = \"t\"\nmanufacturer = \"x\"\nmodel = \"y\"\nsource = \"z\"\nregisters = [\n{regs}]\n"
        );
        Profile::from_toml(&text, "t").unwrap()
    }

    #[test]
    fn a_gap_wider_than_the_limit_splits() {
        let p = profile_at(&[0, 2, 30, 100]);
        let spans = |l: Limits| -> Vec<(u16, u16)> {
            plan(&p, l).iter().map(|b| (b.start, b.count)).collect()
        };
        // 2→30 leaves a 26-register gap; 30→100 a 68-register one.
        assert_eq!(spans(Limits::default()), vec![(0, 4), (30, 2), (100, 2)]);
        let wide = Limits {
            max_gap: 30,
            ..Limits::default()
        };
        assert_eq!(spans(wide), vec![(0, 32), (100, 2)]);
        let single = Limits {
            single_reads: true,
            ..Limits::default()
        };
        assert_eq!(spans(single), vec![(0, 2), (2, 2), (30, 2), (100, 2)]);
    }

    #[test]
    fn sdm630_needs_few_reads() {
        let lib = ProfileLibrary::builtin();
        let p = lib.get("eastron-sdm630").unwrap();
        let blocks = plan(p, Limits::default());
        let spans: Vec<(PollClass, u16, u16)> =
            blocks.iter().map(|b| (b.class, b.start, b.count)).collect();
        // 0x12→0x34 and 0xCE→0xE0 are gaps wider than 16 registers: split there. Energy
        // counters are the slow class and get their own read.
        assert_eq!(
            spans,
            vec![
                (PollClass::Fast, 0x00, 0x12),
                (PollClass::Fast, 0x34, 0x22),
                (PollClass::Fast, 0xC8, 0x06),
                (PollClass::Fast, 0xE0, 0x02),
                (PollClass::Slow, 0x48, 0x06),
            ]
        );
        let served: usize = blocks.iter().map(|b| b.fields.len()).sum();
        assert_eq!(served, p.registers.len());
    }

    #[test]
    fn respects_the_register_limit_and_gap() {
        let lib = ProfileLibrary::builtin();
        let p = lib.get("eastron-sdm630").unwrap();
        let wide = plan(
            p,
            Limits {
                max_gap: 200,
                ..Limits::default()
            },
        );
        // Everything fits under 125 registers up to 0x56; 0xC8.. would exceed it.
        assert_eq!(wide[0].start, 0);
        assert!(wide.iter().all(|b| b.count <= 125));
        let tight = plan(
            p,
            Limits {
                max_gap: 0,
                max_registers: 4,
                ..Limits::default()
            },
        );
        assert!(tight.iter().all(|b| b.count <= 4));
        assert_eq!(tight.len(), 15);
    }
}
