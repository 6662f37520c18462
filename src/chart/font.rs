//! The one font every chart uses, embedded so no host's fonts are ever consulted.
//!
//! DejaVu Sans (assets/fonts/DejaVuSans.ttf, Bitstream Vera licence with public-domain DejaVu
//! changes, see assets/fonts/LICENSE-DejaVu.txt).

use ab_glyph::{Font, FontRef, OutlineCurve, Point, ScaleFont};
use std::sync::Once;

/// The font file, compiled into the binary.
pub static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The family name charts ask plotters for; it resolves only to the embedded font.
pub const FAMILY: &str = "sans-serif";

/// Makes the embedded font the only `sans-serif` plotters knows. Idempotent.
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are compiled in and checked by a test, so this cannot fail at run time.
        let _ =
            plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, DEJAVU_SANS);
    });
}

/// The embedded font, parsed.
pub fn font() -> FontRef<'static> {
    // A compiled-in, test-checked font: failure here is a build defect, not an input error.
    FontRef::try_from_slice(DEJAVU_SANS).expect("the embedded DejaVu Sans font parses")
}

/// A run of text laid out as one SVG path in pixel coordinates: left edge at `x`, baseline
/// at `baseline`, `size` px from descender to ascender (as plotters' ab_glyph sizes text).
/// Returns the path data and the advance width.
pub fn text_path(text: &str, size: f32, x: f32, baseline: f32) -> (String, f32) {
    let font = font();
    let scaled = font.as_scaled(size);
    let (sx, sy) = (scaled.h_scale_factor(), scaled.v_scale_factor());
    let mut d = String::new();
    let mut caret = x;
    let mut previous = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(prev) = previous {
            caret += scaled.kern(prev, id);
        }
        previous = Some(id);
        if let Some(outline) = font.outline(id) {
            let map = |p: Point| (caret + p.x * sx, baseline - p.y * sy);
            let mut last: Option<(f32, f32)> = None;
            for curve in &outline.curves {
                let (start, segment) = match *curve {
                    OutlineCurve::Line(a, b) => {
                        let b = map(b);
                        (map(a), format!("L{:.2} {:.2}", b.0, b.1))
                    }
                    OutlineCurve::Quad(a, b, c) => {
                        let (b, c) = (map(b), map(c));
                        (
                            map(a),
                            format!("Q{:.2} {:.2} {:.2} {:.2}", b.0, b.1, c.0, c.1),
                        )
                    }
                    OutlineCurve::Cubic(a, b, c, e) => {
                        let (b, c, e) = (map(b), map(c), map(e));
                        (
                            map(a),
                            format!(
                                "C{:.2} {:.2} {:.2} {:.2} {:.2} {:.2}",
                                b.0, b.1, c.0, c.1, e.0, e.1
                            ),
                        )
                    }
                };
                let continues = last
                    .is_some_and(|l| (l.0 - start.0).abs() < 1e-3 && (l.1 - start.1).abs() < 1e-3);
                if !continues {
                    if last.is_some() {
                        d.push('Z');
                    }
                    d.push_str(&format!("M{:.2} {:.2}", start.0, start.1));
                }
                d.push_str(&segment);
                last = Some(match *curve {
                    OutlineCurve::Line(_, b) => map(b),
                    OutlineCurve::Quad(_, _, c) => map(c),
                    OutlineCurve::Cubic(_, _, _, e) => map(e),
                });
            }
            if last.is_some() {
                d.push('Z');
            }
        }
        caret += scaled.h_advance(id);
    }
    (d, caret - x)
}

/// Ascent and descent (negative) in px at `size`.
pub fn metrics(size: f32) -> (f32, f32) {
    let font = font();
    let scaled = font.as_scaled(size);
    (scaled.ascent(), scaled.descent())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_font_parses_and_draws() {
        let (d, width) = super::text_path("Hello", 20.0, 0.0, 20.0);
        assert!(d.starts_with('M') && d.contains('Z'), "{d}");
        assert!(width > 30.0 && width < 80.0, "{width}");
        let (ascent, descent) = super::metrics(20.0);
        assert!(ascent > 0.0 && descent < 0.0);
    }
}
