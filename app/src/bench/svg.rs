//! SVG charts, written by hand: a grid of panels (rows: sources, columns:
//! sizes), each with one bar per path on its own scale, the median as the
//! bar and [min, max] as a whisker.

use std::fmt::Write;

use super::matrix::PathKind;
use super::report::{Report, Stat, Summary};

const PANEL_W: f64 = 300.0;
const PANEL_H: f64 = 210.0;
const MARGIN_LEFT: f64 = 70.0;
const TOP: f64 = 70.0;
const BAR_AREA_TOP: f64 = 28.0;
const BAR_AREA_BOTTOM: f64 = 40.0;

fn color(path: PathKind) -> &'static str {
    match path {
        PathKind::Fakesink => "#9e9e9e",
        PathKind::ZeroCopy => "#1b9e77",
        PathKind::Copy => "#d95f02",
        PathKind::Waylandsink => "#7570b3",
        PathKind::Videoconvert => "#e7298a",
        PathKind::Gpu => "#66a61e",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A bar: the stacked parts' medians (drawn bottom up, the first solid, the
/// rest lighter) and the whisker of the whole.
struct Bar {
    path: PathKind,
    parts: Vec<f64>,
    whisker: Stat,
}

fn chart(
    report: &Report,
    title: &str,
    unit: &str,
    part_names: &[&str],
    bar: impl Fn(&Summary) -> Option<(Vec<f64>, Stat)>,
) -> String {
    let sources = &report.settings.sources;
    let sizes = &report.settings.sizes;
    let paths = &report.settings.paths;
    // Wide enough for the legend even with one column.
    let width = (MARGIN_LEFT + PANEL_W * sizes.len() as f64 + 20.0).max(760.0);
    let height = TOP + PANEL_H * sources.len() as f64 + 20.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="100%" height="100%" fill="white"/><text x="10" y="20" font-size="15" font-weight="bold">{} ({}, {})</text>"#,
        escape(title),
        report.environment.where_.name(),
        escape(unit)
    );
    // Legend: one swatch per path, then the stacked parts' shading.
    let mut x = 10.0;
    for path in paths {
        let _ = writeln!(
            svg,
            r#"<rect x="{x:.0}" y="32" width="12" height="12" fill="{}"/><text x="{:.0}" y="42">{}</text>"#,
            color(*path),
            x + 16.0,
            path.name()
        );
        x += 20.0 + 7.0 * path.name().len() as f64 + 14.0;
    }
    if part_names.len() > 1 {
        let _ = writeln!(
            svg,
            r##"<text x="10" y="60">solid: {}; light: {}; whisker: [min, max] of the total over the repetitions</text>"##,
            escape(part_names[0]),
            escape(&part_names[1..].join(", "))
        );
    } else {
        let _ = writeln!(
            svg,
            r#"<text x="10" y="60">bar: median; whisker: [min, max] over the repetitions</text>"#
        );
    }

    for (row, source) in sources.iter().enumerate() {
        let y0 = TOP + PANEL_H * row as f64;
        let _ = writeln!(
            svg,
            r#"<text x="10" y="{:.0}" font-weight="bold">{}</text>"#,
            y0 + PANEL_H / 2.0,
            source.name()
        );
        for (col, size) in sizes.iter().enumerate() {
            let x0 = MARGIN_LEFT + PANEL_W * col as f64;
            let bars: Vec<Bar> = paths
                .iter()
                .filter_map(|path| {
                    let summary = report.summary(*source, *size, *path)?;
                    let (parts, whisker) = bar(summary)?;
                    Some(Bar {
                        path: *path,
                        parts,
                        whisker,
                    })
                })
                .collect();
            panel(&mut svg, x0, y0, &format!("{source} {size}"), &bars);
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn panel(svg: &mut String, x0: f64, y0: f64, title: &str, bars: &[Bar]) {
    let plot_top = y0 + BAR_AREA_TOP;
    let plot_bottom = y0 + PANEL_H - BAR_AREA_BOTTOM;
    let plot_h = plot_bottom - plot_top;
    let _ = writeln!(
        svg,
        r##"<rect x="{x0:.0}" y="{y0:.0}" width="{:.0}" height="{:.0}" fill="none" stroke="#ddd"/><text x="{:.0}" y="{:.0}" font-weight="bold">{}</text>"##,
        PANEL_W - 8.0,
        PANEL_H - 8.0,
        x0 + 6.0,
        y0 + 16.0,
        escape(title)
    );
    if bars.is_empty() {
        let _ = writeln!(
            svg,
            r##"<text x="{:.0}" y="{:.0}" fill="#888">nothing ran</text>"##,
            x0 + 10.0,
            y0 + PANEL_H / 2.0
        );
        return;
    }
    let top = bars
        .iter()
        .map(|b| b.whisker.max.max(b.parts.iter().sum()))
        .fold(0.0, f64::max)
        .max(1e-9);
    let scale = plot_h / (top * 1.15);
    let slot = (PANEL_W - 20.0) / bars.len() as f64;
    let bar_w = (slot * 0.7).min(36.0);
    let _ = writeln!(
        svg,
        r##"<line x1="{:.0}" y1="{plot_bottom:.0}" x2="{:.0}" y2="{plot_bottom:.0}" stroke="#444"/>"##,
        x0 + 4.0,
        x0 + PANEL_W - 12.0
    );
    for (i, b) in bars.iter().enumerate() {
        let cx = x0 + 10.0 + slot * (i as f64 + 0.5);
        let mut y = plot_bottom;
        for (part, value) in b.parts.iter().enumerate() {
            let h = (value.max(0.0) * scale).max(0.5);
            y -= h;
            let _ = writeln!(
                svg,
                r#"<rect x="{:.1}" y="{y:.1}" width="{bar_w:.1}" height="{h:.1}" fill="{}" fill-opacity="{}"><title>{}: {value:.1}</title></rect>"#,
                cx - bar_w / 2.0,
                color(b.path),
                if part == 0 { "1" } else { "0.45" },
                b.path.name()
            );
        }
        let (wy1, wy2) = (
            plot_bottom - b.whisker.min * scale,
            plot_bottom - b.whisker.max * scale,
        );
        let _ = writeln!(
            svg,
            r##"<line x1="{cx:.1}" y1="{wy1:.1}" x2="{cx:.1}" y2="{wy2:.1}" stroke="#222"/><line x1="{:.1}" y1="{wy2:.1}" x2="{:.1}" y2="{wy2:.1}" stroke="#222"/>"##,
            cx - 4.0,
            cx + 4.0
        );
        let total: f64 = b.parts.iter().sum();
        let _ = writeln!(
            svg,
            r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" font-size="10">{}</text>"#,
            wy2.min(plot_bottom - total * scale) - 4.0,
            if total >= 100.0 {
                format!("{total:.0}")
            } else {
                format!("{total:.1}")
            }
        );
        let _ = writeln!(
            svg,
            r#"<text x="{cx:.1}" y="{:.1}" text-anchor="end" font-size="9" transform="rotate(-35 {cx:.1} {:.1})">{}</text>"#,
            plot_bottom + 12.0,
            plot_bottom + 12.0,
            b.path.name()
        );
    }
}

/// Pipeline (solid) and compositor (light) CPU per frame.
pub fn cpu_chart(report: &Report) -> String {
    chart(
        report,
        "CPU time per frame",
        "us per frame",
        &["pipeline", "compositor per frame it drew"],
        |s| {
            let compositor = s
                .compositor_cpu_us_per_composited_frame
                .or(s.compositor_cpu_us_per_frame)
                .map_or(0.0, |c| c.median);
            Some((
                vec![s.pipeline_cpu_us_per_frame.median, compositor],
                s.total_cpu_us_per_frame,
            ))
        },
    )
}

/// Pipeline CPU per frame alone: the compositor's share dwarfs it in
/// [`cpu_chart`], and this is where the paths differ most.
pub fn pipeline_cpu_chart(report: &Report) -> String {
    chart(
        report,
        "Pipeline CPU time per frame",
        "us per frame",
        &["pipeline"],
        |s| {
            Some((
                vec![s.pipeline_cpu_us_per_frame.median],
                s.pipeline_cpu_us_per_frame,
            ))
        },
    )
}

/// Frames per second with sync=false.
pub fn fps_chart(report: &Report) -> String {
    chart(
        report,
        "Frames per second (sync=false)",
        "fps",
        &["fps"],
        |s| Some((vec![s.fps.median], s.fps)),
    )
}
