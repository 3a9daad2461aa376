//! Status flags: a `bit` or `mask` of a status word read as a 0/1 state (running, loaded,
//! fault).

use super::RegisterDef;
use crate::decode::DataType;
use crate::vocab;

impl RegisterDef {
    /// The bits a status flag tests (`bit` or `mask`), if the register is one.
    pub fn flag_mask(&self) -> Option<u32> {
        self.mask
            .or_else(|| self.bit.and_then(|b| 1u32.checked_shl(u32::from(b))))
    }
}

/// Why a register's `bit`/`mask` is unusable, if it is.
pub(super) fn flag_problem(r: &RegisterDef, q: &vocab::Quantity) -> Option<String> {
    let mask = match (r.bit, r.mask) {
        (None, None) => return None,
        (Some(_), Some(_)) => return Some("give `bit` or `mask`, not both".into()),
        (Some(b), None) => 1u64.checked_shl(u32::from(b)).unwrap_or(u64::MAX),
        (None, Some(m)) => u64::from(m),
    };
    let width = match r.data_type {
        DataType::U16 => 16,
        DataType::U32 => 32,
        _ => return Some("status bits are read from u16 or u32 registers".into()),
    };
    if r.table.is_bits() {
        return Some("coils and discrete inputs are bits already: drop `bit`/`mask`".into());
    }
    if mask == 0 || mask >> width != 0 {
        return Some(format!("the bits lie outside a {width}-bit register"));
    }
    if q.kind != vocab::Kind::State {
        return Some(format!(
            "a status bit decodes to 0 or 1: `{}` is not a state quantity",
            q.name
        ));
    }
    None
}
