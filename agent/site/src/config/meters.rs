//! The meter tree and virtual meters: `parent = "…"` on `[[devices]]` and `[[virtual]]` says
//! which meter feeds which (incomer → feeders → assets); `[[virtual]]` entries are calculated
//! channels (`expr = "incomer - compressor-1 - compressor-2"`) that the gateway stores as
//! ordinary series; `[review]` tunes the energy review's rule for significant energy uses.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Deserialize;

use super::device::DeviceConfig;
use super::error::{ConfigError, Problem, Thing};
use super::expr;
use crate::payload::is_identifier;
use crate::vocab::{self, Kind};

/// A calculated meter (`[[virtual]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualConfig {
    /// Its device id in series names (`site/<id>/<quantity>`); unique among devices.
    pub id: String,
    pub name: Option<String>,
    /// What it computes; its sources are read as the same quantity (for
    /// `active_energy_import`, a meter without an energy register by ∫ active power dt).
    #[serde(default = "default_quantity")]
    pub quantity: String,
    /// A linear combination of devices and other virtual meters (see `expr.rs`).
    pub expr: String,
    /// The meter that feeds it, in the meter tree.
    pub parent: Option<String>,
    /// The asset it meters, as on a device.
    pub asset: Option<String>,
}

fn default_quantity() -> String {
    "active_energy_import".into()
}

impl VirtualConfig {
    /// The expression's (meter, coefficient) terms; empty only for an expression the site
    /// file's check refused.
    pub fn terms(&self) -> Vec<(String, f64)> {
        expr::parse(&self.expr).unwrap_or_default()
    }
}

/// `[review]`: the energy review's settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewConfig {
    #[serde(default)]
    pub significant: Significant,
}

/// Which uses are significant: those ranked within the first `cumulative_percent` of the
/// total (the use that crosses the line included) whose own share is at least `min_percent`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Significant {
    pub cumulative_percent: f64,
    pub min_percent: f64,
}

impl Default for Significant {
    fn default() -> Self {
        Self {
            cumulative_percent: 80.0,
            min_percent: 5.0,
        }
    }
}

impl ReviewConfig {
    pub(super) fn check(&self, file: &str) -> Result<(), ConfigError> {
        let s = self.significant;
        for (key, v) in [
            ("cumulative_percent", s.cumulative_percent),
            ("min_percent", s.min_percent),
        ] {
            if !(0.0..=100.0).contains(&v) {
                return Err(ConfigError::new(
                    file,
                    format!("review.significant.{key}"),
                    format!("{v} is not a percentage (0 to 100)"),
                ));
            }
        }
        Ok(())
    }
}

/// One node of the meter tree.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterNode {
    pub id: String,
    pub name: Option<String>,
    pub asset: Option<String>,
    pub parent: Option<String>,
    pub children: Vec<String>,
    pub is_virtual: bool,
}

/// The meters linked by `parent`, in file order (devices, then virtual meters).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeterTree {
    pub nodes: Vec<MeterNode>,
}

impl MeterTree {
    pub(super) fn build(devices: &[DeviceConfig], virtuals: &[VirtualConfig]) -> Self {
        let all = devices
            .iter()
            .map(|d| (&d.id, &d.name, &d.asset, &d.parent, false))
            .chain(
                virtuals
                    .iter()
                    .map(|v| (&v.id, &v.name, &v.asset, &v.parent, true)),
            );
        let mut children: HashMap<&str, Vec<String>> = HashMap::new();
        for (id, _, _, parent, _) in all.clone() {
            if let Some(p) = parent {
                children.entry(p.as_str()).or_default().push(id.clone());
            }
        }
        let nodes = all
            .filter(|(id, _, _, parent, _)| parent.is_some() || children.contains_key(id.as_str()))
            .map(|(id, name, asset, parent, is_virtual)| MeterNode {
                id: id.clone(),
                name: name.clone(),
                asset: asset.clone(),
                parent: parent.clone(),
                children: children.get(id.as_str()).cloned().unwrap_or_default(),
                is_virtual,
            })
            .collect();
        Self { nodes }
    }

    /// The meters fed by none.
    pub fn roots(&self) -> impl Iterator<Item = &MeterNode> {
        self.nodes.iter().filter(|n| n.parent.is_none())
    }

    pub fn get(&self, id: &str) -> Option<&MeterNode> {
        self.nodes.iter().find(|n| n.id == id)
    }
}

