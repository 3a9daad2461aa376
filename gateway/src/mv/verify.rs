//! The entry of a verification: the placebo back-test first when asked for (it runs the same
//! procedure on windows of the baseline), then the verification itself, weighing it.

use super::analysis::{run, MvError, Request};
use super::frame::Raw;
use super::report::Report;

/// Runs the whole verification, with the placebo back-test first when asked for.
pub fn analyse(raw: &Raw, req: &Request) -> Result<Report, MvError> {
    let (b0, b1) = req.baseline;
    let (r0, r1) = req.reporting;
    if r0 < b1 && b0 < r1 {
        return Err(MvError::Input(
            "the baseline and reporting periods overlap".to_owned(),
        ));
    }
    let placebo = if req.placebo {
        Some(super::placebo::run(raw, req)?)
    } else {
        None
    };
    run(raw, req, None, placebo)
}
