//! The parent side: encode the clips, start the compositor, run every case
//! in a child process (`zc-bench --run-case`), show a live table, and
//! assemble the report.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::weston::{HeadlessWeston, Renderer, WestonConfig};

use super::case::Sample;
use super::clips;
use super::environment::{self, Compositor, Environment};
use super::matrix::{CaseSpec, Defaults, PathKind, Size, Source};
use super::report::{CaseResult, CaseStatus, Report, SCHEMA, Settings, Summary, human_bytes};
use super::timeline::Timeline;
use super::{BenchError, io_error};

/// Weston's shell for the benchmark. Weston 14's kiosk shell on a seatless
/// headless output keeps a closed window as the output's active one and
/// touches that freed memory when the next window maps (a segfault in
/// kiosk-shell.so), and the benchmark maps one window per case. So the
/// desktop shell it is, for every path alike; windows keep the video's size.
const SHELL: &str = "desktop";

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

/// What a child writes into its result file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChildOutcome {
    Sample(Box<Sample>),
    Error(String),
}

/// The compositor and its frame counter, restarted if it dies.
struct RunningCompositor {
    weston: HeadlessWeston,
    timeline: Result<Timeline, String>,
}

fn start_compositor(options: &Options) -> Result<RunningCompositor, BenchError> {
    let config = WestonConfig {
        renderer: Renderer::Gl,
        width: options.output_size.0,
        height: options.output_size.1,
        shell: SHELL,
        ..WestonConfig::default()
    };
    let weston = HeadlessWeston::start(&config)?;
    let timeline = Timeline::start(&weston, &weston.runtime_dir().join("timeline.jsonl"))
        .map_err(|e| e.to_string());
    Ok(RunningCompositor { weston, timeline })
}

/// Elements a path or source needs, with the package that has them.
fn needed_elements(source: Source, path: PathKind) -> Vec<(&'static str, &'static str)> {
    let mut needed = vec![("videotestsrc", "gstreamer1.0-plugins-base")];
    match source {
        Source::Raw => {}
        Source::H264 => needed.extend([
            ("qtdemux", "gstreamer1.0-plugins-good"),
            ("h264parse", "gstreamer1.0-plugins-bad"),
            ("avdec_h264", "gstreamer1.0-libav"),
        ]),
        Source::Vp9 => needed.extend([
            ("matroskademux", "gstreamer1.0-plugins-good"),
            ("avdec_vp9", "gstreamer1.0-libav"),
        ]),
    }
    match path {
        PathKind::Waylandsink => needed.push(("waylandsink", "gstreamer1.0-plugins-bad")),
        PathKind::Videoconvert => needed.extend([
            ("videoconvert", "gstreamer1.0-plugins-base"),
            ("waylandsink", "gstreamer1.0-plugins-bad"),
        ]),
        PathKind::Copy => needed.push(("identity", "gstreamer1.0 (core)")),
        _ => {}
    }
    needed
}

fn missing_element(source: Source, path: PathKind) -> Option<String> {
    needed_elements(source, path)
        .into_iter()
        .find(|(name, _)| gst::ElementFactory::find(name).is_none())
        .map(|(name, package)| {
            format!("GStreamer element {name} is not installed (package {package})")
        })
}

