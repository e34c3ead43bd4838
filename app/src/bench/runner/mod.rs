//! The parent side: encode the clips, start the compositor, run every case
//! in a child process (`zc-bench --run-case`), show a live table, and
//! assemble the report. This file holds the options and the run from start
//! to report; [`plan`] decides what runs, [`repetitions`] runs it through
//! [`child`] processes, [`compositor`] is the Weston they share and
//! [`progress`] what the run shows while it goes.

mod child;
mod compositor;
mod plan;
mod progress;
mod repetitions;

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::environment::Environment;
use super::matrix::{Defaults, PathKind, Size, Source};
use super::report::{CaseResult, CaseStatus, Report, SCHEMA, Settings, Summary};
use super::{BenchError, io_error};

pub use child::ChildOutcome;
pub use compositor::SHELL;
pub use plan::encode_clips;

use progress::say;

/// What to run and where to put the results.
#[derive(Clone, Debug)]
pub struct Options {
    pub quick: bool,
    /// Frame counts and the matrix when not given (native or VM sized).
    pub defaults: Defaults,
    pub repetitions: u32,
    pub warmup: u32,
    /// Frames per case (warm-up included); `None`: by size.
    pub frames: Option<u32>,
    /// Source and path pairs not to run, with the reason the report gives.
    pub excluded: Vec<(Source, PathKind)>,
    pub excluded_because: String,
    pub sources: Vec<Source>,
    pub sizes: Vec<Size>,
    pub paths: Vec<PathKind>,
    pub out_dir: PathBuf,
    pub clips_dir: PathBuf,
    pub output_size: (u32, u32),
    pub case_timeout: Duration,
    /// How long a case may go without a frame reaching the sink.
    pub stall_timeout: Duration,
    /// Draw a progress bar (on a terminal).
    pub progress: bool,
    /// The command line, for the report.
    pub command: String,
    /// The raw source live at this rate (frames per second as numerator and
    /// denominator), so that a slow compositor draws every frame.
    pub pace: Option<(u32, u32)>,
}

impl Options {
    /// Frames per case of `size` (warm-up included).
    pub fn frames_for(&self, size: Size) -> u32 {
        self.frames.unwrap_or_else(|| self.defaults.frames(size))
    }

    /// Frames for one path: fewer for the GPU path in the VM.
    pub fn frames_for_path(&self, size: Size, path: PathKind) -> u32 {
        self.defaults
            .frames_for_path(path, self.frames_for(size), self.warmup)
    }
}

/// Run the matrix and write report.json, report.md and the SVG charts into
/// `options.out_dir`.
pub fn run(options: &Options) -> Result<Report, BenchError> {
    if options.repetitions == 0 {
        return Err(BenchError::Usage(
            "--repetitions must be at least 1".to_owned(),
        ));
    }
    for size in &options.sizes {
        let frames = options.frames_for(*size);
        if frames <= options.warmup {
            return Err(BenchError::Usage(format!(
                "{frames} frames per {size} case leave nothing after {} warm-up frames; give --frames more than --warmup",
                options.warmup
            )));
        }
    }
    gst::init().map_err(|e| BenchError::Gst(format!("GStreamer did not initialise: {e}")))?;
    gstzerocopy::plugin_register_static()
        .map_err(|e| BenchError::Gst(format!("registering the zerocopy plugin: {e}")))?;
    std::fs::create_dir_all(&options.out_dir)
        .map_err(io_error(format!("creating {}", options.out_dir.display())))?;
    let logs = options.out_dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(io_error(format!("creating {}", logs.display())))?;
    let exe = std::env::current_exe().map_err(io_error("finding zc-bench's own executable"))?;
    let mut environment = Environment::capture();
    let bar = progress::bar(options);

    // Clips first: encoding is not part of any measurement.
    let clips = encode_clips(options, &bar);

    let needs_compositor = options.paths.iter().any(|p| p.uses_compositor());
    let mut compositor = None;
    let mut compositor_error = None;
    if needs_compositor {
        bar.set_message("starting Weston");
        match compositor::start_compositor(options) {
            Ok(c) => compositor = Some(c),
            Err(e) => compositor_error = Some(e.to_string()),
        }
    }
    if let Some(c) = &compositor {
        environment.compositor = Some(c.describe(options));
    }

    let mut cases = plan::cases(
        options,
        &clips,
        compositor.as_ref(),
        compositor_error.as_deref(),
        environment.dma_buf,
    );
    let runnable = cases
        .iter()
        .filter(|(_, c)| c.status == CaseStatus::Ran)
        .count();
    bar.set_length((runnable as u64).saturating_mul(u64::from(options.repetitions)));
    bar.set_message("");
    say(
        &bar,
        &format!(
            "zc-bench {}: {} cases x {} repetitions; Weston {}x{}; out: {}",
            environment.where_.name(),
            runnable,
            options.repetitions,
            options.output_size.0,
            options.output_size.1,
            options.out_dir.display()
        ),
    );

    repetitions::run_all(options, &exe, &logs, &bar, &mut cases, &mut compositor);
    bar.finish_and_clear();
    drop(compositor);

    let mut results: Vec<CaseResult> = cases.into_iter().map(|(_, c)| c).collect();
    for case in &mut results {
        case.summary = Summary::of(&case.samples);
        if case.status == CaseStatus::Ran && case.samples.is_empty() {
            case.status = CaseStatus::Failed;
            case.reason.get_or_insert_with(|| "no sample".to_owned());
        }
    }
    let mut report = Report {
        schema: SCHEMA.to_owned(),
        environment,
        settings: Settings {
            quick: options.quick,
            repetitions: options.repetitions,
            profile: if options.defaults.is_vm() {
                "vm"
            } else {
                "native"
            }
            .to_owned(),
            warmup_frames: options.warmup,
            frames: options
                .sizes
                .iter()
                .map(|s| (s.name().to_owned(), options.frames_for(*s)))
                .collect(),
            sources: options.sources.clone(),
            sizes: options.sizes.clone(),
            paths: options.paths.clone(),
            command: options.command.clone(),
            pace: options.pace.map(|(num, den)| format!("{num}/{den}")),
        },
        cases: results,
        targets: Vec::new(),
    };
    report.evaluate_targets();
    write_outputs(&report, &options.out_dir)?;
    Ok(report)
}

/// report.json, report.md and the charts (cpu-per-frame.svg,
/// pipeline-cpu-per-frame.svg, fps.svg).
pub fn write_outputs(report: &Report, dir: &Path) -> Result<(), BenchError> {
    let json = serde_json::to_string_pretty(report).map_err(|source| BenchError::Json {
        what: "writing the report".to_owned(),
        source,
    })?;
    let files = [
        ("report.json", json + "\n"),
        ("report.md", super::markdown::render(report)),
        ("cpu-per-frame.svg", super::svg::cpu_chart(report)),
        (
            "pipeline-cpu-per-frame.svg",
            super::svg::pipeline_cpu_chart(report),
        ),
        ("fps.svg", super::svg::fps_chart(report)),
    ];
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::write(&path, content).map_err(io_error(format!("writing {}", path.display())))?;
    }
    Ok(())
}
