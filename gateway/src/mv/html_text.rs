//! Text pieces the HTML reports share: escaping, numbers for reading, the page style.

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub(crate) fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        // Thousands separated for reading, e.g. 12 345.
        let s = format!("{:.0}", a);
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push('\u{202f}');
            }
            out.push(c);
        }
        if v < 0.0 {
            format!("−{out}")
        } else {
            out
        }
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

pub(crate) fn opt(v: Option<f64>, suffix: &str) -> String {
    v.map(|v| format!("{}{suffix}", num(v)))
        .unwrap_or_else(|| "—".into())
}

pub(crate) const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:960px;margin:24px auto;padding:0 16px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
.verdict{font-size:1.25em;padding:14px 18px;border-radius:6px;margin:16px 0}
.ok{background:#e6f4ea;border:1px solid #4a9a5b}.no{background:#fdf1e3;border:1px solid #d08a2c}
table{border-collapse:collapse;margin:8px 0}td,th{padding:4px 10px;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child{text-align:left}.pass{color:#2a7a3a}.fail{color:#b3261e;font-weight:bold}
.warn li{color:#8a4b00}svg{width:100%;height:auto;margin:8px 0}small{color:#666}";
