//! Shared look: colours that survive greyscale printing and colour-blind readers (the
//! Okabe–Ito palette), font sizes, margins.

use super::font::FAMILY;
use plotters::prelude::*;
use plotters::style::TextStyle;

pub const PINNED: RGBColor = RGBColor(0, 114, 178); // blue
pub const SHARED: RGBColor = RGBColor(230, 159, 0); // orange
pub const LIMIT: RGBColor = RGBColor(213, 94, 0); // vermilion
pub const RECOMMENDED: RGBColor = RGBColor(0, 158, 115); // bluish green
pub const MUTED: RGBColor = RGBColor(120, 120, 120);

pub fn title() -> TextStyle<'static> {
    (FAMILY, 24).into_font().color(&BLACK)
}
pub fn subtitle() -> TextStyle<'static> {
    (FAMILY, 15).into_font().color(&MUTED)
}
pub fn label() -> TextStyle<'static> {
    (FAMILY, 16).into_font().color(&BLACK)
}
pub fn tick() -> TextStyle<'static> {
    (FAMILY, 14).into_font().color(&BLACK)
}
pub fn legend() -> TextStyle<'static> {
    (FAMILY, 15).into_font().color(&BLACK)
}

/// A tick label without needless decimals: 100, 2.5, 0.25.
pub fn number(value: &f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}
