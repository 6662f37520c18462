//! The self-contained HTML report: the verdict in one sentence at the top, the tables, the
//! charts inline (SVG, text as outlines, so no fonts or files are needed), and every constant
//! the model used with its source. One file an admin can mail or archive beside the trace.

pub mod bundle;
mod html;

pub use html::{escape, render_html, ReportInput};

use anyhow::{Context, Result};
use std::path::Path;

/// Renders and writes the report to `path`, whole or not at all; an existing file is
/// replaced only with `force`.
pub fn write_html(path: &Path, input: &ReportInput, force: bool) -> Result<()> {
    let text = render_html(input)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    crate::outfile::write_atomic(path, text.as_bytes(), force)
        .with_context(|| "the report was not written".to_string())
}
