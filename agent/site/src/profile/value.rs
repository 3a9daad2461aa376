//! Decoding a register into a value in its quantity's canonical unit, and back (simulators).

use crate::decode::{self, DataType, WordOrder};
use crate::vocab;

use super::RegisterDef;

/// What one register decodes to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// In the quantity's canonical unit.
    Good(f64),
    /// The device's "not available" sentinel.
    Unavailable,
    /// NaN or infinite after decoding.
    Invalid,
}

impl RegisterDef {
    /// Raw register words → value in the quantity's canonical unit.
    pub fn to_canonical(
        &self,
        words: &[u16],
        order: WordOrder,
    ) -> Result<Value, decode::DecodeError> {
        // Units were checked when the profile was loaded.
        let canonical = vocab::quantity(&self.quantity).expect("checked").unit;
        let conversion = vocab::Conversion::new(&self.unit, canonical).expect("checked");
        self.to_canonical_with(words, order, &conversion)
    }

    /// [`Self::to_canonical`] with the unit conversion looked up beforehand
    /// ([`Self::conversion`]).
    pub fn to_canonical_with(
        &self,
        words: &[u16],
        order: WordOrder,
        conversion: &vocab::Conversion,
    ) -> Result<Value, decode::DecodeError> {
        let raw = decode::decode(words, self.data_type, order)?;
        if self.sentinel == Some(raw) {
            return Ok(Value::Unavailable);
        }
        if let Some(mask) = self.flag_mask() {
            return Ok(Value::Good(decode::flag(raw, mask)));
        }
        let scaled = scale(raw, self.scale) + self.offset;
        if !scaled.is_finite() {
            return Ok(Value::Invalid);
        }
        Ok(Value::Good(conversion.apply(scaled)))
    }

    /// For an unsigned integer counter: the register's range in the quantity's canonical unit
    /// (where it wraps to zero), e.g. a u32 of 0.01 kWh wraps at 42 949 672.96 kWh.
    pub fn counter_wrap(&self) -> Option<f64> {
        let q = vocab::quantity(&self.quantity).ok()?;
        if q.kind != vocab::Kind::Counter {
            return None;
        }
        let range = match self.data_type {
            DataType::U16 => 65_536.0,
            DataType::U32 => 4_294_967_296.0,
            DataType::U64 => 18_446_744_073_709_551_616.0,
            _ => return None,
        };
        Some(self.conversion().apply(range * self.scale.abs()))
    }

    /// Device unit → the quantity's canonical unit (units were checked when the profile was
    /// loaded).
    pub fn conversion(&self) -> vocab::Conversion {
        let canonical = vocab::quantity(&self.quantity).expect("checked").unit;
        vocab::Conversion::new(&self.unit, canonical).expect("checked")
    }

    /// Value in canonical unit → the words a device would serve (simulators, tests). A status
    /// flag sets all its bits when `value` is non-zero.
    pub fn from_canonical(&self, value: f64, order: WordOrder) -> Vec<u16> {
        if let Some(mask) = self.flag_mask() {
            let raw = if value != 0.0 { f64::from(mask) } else { 0.0 };
            return decode::encode(raw, self.data_type, order);
        }
        let canonical = vocab::quantity(&self.quantity).expect("checked").unit;
        let in_unit = vocab::convert(value, canonical, &self.unit).expect("checked");
        decode::encode((in_unit - self.offset) / self.scale, self.data_type, order)
    }
}

/// `raw * scale`, dividing when the scale is 1/n so decimal registers stay exact
/// (950 × 0.001 would give 0.9500000000000001; 950 / 1000 gives 0.95).
fn scale(raw: f64, scale: f64) -> f64 {
    let inverse = 1.0 / scale;
    if scale.abs() < 1.0 && (inverse - inverse.round()).abs() < 1e-9 {
        raw / inverse.round()
    } else {
        raw * scale
    }
}