/// One line of the live table.
fn row(case: &CaseResult, sample: &Sample) -> String {
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
fn say(bar: &ProgressBar, line: &str) {
    if bar.is_hidden() {
        println!("{line}");
    } else {
        bar.println(line);
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

    // Clips first: encoding is not part of any measurement.
    let clips = encode_clips(options, &bar);

    let needs_compositor = options.paths.iter().any(|p| p.uses_compositor());
    let mut compositor = None;
    let mut compositor_error = None;
    if needs_compositor {
        bar.set_message("starting Weston");
        match start_compositor(options) {
            Ok(c) => compositor = Some(c),
            Err(e) => compositor_error = Some(e.to_string()),
        }
    }
    if let Some(c) = &compositor {
        environment.compositor = Some(Compositor {
            name: "weston".to_owned(),
            version: environment::weston_version(),
            backend: "headless".to_owned(),
            renderer: "gl".to_owned(),
            gl_renderer: environment::gl_renderer_from_log(&c.weston.log()),
            shell: SHELL.to_owned(),
            output_width: options.output_size.0,
            output_height: options.output_size.1,
            frames_drawn_from: match &c.timeline {
                Ok(_) => {
                    "Weston's timeline (weston-debug timeline: core_flush_damage points)".to_owned()
                }
                Err(e) => format!("nowhere ({e}): compositor CPU is per frame made instead"),
            },
        });
    }

    // Every case, with what keeps it from running decided up front.
    let mut cases = Vec::new();
    for &source in &options.sources {
        for &size in &options.sizes {
            for &path in &options.paths {
                let frames = options.frames_for_path(size, path);
                let clip = clips
                    .get(&(source, size, frames))
                    .cloned()
                    .unwrap_or(Ok(None));
                let display = compositor
                    .as_ref()
                    .filter(|_| path.uses_compositor())
                    .map(|c| (c.weston.socket_path(), c.weston.pid()));
                let spec = CaseSpec::new(
                    source,
                    size,
                    path,
                    frames,
                    options.warmup,
                    clip.as_ref().ok().and_then(|c| c.as_deref()),
                    display
                        .as_ref()
                        .map(|(socket, pid)| (socket.as_path(), *pid)),
                );
                let reason = if let Err(e) = &clip {
                    Some(e.clone())
                } else if options.excluded.contains(&(source, path)) {
                    Some(options.excluded_because.clone())
                } else if path.uses_compositor()
                    && let Some(e) = &compositor_error
                {
                    Some(format!("no compositor: {e}"))
                } else {
                    missing_element(source, path)
                };
                let (width, height) = size.dimensions();
                let mut spec = spec;
                spec.stall_timeout_s = options.stall_timeout.as_secs();
                let pipeline = spec.pipeline.clone();
                cases.push((
                    spec,
                    CaseResult {
                        source,
                        size,
                        width,
                        height,
                        path,
                        frames,
                        pipeline,
                        status: if reason.is_some() {
                            CaseStatus::NotRun
                        } else {
                            CaseStatus::Ran
                        },
                        reason,
                        known_copies: path.known_copies(source, environment.dma_buf),
                        samples: Vec::new(),
                        summary: None,
                    },
                ));
            }
        }
    }
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

    // Paths interleave within a repetition, so slow drift (thermal, other
    // load on the machine) spreads over every path alike.
    let groups: Vec<(Source, Size)> = options
        .sources
        .iter()
        .flat_map(|&source| options.sizes.iter().map(move |&size| (source, size)))
        .collect();
    for (source, size) in groups {
        let group: Vec<usize> = (0..cases.len())
            .filter(|&i| cases[i].1.source == source && cases[i].1.size == size)
            .collect();
        for repetition in 0..options.repetitions {
            for &index in &group {
                if cases[index].1.status != CaseStatus::Ran {
                    continue;
                }
                let (spec, case) = &mut cases[index];
                bar.set_message(format!("{source} {size} {} #{}", case.path, repetition + 1));
                let log = logs.join(format!(
                    "{source}-{size}-{}-{}.log",
                    case.path.name(),
                    repetition + 1
                ));
                case.pipeline = spec.pipeline.clone();
                let outcome = run_child(&exe, spec, &log, options.case_timeout);
                let compositor_died = compositor.as_mut().is_some_and(|c| !c.weston.is_running());
                let outcome = match (&compositor, compositor_died) {
                    (Some(c), true) if case.path.uses_compositor() => Err(format!(
                        "the compositor died during this case; the end of its log: {}",
                        c.weston
                            .log()
                            .lines()
                            .rev()
                            .take(3)
                            .collect::<Vec<_>>()
                            .join(" / ")
                    )),
                    _ => outcome,
                };
                match outcome {
                    Ok(mut sample) => {
                        sample.repetition = repetition;
                        if case.path.uses_compositor()
                            && let Some(RunningCompositor {
                                timeline: Ok(timeline),
                                ..
                            }) = compositor.as_mut()
                        {
                            match timeline
                                .frames_drawn(sample.window_start_ns, sample.window_end_ns)
                            {
                                Ok(drawn) => {
                                    sample.frames_composited = Some(drawn);
                                    sample.compositor_cpu_us_per_composited_frame = sample
                                        .compositor_cpu_us
                                        .filter(|_| drawn > 0)
                                        .map(|us| us / drawn as f64);
                                }
                                Err(e) => say(&bar, &format!("(frames drawn unknown: {e})")),
                            }
                        }
                        say(&bar, &row(case, &sample));
                        case.samples.push(sample);
                    }
                    Err(reason) => {
                        say(
                            &bar,
                            &format!(
                                "{:<5} {:<6} {:<13} #{:<2} failed: {reason}",
                                source.name(),
                                size.name(),
                                case.path.name(),
                                repetition + 1
                            ),
                        );
                        case.status = CaseStatus::Failed;
                        case.reason = Some(reason);
                        // The remaining repetitions would fail alike.
                        bar.inc(u64::from(options.repetitions - repetition - 1));
                    }
                }
                bar.inc(1);
                if compositor_died {
                    say(&bar, "the compositor died: starting a new one");
                    compositor = None;
                    match start_compositor(options) {
                        Ok(c) => {
                            for (spec, _) in cases.iter_mut() {
                                if spec.path.uses_compositor() {
                                    spec.retarget(&c.weston.socket_path(), c.weston.pid());
                                }
                            }
                            compositor = Some(c);
                        }
                        Err(e) => {
                            for (_, case) in cases.iter_mut() {
                                if case.path.uses_compositor() && case.status == CaseStatus::Ran {
                                    case.status = CaseStatus::Failed;
                                    case.reason = Some(format!("no compositor after a crash: {e}"));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
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
        },
        cases: results,
        targets: Vec::new(),
    };
    report.evaluate_targets();
    write_outputs(&report, &options.out_dir)?;
    Ok(report)
}

/// Clips for every decoding source, size and frame count the matrix uses.
pub fn encode_clips(
    options: &Options,
    bar: &ProgressBar,
) -> BTreeMap<(Source, Size, u32), Result<Option<PathBuf>, String>> {
    let mut clips = BTreeMap::new();
    for &source in options.sources.iter().filter(|s| s.needs_clip()) {
        for &size in &options.sizes {
            for &path in &options.paths {
                if options.excluded.contains(&(source, path)) {
                    continue;
                }
                let frames = options.frames_for_path(size, path);
                if clips.contains_key(&(source, size, frames)) {
                    continue;
                }
                bar.set_message(format!(
                    "encoding the {source} {size} clip ({frames} frames)"
                ));
                let clip = clips::ensure_clip(&options.clips_dir, source, size, frames)
                    .map_err(|e| e.to_string());
                clips.insert((source, size, frames), clip);
            }
        }
    }
    clips
}

/// Run one case in a child process; its sample, or why it failed.
fn run_child(exe: &Path, spec: &CaseSpec, log: &Path, timeout: Duration) -> Result<Sample, String> {
    let result_file = log.with_extension("json");
    let _ = std::fs::remove_file(&result_file);
    let spec_json = serde_json::to_string(spec).map_err(|e| e.to_string())?;
    let stderr =
        std::fs::File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
    let mut command = Command::new(exe);
    if std::env::var_os("GST_REGISTRY").is_some_and(|r| Path::new(&r).is_file()) {
        // This process brought the registry up to date; checking every
        // plugin file again in each case costs seconds under emulation.
        command.env("GST_REGISTRY_UPDATE", "no");
    }
    let mut child = command
        .arg("--run-case")
        .arg(&spec_json)
        .arg("--result")
        .arg(&result_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", exe.display()))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(with_log_tail(
                    format!("no EOS within {} s (--case-timeout)", timeout.as_secs()),
                    log,
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("waiting for the case: {e}")),
        }
    };
    let process_wall_s = started.elapsed().as_secs_f64();
    let outcome = std::fs::read_to_string(&result_file)
        .ok()
        .and_then(|text| serde_json::from_str::<ChildOutcome>(&text).ok());
    match outcome {
        Some(ChildOutcome::Sample(sample)) if status.success() => Ok(Sample {
            process_wall_s,
            ..*sample
        }),
        Some(ChildOutcome::Error(e)) => Err(with_log_tail(e, log)),
        _ => {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(3).collect();
            Err(format!(
                "the case process ended with {status} and no result; its last words: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
            ))
        }
    }
}

/// `reason`, and what the case wrote to stderr (the last lines), if anything:
/// libwayland prints protocol errors there.
fn with_log_tail(reason: String, log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("zc-bench case:"))
        .rev()
        .take(2)
        .collect();
    if tail.is_empty() {
        reason
    } else {
        format!(
            "{reason}; its stderr: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        )
    }
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
