//! HTML to PDF through Debian's headless Chromium (`chromium --headless --print-to-pdf`), run
//! as a child process off the async workers, with a timeout.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use thiserror::Error;

/// Names Chromium goes by; `KILOWATCH_CHROMIUM` overrides them with a path.
const NAMES: [&str; 4] = ["chromium", "chromium-browser", "google-chrome", "chrome"];
pub const CHROMIUM_VAR: &str = "KILOWATCH_CHROMIUM";
/// Time one print may take before Chromium is stopped.
pub const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Error)]
pub enum PdfError {
    #[error("PDF reports need Chromium, and none was found (looked for {names} in PATH, /usr/bin and /usr/local/bin; set {CHROMIUM_VAR} to its path): install it, e.g. `apt-get install chromium`, or ask for HTML")]
    NoChromium { names: String },
    #[error("Chromium ({path}) could not print the report: {why}")]
    Failed { path: String, why: String },
    #[error("Chromium took more than {0:?} to print the report and was stopped")]
    Timeout(Duration),
    #[error("the report's scratch files: {0}")]
    Io(#[from] std::io::Error),
}

/// The Chromium to run: `KILOWATCH_CHROMIUM`, else the first of [`NAMES`] in PATH or the usual
/// folders.
pub fn find_chromium() -> Result<PathBuf, PdfError> {
    if let Some(p) = std::env::var_os(CHROMIUM_VAR).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/bin", "/usr/local/bin", "/snap/bin"].map(PathBuf::from));
    NAMES
        .iter()
        .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
        .find(|p| p.is_file())
        .ok_or_else(|| PdfError::NoChromium {
            names: NAMES.join(", "),
        })
}

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch() -> std::io::Result<Scratch> {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "kilowatch-report-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        chrono::Utc::now().timestamp_micros()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(Scratch(dir))
}

/// Prints `html` to PDF and returns the PDF's bytes.
pub async fn print(html: &str, timeout: Duration) -> Result<Vec<u8>, PdfError> {
    let chromium = find_chromium()?;
    let dir = scratch()?;
    let page = dir.0.join("report.html");
    let out = dir.0.join("report.pdf");
    tokio::fs::write(&page, html).await?;
    let mut cmd = tokio::process::Command::new(&chromium);
    cmd.args(args(&dir.0, &page, &out))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let failed = |why: String| PdfError::Failed {
        path: chromium.display().to_string(),
        why,
    };
    let child = cmd.spawn().map_err(|e| failed(e.to_string()))?;
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| PdfError::Timeout(timeout))?
        .map_err(|e| failed(e.to_string()))?;
    match tokio::fs::read(&out).await {
        Ok(pdf) if pdf.starts_with(b"%PDF") => Ok(pdf),
        _ => {
            let err = String::from_utf8_lossy(&output.stderr);
            let last: Vec<&str> = err.lines().rev().take(3).collect();
            Err(failed(format!(
                "{} and no PDF was written{}",
                output.status,
                if last.is_empty() {
                    String::new()
                } else {
                    format!(
                        ": {}",
                        last.into_iter().rev().collect::<Vec<_>>().join(" / ")
                    )
                }
            )))
        }
    }
}

fn args(dir: &Path, page: &Path, out: &Path) -> Vec<String> {
    vec![
        "--headless".into(),
        // Root in a container has no user namespace for the sandbox; the page is our own.
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--no-first-run".into(),
        "--disable-extensions".into(),
        "--no-pdf-header-footer".into(),
        "--print-to-pdf-no-header".into(),
        // A profile of its own: two prints at once never share (and lock) one.
        format!("--user-data-dir={}", dir.join("profile").display()),
        format!("--print-to-pdf={}", out.display()),
        format!("file://{}", page.display()),
    ]
}