/// Checks the virtual meters and the `parent` links of devices and virtual meters.
pub(super) fn check(
    devices: &[DeviceConfig],
    virtuals: &[VirtualConfig],
    file: &str,
) -> Result<(), ConfigError> {
    let devices_ids: HashSet<&str> = devices.iter().map(|d| d.id.as_str()).collect();
    let mut ids: HashSet<&str> = devices_ids.clone();
    for (i, v) in virtuals.iter().enumerate() {
        let key = |k: &str| format!("virtual[{i}].{k}");
        if !is_identifier(&v.id) {
            return Err(ConfigError::new(
                file,
                key("id"),
                format!("`{}` must be 1-64 letters, digits, `-` or `_`", v.id),
            ));
        }
        if !ids.insert(&v.id) {
            return Err(ConfigError::at(
                file,
                key("id"),
                Problem::Duplicate {
                    of: Thing::Meter,
                    id: v.id.clone(),
                },
            ));
        }
        match vocab::quantity(&v.quantity) {
            Ok(q) if q.kind != Kind::State => {}
            Ok(_) => {
                return Err(ConfigError::new(
                    file,
                    key("quantity"),
                    format!("`{}` is a state: states do not add up", v.quantity),
                ))
            }
            Err(e) => return Err(ConfigError::new(file, key("quantity"), e.to_string())),
        }
    }
    let mut sources: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (i, v) in virtuals.iter().enumerate() {
        let key = format!("virtual[{i}].expr");
        let terms = expr::parse(&v.expr)
            .map_err(|e| ConfigError::new(file, &key, format!("`{}`: {}", v.expr, e.0)))?;
        for (m, _) in &terms {
            if !ids.contains(m.as_str()) {
                // `incomer-compressor-1` is one (unknown) id: the `-` was meant as a minus.
                let glued = m.match_indices('-').any(|(at, _)| ids.contains(&m[..at]));
                return Err(if glued {
                    ConfigError::new(
                        file,
                        &key,
                        format!("unknown device or virtual meter `{m}` (a subtraction needs a space before its `-`)"),
                    )
                } else {
                    ConfigError::at(file, &key, Problem::unknown(Thing::Meter, m))
                });
            }
        }
        sources.insert(&v.id, terms.into_iter().map(|(m, _)| m).collect());
    }
    // A virtual meter computed from itself, through others or directly, has no value.
    for (i, v) in virtuals.iter().enumerate() {
        if let Some(path) = cycle_from(&v.id, |id| sources.get(id).cloned().unwrap_or_default()) {
            return Err(ConfigError::new(
                file,
                format!("virtual[{i}].expr"),
                format!("computed from itself: {}", path.join(" → ")),
            ));
        }
    }
    let parents: HashMap<&str, &str> = devices
        .iter()
        .map(|d| (d.id.as_str(), d.parent.as_deref()))
        .chain(
            virtuals
                .iter()
                .map(|v| (v.id.as_str(), v.parent.as_deref())),
        )
        .filter_map(|(id, p)| Some((id, p?)))
        .collect();
    let keyed = devices
        .iter()
        .enumerate()
        .map(|(i, d)| (format!("devices[{i}].parent"), &d.id, &d.parent))
        .chain(
            virtuals
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("virtual[{i}].parent"), &v.id, &v.parent)),
        );
    for (key, id, parent) in keyed {
        let Some(p) = parent else { continue };
        if !ids.contains(p.as_str()) {
            return Err(ConfigError::at(
                file,
                key,
                Problem::unknown(Thing::Meter, p),
            ));
        }
        let up = |n: &str| {
            parents
                .get(n)
                .map(|p| vec![p.to_string()])
                .unwrap_or_default()
        };
        if let Some(path) = cycle_from(id, up) {
            return Err(ConfigError::new(
                file,
                key,
                format!("the meter tree has a loop: {}", path.join(" → ")),
            ));
        }
    }
    Ok(())
}

