//! What the run shows while it goes: a progress bar on a terminal, and a
//! line of the live table for every repetition.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use crate::bench::case::Sample;
use crate::bench::report::{CaseResult, human_bytes};

use super::Options;

/// A progress bar on a terminal when asked for, else a hidden one (lines
/// are then printed plainly).
pub(super) fn bar(options: &Options) -> ProgressBar {
    let bar = if options.progress && std::io::stdout().is_terminal() {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30.cyan/blue} {pos}/{len} cases {msg} [{elapsed}, ~{eta} left]",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// One line of the live table.
pub(super) fn row(case: &CaseResult, sample: &Sample) -> String {
    let compositor = match (
        sample.compositor_cpu_us_per_composited_frame,
        sample.frames_composited,
        sample.compositor_cpu_us,
    ) {
        (Some(per_drawn), Some(drawn), _) => format!("{per_drawn:.0} us/drawn ({drawn} drawn)"),
        (None, Some(0), Some(total)) => format!("{:.0} ms, 0 drawn", total / 1000.0),
        (_, _, Some(total)) => format!("{:.0} ms", total / 1000.0),
        _ => "–".to_owned(),
    };
    format!(
        "{:<5} {:<6} {:<13} #{:<2} {:>8.1} fps {:>9.0} us/frame  compositor {:<24} copied {:>10}/frame  {}",
        case.source.name(),
        case.size.name(),
        case.path.name(),
        sample.repetition + 1,
        sample.fps,
        sample.pipeline_cpu_us_per_frame,
        compositor,
        sample
            .bytes_copied_per_frame
            .or(sample.bytes_copied_inferred_per_frame)
            .map_or("–".to_owned(), human_bytes),
        sample.sink_path.as_deref().unwrap_or("")
    )
}

/// Print above the progress bar, or plainly without one.
pub(super) fn say(bar: &ProgressBar, line: &str) {
    if bar.is_hidden() {
        println!("{line}");
    } else {
        bar.println(line);
    }
}
