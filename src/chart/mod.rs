//! Charts of a trace and its model, as SVG and PNG, drawn with plotters.
//!
//! All text comes from DejaVu Sans, embedded in the binary (assets/fonts, with its licence):
//! PNGs rasterise it through plotters' ab_glyph support, SVGs carry each label as glyph
//! outlines (`svg_text`), so a chart looks the same on every host and viewer, with or
//! without fonts installed.

mod data;
mod font;
mod hourly;
mod intervals;
mod style;
mod svg_text;
mod timeline;

pub use data::{downsample, ChartData, Series, Timeline};
pub use hourly::{hourly_view, write_hourly, HourlyBuilder, HourlyView};

use anyhow::{Context, Result};
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// An output format for charts.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChartFormat {
    Svg,
    Png,
}

impl ChartFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ChartFormat::Svg => "svg",
            ChartFormat::Png => "png",
        }
    }
}

/// Pixel size of every chart: readable on a laptop screen and in the HTML report.
pub const SIZE: (u32, u32) = (960, 560);

/// One chart: its file stem, title, and how to draw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartKind {
    Throughput,
    Latency,
    Bandwidth,
    DirtyOverTime,
    DiskOverTime,
    WorkingSet,
}

impl ChartKind {
    pub const ALL: [ChartKind; 6] = [
        ChartKind::Throughput,
        ChartKind::Latency,
        ChartKind::Bandwidth,
        ChartKind::WorkingSet,
        ChartKind::DirtyOverTime,
        ChartKind::DiskOverTime,
    ];

    /// The file name without extension.
    pub fn stem(self) -> &'static str {
        match self {
            ChartKind::Throughput => "throughput-vs-interval",
            ChartKind::Latency => "latency-vs-interval",
            ChartKind::Bandwidth => "bandwidth-vs-interval",
            ChartKind::DirtyOverTime => "dirty-pages-over-time",
            ChartKind::DiskOverTime => "disk-writes-over-time",
            ChartKind::WorkingSet => "dirty-pages-vs-interval",
        }
    }

    /// What the chart shows, for captions and the HTML report.
    pub fn title(self) -> &'static str {
        match self {
            ChartKind::Throughput => "Guest throughput vs checkpoint interval",
            ChartKind::Latency => "Added network latency vs checkpoint interval",
            ChartKind::Bandwidth => "Replication bandwidth vs checkpoint interval",
            ChartKind::DirtyOverTime => "Dirty pages per base epoch over time",
            ChartKind::DiskOverTime => "Disk write rate over time",
            ChartKind::WorkingSet => "Writable working set: dirty pages vs interval",
        }
    }
}

/// A chart written to disk.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct WrittenChart {
    pub title: String,
    pub path: PathBuf,
    pub bytes: u64,
}

/// What one picture shows: one of the six charts, or the by-hour view of a long trace.
#[derive(Clone, Copy)]
enum Picture<'a> {
    Chart(ChartKind, &'a ChartData),
    ByHour(&'a HourlyView),
}

impl Picture<'_> {
    fn stem(&self) -> &'static str {
        match self {
            Picture::Chart(kind, _) => kind.stem(),
            Picture::ByHour(_) => hourly::STEM,
        }
    }
}

/// Draws one picture on any plotters backend.
fn draw<DB: DrawingBackend>(
    picture: Picture,
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    area.fill(&WHITE)?;
    match picture {
        Picture::Chart(kind, data) => match kind {
            ChartKind::Throughput => intervals::throughput(data, area),
            ChartKind::Latency => intervals::latency(data, area),
            ChartKind::Bandwidth => intervals::bandwidth(data, area),
            ChartKind::WorkingSet => intervals::working_set(data, area),
            ChartKind::DirtyOverTime => timeline::dirty(data, area),
            ChartKind::DiskOverTime => timeline::disk(data, area),
        },
        Picture::ByHour(view) => hourly::draw(view, area),
    }?;
    area.present()?;
    Ok(())
}

/// Renders one chart as SVG text, labels as glyph outlines.
pub fn render_svg(kind: ChartKind, data: &ChartData) -> Result<String> {
    render_picture_svg(Picture::Chart(kind, data))
}

/// Renders one chart as PNG bytes.
pub fn render_png(kind: ChartKind, data: &ChartData) -> Result<Vec<u8>> {
    render_picture_png(Picture::Chart(kind, data))
}

fn render_picture_svg(picture: Picture) -> Result<String> {
    font::register();
    let mut text = String::new();
    let mut labels = svg_text::Labels::default();
    {
        let backend = svg_text::PathTextSvg::new(&mut text, SIZE, &mut labels);
        let area = backend.into_drawing_area();
        draw(picture, &area)
            .map_err(|err| anyhow::anyhow!("cannot draw {}: {err}", picture.stem()))?;
    }
    Ok(labels.replace_markers(&text))
}

fn render_picture_png(picture: Picture) -> Result<Vec<u8>> {
    font::register();
    let (w, h) = SIZE;
    let mut pixels = vec![0u8; (w * h * 3) as usize];
    {
        let area = BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area();
        draw(picture, &area)
            .map_err(|err| anyhow::anyhow!("cannot draw {}: {err}", picture.stem()))?;
    }
    let mut png = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().context("cannot encode PNG")?;
        writer
            .write_image_data(&pixels)
            .context("cannot encode PNG")?;
    }
    Ok(png)
}

/// The file each chart of `formats` goes to in `dir`.
pub fn chart_paths(dir: &Path, formats: &[ChartFormat]) -> Vec<(ChartKind, ChartFormat, PathBuf)> {
    ChartKind::ALL
        .iter()
        .flat_map(|&kind| {
            formats.iter().map(move |&format| {
                let path = dir.join(format!("{}.{}", kind.stem(), format.extension()));
                (kind, format, path)
            })
        })
        .collect()
}

/// Checks, before anything is drawn, that the charts may go to `dir`: a directory (or none
/// yet), none of the chart files already there unless `force`, none of them an input.
pub fn check_outputs(
    dir: &Path,
    formats: &[ChartFormat],
    force: bool,
    inputs: &[(&str, &Path)],
) -> Result<()> {
    crate::outfile::check_output_dir(dir)?;
    for (_, _, path) in chart_paths(dir, formats) {
        crate::outfile::check_output(&path, force, inputs)?;
    }
    Ok(())
}

/// Writes every chart of `data` into `dir` in each of `formats`, each file whole or not at
/// all; an existing chart is replaced only with `force`.
pub fn write_all(
    data: &ChartData,
    dir: &Path,
    formats: &[ChartFormat],
    force: bool,
) -> Result<Vec<WrittenChart>> {
    crate::outfile::check_output_dir(dir)?;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the chart directory {}", dir.display()))?;
    let mut written = Vec::new();
    for (kind, format, path) in chart_paths(dir, formats) {
        let bytes = match format {
            ChartFormat::Svg => render_svg(kind, data)?.into_bytes(),
            ChartFormat::Png => render_png(kind, data)?,
        };
        crate::outfile::write_atomic(&path, &bytes, force)?;
        written.push(WrittenChart {
            title: kind.title().to_string(),
            path,
            bytes: bytes.len() as u64,
        });
    }
    Ok(written)
}
