//! Charts as inline SVG: drawn by the printer like text, no script needed.

use std::fmt::Write;

use super::page::esc;

/// Vertical bars, one per (label, value), with the largest value on the axis. Labels are shown
/// every `label_every` bars.
pub fn bars(points: &[(String, f64)], unit: &str, label_every: usize) -> String {
    let (w, h, left, bottom, top) = (680.0, 190.0, 56.0, 22.0, 10.0);
    let max = points
        .iter()
        .map(|(_, v)| *v)
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-size=\"9\">"
    );
    let plot_h = h - bottom - top;
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{y}\" x2=\"{w}\" y2=\"{y}\" stroke=\"#52606d\"/>\
         <text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{m}</text>\
         <text x=\"{tx}\" y=\"{y}\" text-anchor=\"end\">0</text>\
         <text x=\"{tx}\" y=\"{uy}\" text-anchor=\"end\">{u}</text>",
        y = h - bottom,
        tx = left - 4.0,
        ty = top + 8.0,
        uy = top + 20.0,
        m = crate::i18n::number_fixed(crate::i18n::Language::English, max, 0),
        u = esc(unit),
    );
    if points.is_empty() || max <= 0.0 {
        s.push_str("</svg>");
        return s;
    }
    let slot = (w - left) / points.len() as f64;
    for (i, (label, v)) in points.iter().enumerate() {
        let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
        let bh = plot_h * v / max;
        let x = left + slot * i as f64 + slot * 0.15;
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#3e7bfa\"><title>{} {}</title></rect>",
            h - bottom - bh,
            slot * 0.7,
            esc(label),
            v.round()
        );
        if label_every > 0 && i % label_every == 0 {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x + slot * 0.35,
                h - 8.0,
                esc(label)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// One horizontal bar split into shares (time-of-use periods), with a legend.
pub fn shares(parts: &[(String, f64)]) -> String {
    const COLOURS: [&str; 6] = [
        "#b42318", "#f79009", "#3e7bfa", "#12b76a", "#7a5af8", "#98a2b3",
    ];
    let total: f64 = parts.iter().map(|(_, v)| v.max(0.0)).sum();
    let (w, h) = (680.0, 44.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-size=\"9\">"
    );
    if total > 0.0 {
        let mut x = 0.0;
        for (i, (label, v)) in parts.iter().enumerate() {
            let c = COLOURS[i % COLOURS.len()];
            let bw = w * v.max(0.0) / total;
            let _ = write!(
                s,
                "<rect x=\"{x:.1}\" y=\"0\" width=\"{bw:.1}\" height=\"18\" fill=\"{c}\"/>\
                 <rect x=\"{lx:.1}\" y=\"28\" width=\"9\" height=\"9\" fill=\"{c}\"/>\
                 <text x=\"{tx:.1}\" y=\"36\">{l} {p:.1} %</text>",
                lx = i as f64 * 130.0,
                tx = i as f64 * 130.0 + 12.0,
                l = esc(label),
                p = 100.0 * v.max(0.0) / total,
            );
            x += bw;
        }
    }
    s.push_str("</svg>");
    s
}
