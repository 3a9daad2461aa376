//! Small inline SVG charts for the self-contained M&V report: axes with units, ticks at round
//! numbers (dates on time axes), a legend, lines or dots.

use std::fmt::Write;

pub enum Style {
    Line,
    Dots,
}

pub struct Series<'a> {
    pub name: &'a str,
    pub color: &'a str,
    pub style: Style,
    pub points: Vec<(f64, f64)>,
}

pub struct Chart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    /// x values are UTC milliseconds; ticks are dates in `zone`.
    pub time_axis: Option<super::frame::Zone>,
    pub series: Vec<Series<'a>>,
    /// Vertical marker (e.g. the start of the reporting period) with its label.
    pub marker: Option<(f64, &'a str)>,
    /// Draw y = 0.
    pub zero_line: bool,
}

const W: f64 = 880.0;
const H: f64 = 320.0;
const L: f64 = 78.0;
const R: f64 = 20.0;
const T: f64 = 40.0;
const B: f64 = 56.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Round tick values covering [lo, hi].
fn ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let span = (hi - lo).max(1e-12);
    let raw = span / target as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut v = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while v <= hi + step * 1e-9 {
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        v += step;
    }
    out
}

fn label(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

impl Chart<'_> {
    pub fn render(&self) -> String {
        let pts = self.series.iter().flat_map(|s| s.points.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for (x, y) in pts.filter(|(x, y)| x.is_finite() && y.is_finite()) {
            x0 = x0.min(*x);
            x1 = x1.max(*x);
            y0 = y0.min(*y);
            y1 = y1.max(*y);
        }
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg viewBox="0 0 {W} {H}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="12"><text x="{L}" y="18" font-size="15" font-weight="bold">{t}</text>"#,
            t = esc(self.title)
        );
        if !x0.is_finite() {
            s.push_str(r#"<text x="300" y="160">no data</text></svg>"#);
            return s;
        }
        if self.zero_line {
            y0 = y0.min(0.0);
            y1 = y1.max(0.0);
        }
        let pad = (y1 - y0).max(1e-9) * 0.05;
        let (y0, y1) = (y0 - pad, y1 + pad);
        let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
        let px = |x: f64| L + (x - x0) / (x1 - x0) * (W - L - R);
        let py = |y: f64| H - B - (y - y0) / (y1 - y0) * (H - T - B);
        // Axes and grid.
        for v in ticks(y0, y1, 6) {
            let y = py(v);
            let _ = write!(
                s,
                r##"<line x1="{L}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e3e3e3"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                W - R,
                L - 6.0,
                y + 4.0,
                label(v)
            );
        }
        match self.time_axis {
            Some(zone) => {
                let days = (x1 - x0) / 86_400_000.0;
                let every = [1.0, 2.0, 7.0, 14.0, 30.5, 61.0, 91.5, 183.0]
                    .into_iter()
                    .find(|d| days / d <= 8.0)
                    .unwrap_or(365.0);
                let mut t = x0;
                while t <= x1 {
                    let x = px(t);
                    let text =
                        zone.local(t as i64)
                            .format(if every >= 28.0 { "%Y-%m" } else { "%m-%d" });
                    let _ = write!(
                        s,
                        r##"<line x1="{x:.1}" x2="{x:.1}" y1="{}" y2="{}" stroke="#999"/><text x="{x:.1}" y="{}" text-anchor="middle">{text}</text>"##,
                        H - B,
                        H - B + 5.0,
                        H - B + 18.0
                    );
                    t += every * 86_400_000.0;
                }
            }
            None => {
                for v in ticks(x0, x1, 8) {
                    let x = px(v);
                    let _ = write!(
                        s,
                        r##"<line x1="{x:.1}" x2="{x:.1}" y1="{}" y2="{}" stroke="#999"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"##,
                        H - B,
                        H - B + 5.0,
                        H - B + 18.0,
                        label(v)
                    );
                }
            }
        }
        let _ = write!(
            s,
            r##"<line x1="{L}" x2="{L}" y1="{T}" y2="{}" stroke="#333"/><line x1="{L}" x2="{}" y1="{}" y2="{}" stroke="#333"/><text x="{}" y="{}" text-anchor="middle">{}</text><text transform="translate(16,{}) rotate(-90)" text-anchor="middle">{}</text>"##,
            H - B,
            W - R,
            H - B,
            H - B,
            (L + W - R) / 2.0,
            H - 12.0,
            esc(self.x_label),
            (T + H - B) / 2.0,
            esc(self.y_label)
        );
        if self.zero_line && y0 < 0.0 && y1 > 0.0 {
            let y = py(0.0);
            let _ = write!(
                s,
                r##"<line x1="{L}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#333" stroke-dasharray="4 3"/>"##,
                W - R
            );
        }
        if let Some((mx, text)) = self.marker {
            let x = px(mx);
            let _ = write!(
                s,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{T}" y2="{}" stroke="#b22" stroke-dasharray="6 4"/><text x="{:.1}" y="{}" fill="#b22">{}</text>"##,
                H - B,
                x + 4.0,
                T + 12.0,
                esc(text)
            );
        }
        for ser in &self.series {
            match ser.style {
                Style::Line => {
                    let path: Vec<String> = ser
                        .points
                        .iter()
                        .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
                        .collect();
                    let _ = write!(
                        s,
                        r#"<polyline fill="none" stroke="{}" stroke-width="1.6" points="{}"/>"#,
                        ser.color,
                        path.join(" ")
                    );
                }
                Style::Dots => {
                    for (x, y) in &ser.points {
                        let _ = write!(
                            s,
                            r#"<circle cx="{:.1}" cy="{:.1}" r="2.2" fill="{}" fill-opacity="0.7"/>"#,
                            px(*x),
                            py(*y),
                            ser.color
                        );
                    }
                }
            }
        }
        // Legend, top right.
        let mut lx = W - R;
        for ser in self.series.iter().rev() {
            lx -= 16.0 + 7.0 * ser.name.chars().count() as f64 + 14.0;
            let _ = write!(
                s,
                r#"<rect x="{lx:.1}" y="26" width="12" height="4" fill="{}"/><text x="{:.1}" y="32">{}</text>"#,
                ser.color,
                lx + 16.0,
                esc(ser.name)
            );
        }
        s.push_str("</svg>");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 10.0, 5), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let t = ticks(-3.2, 7.9, 6);
        assert!(t[0] >= -3.2 && *t.last().unwrap() <= 7.9 && t.contains(&0.0));
        let svg = Chart {
            title: "a <b>",
            x_label: "x",
            y_label: "kWh",
            time_axis: None,
            series: vec![Series {
                name: "s",
                color: "#000",
                style: Style::Dots,
                points: vec![(1.0, 2.0), (2.0, 3.0)],
            }],
            marker: None,
            zero_line: true,
        }
        .render();
        assert!(svg.contains("a &lt;b&gt;") && svg.matches("<circle").count() == 2);
    }
}