/// A path from `start` back to itself through `next`, if there is one.
fn cycle_from(start: &str, next: impl Fn(&str) -> Vec<String>) -> Option<Vec<String>> {
    // Depth-first with an explicit stack: the graph is the file's, its depth unbounded.
    let mut stack = vec![(start.to_owned(), vec![start.to_owned()])];
    let mut seen = HashSet::new();
    while let Some((node, path)) = stack.pop() {
        for n in next(&node) {
            if n == start {
                let mut p = path.clone();
                p.push(n);
                return Some(p);
            }
            if seen.insert(n.clone()) {
                let mut p = path.clone();
                p.push(n.clone());
                stack.push((n, p));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::config::{ConfigError, SiteConfig};
    use crate::profile::ProfileLibrary;

    const SITE: &str = r#"
[site]
id = "plant"

[[devices]]
id = "incomer"
profile = "eastron-sdm630"
tcp = "127.0.0.1:502"

[[devices]]
id = "compressor-1"
profile = "eastron-sdm630"
tcp = "127.0.0.1:503"
parent = "incomer"

[[devices]]
id = "compressor-2"
profile = "eastron-sdm630"
tcp = "127.0.0.1:504"
parent = "incomer"
"#;

    fn parse(extra: &str) -> Result<SiteConfig, ConfigError> {
        SiteConfig::parse(
            &format!("{SITE}{extra}"),
            "site.toml",
            &ProfileLibrary::builtin(),
        )
    }

    fn err(extra: &str) -> String {
        parse(extra).unwrap_err().to_string()
    }

    #[test]
    fn tree_and_virtual_meters() {
        let c = parse(
            "[[virtual]]\nid = \"rest\"\nexpr = \"incomer - compressor-1 - compressor-2\"\nparent = \"incomer\"\n\n[[virtual]]\nid = \"air\"\nexpr = \"compressor-1 + compressor-2\"\n\n[review]\nsignificant = { cumulative_percent = 90 }\n",
        )
        .unwrap();
        let tree = c.meter_tree();
        assert_eq!(
            tree.roots().map(|n| n.id.as_str()).collect::<Vec<_>>(),
            ["incomer"]
        );
        assert_eq!(
            tree.get("incomer").unwrap().children,
            ["compressor-1", "compressor-2", "rest"]
        );
        assert!(
            tree.get("air").is_none(),
            "linked to no meter: not in the tree"
        );
        assert_eq!(c.virtuals[0].quantity, "active_energy_import");
        assert_eq!(c.virtuals[1].terms().len(), 2);
        assert_eq!(c.review.significant.cumulative_percent, 90.0);
        assert_eq!(c.review.significant.min_percent, 5.0);
    }

    #[test]
    fn errors_name_file_key_token_and_line() {
        let e = err("[[virtual]]\nid = \"rest\"\nexpr = \"incomer - compressor-3\"\n");
        assert_eq!(
            e,
            "site.toml: virtual[0].expr: unknown device or virtual meter `compressor-3` (line 23)"
        );
        let e = err("[[virtual]]\nid = \"rest\"\nexpr = \"incomer-compressor-1\"\n");
        assert!(e.contains("needs a space"), "{e}");
        let e = err("[[virtual]]\nid = \"rest\"\nexpr = \"incomer - (compressor-1\"\n");
        assert!(
            e.starts_with(
                "site.toml: virtual[0].expr: `incomer - (compressor-1`: a `(` is not closed"
            ),
            "{e}"
        );
        let e = err("[[virtual]]\nid = \"a\"\nexpr = \"incomer - b\"\n[[virtual]]\nid = \"b\"\nexpr = \"a + compressor-1\"\n");
        assert!(
            e.contains("virtual[0].expr: computed from itself: a → b → a"),
            "{e}"
        );
        let e = err("[[virtual]]\nid = \"a\"\nexpr = \"2 * a\"\n");
        assert!(e.contains("computed from itself"), "{e}");
        let e = err("[[virtual]]\nid = \"incomer\"\nexpr = \"compressor-1\"\n");
        assert!(e.contains("virtual[0].id: `incomer` is already"), "{e}");
        let e = err("[[virtual]]\nid = \"a\"\nquantity = \"energy_kwh\"\nexpr = \"incomer\"\n");
        assert!(
            e.contains("virtual[0].quantity: ") && e.contains("energy_kwh"),
            "{e}"
        );
        let e = err("[[virtual]]\nid = \"a\"\nquantity = \"loaded\"\nexpr = \"incomer\"\n");
        assert!(e.contains("virtual[0].quantity"), "{e}");
        let e = err("[[virtual]]\nid = \"a\"\nexpr = \"incomer\"\nparent = \"nowhere\"\n");
        assert!(
            e.contains("virtual[0].parent: unknown device or virtual meter `nowhere`"),
            "{e}"
        );
        let e = err("[review]\nsignificant = { min_percent = 120 }\n");
        assert!(e.contains("review.significant.min_percent"), "{e}");
    }

    #[test]
    fn a_loop_in_the_tree_is_refused() {
        let text = SITE.replacen(
            "tcp = \"127.0.0.1:502\"",
            "tcp = \"127.0.0.1:502\"\nparent = \"compressor-2\"",
            1,
        );
        let e = SiteConfig::parse(&text, "site.toml", &ProfileLibrary::builtin())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "devices[0].parent: the meter tree has a loop: incomer → compressor-2 → incomer"
            ),
            "{e}"
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_expression_or_parent_gives_a_result(
                expr in "[-+*/() a-z0-9.]{0,40}|\\PC{0,40}",
                parent in "[a-z0-9-]{0,14}",
            ) {
                let extra = format!(
                    "[[virtual]]\nid = \"v\"\nexpr = {expr:?}\nparent = {parent:?}\n"
                );
                if let Err(e) = parse(&extra) {
                    prop_assert!(!e.to_string().contains('\n'));
                }
            }
        }
    }
}
