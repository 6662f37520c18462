//! An SVG backend whose labels are glyph outlines instead of `<text>` elements.
//!
//! plotters' SVG backend writes `<text font-family=…>`, which the viewer renders with whatever
//! fonts its host has. This wrapper forwards every primitive to that backend but replaces each
//! label by a numbered marker, and `Labels::replace_markers` swaps every marked `<text>` for a
//! `<path>` drawn from the embedded font, in place, so the drawing order is kept.

use super::font::{metrics, text_path};
use plotters::prelude::*;
use plotters_backend::{
    text_anchor::{HPos, VPos},
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontTransform,
};

/// Private-use characters that cannot appear in a real label.
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// One label, as plotters asked for it.
#[derive(Clone)]
struct Label {
    text: String,
    size: f64,
    color: BackendColor,
    h: HPos,
    v: VPos,
    transform: FontTransform,
    pos: BackendCoord,
}

/// The labels of one chart, collected while drawing.
#[derive(Default)]
pub struct Labels {
    labels: Vec<Label>,
}

impl Labels {
    /// Replaces every marked `<text>…</text>` element of `svg` by its label's outline path.
    pub fn replace_markers(&self, svg: &str) -> String {
        let mut out = String::with_capacity(svg.len() * 2);
        let mut rest = svg;
        while let Some(marker) = rest.find(OPEN) {
            let Some(open) = rest[..marker].rfind("<text") else {
                break;
            };
            let Some(close_rel) = rest[marker..].find("</text>") else {
                break;
            };
            let close = marker + close_rel + "</text>".len();
            let index: Option<usize> = rest[marker + OPEN.len_utf8()..]
                .split(CLOSE)
                .next()
                .and_then(|n| n.parse().ok());
            out.push_str(&rest[..open]);
            if let Some(label) = index.and_then(|i| self.labels.get(i)) {
                out.push_str(&label_path(label));
            }
            rest = &rest[close..];
        }
        out.push_str(rest);
        out
    }
}

fn label_path(label: &Label) -> String {
    let size = label.size as f32;
    let (ascent, descent) = metrics(size);
    let (_, width) = text_path(&label.text, size, 0.0, 0.0);
    let (x, y) = (label.pos.0 as f32, label.pos.1 as f32);
    let left = match label.h {
        HPos::Left => x,
        HPos::Center => x - width / 2.0,
        HPos::Right => x - width,
    };
    let baseline = match label.v {
        VPos::Top => y + ascent,
        VPos::Center => y + (ascent + descent) / 2.0,
        VPos::Bottom => y + descent,
    };
    let (d, _) = text_path(&label.text, size, left, baseline);
    let angle = match label.transform {
        FontTransform::Rotate90 => 90,
        FontTransform::Rotate180 => 180,
        FontTransform::Rotate270 => 270,
        _ => 0,
    };
    let transform = if angle == 0 {
        String::new()
    } else {
        format!(" transform=\"rotate({angle}, {x}, {y})\"")
    };
    let (r, g, b) = label.color.rgb;
    format!(
        "<path d=\"{d}\" fill=\"#{r:02X}{g:02X}{b:02X}\" opacity=\"{:.3}\"{transform}/>\n",
        label.color.alpha
    )
}

/// plotters' SVG backend with labels recorded for outlining.
pub struct PathTextSvg<'a> {
    inner: SVGBackend<'a>,
    labels: &'a mut Labels,
}

impl<'a> PathTextSvg<'a> {
    pub fn new(buffer: &'a mut String, size: (u32, u32), labels: &'a mut Labels) -> Self {
        Self {
            inner: SVGBackend::with_string(buffer, size),
            labels,
        }
    }
}

type Result<E> = std::result::Result<(), DrawingErrorKind<E>>;

impl DrawingBackend for PathTextSvg<'_> {
    type ErrorType = <SVGBackend<'static> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<Self::ErrorType> {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> Result<Self::ErrorType> {
        self.inner.present()
    }
    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<Self::ErrorType> {
        self.inner.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<Self::ErrorType> {
        self.inner.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<Self::ErrorType> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<Self::ErrorType> {
        self.inner.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<Self::ErrorType> {
        self.inner.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<Self::ErrorType> {
        self.inner.fill_polygon(vert, style)
    }
    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<Self::ErrorType> {
        if style.color().alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let index = self.labels.labels.len();
        let anchor = style.anchor();
        self.labels.labels.push(Label {
            text: text.to_string(),
            size: style.size(),
            color: style.color(),
            h: anchor.h_pos,
            v: anchor.v_pos,
            transform: style.transform(),
            pos,
        });
        self.inner
            .draw_text(&format!("{OPEN}{index}{CLOSE}"), style, pos)
    }
    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> std::result::Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        self.inner.estimate_text_size(text, style)
    }
}
