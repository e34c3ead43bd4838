//! The valgrind runs: every case's pipeline played to `low` and to `high`
//! frames by `zc-bench --play` under `valgrind --tool=callgrind`, against
//! one headless Weston, and the report assembled from the two counts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gst::prelude::*;

use super::callgrind::{self, Profile};
use super::variant::SinkVariant;
use super::{
    CaseKey, CountRun, FunctionCosts, InstructionCase, InstructionReport, SCHEMA, Settings,
    markdown,
};
use crate::bench::environment::{self, Environment};
use crate::bench::matrix::{CaseSpec, PathKind, Size, Source};
use crate::bench::report::CaseStatus;
use crate::bench::{BenchError, io_error};
use crate::weston::{HeadlessWeston, Renderer, WestonConfig};

/// What to count.
#[derive(Clone, Debug)]
pub struct Options {
    pub sizes: Vec<Size>,
    pub paths: Vec<PathKind>,
    pub frames_low: u32,
    pub frames_high: u32,
    /// The live source's frame rate, (numerator, denominator); `None`: by size.
    pub fps: Option<(u32, u32)>,
    pub repetitions: u32,
    /// With the zero-copy path, also count its variants (the sink alone,
    /// with and without presentation feedback).
    pub sink_variants: bool,
    pub out_dir: PathBuf,
    pub output_size: (u32, u32),
    /// The valgrind executable.
    pub valgrind: PathBuf,
    /// Longest one valgrind run may take.
    pub timeout: Duration,
    pub command: String,
}

/// The paths counted when none are named: the floor, zc's two, stock's sink.
pub const DEFAULT_PATHS: [PathKind; 4] = [
    PathKind::Fakesink,
    PathKind::ZeroCopy,
    PathKind::Copy,
    PathKind::Waylandsink,
];

/// The live source's rate by size: slow enough that the process under
/// callgrind (40-50x slower than natively) finishes each frame, and the
/// compositor draws it, before the next one is due.
pub fn paced_fps(size: Size) -> (u32, u32) {
    match size {
        Size::P720 => (4, 1),
        Size::P1080 => (2, 1),
        Size::K4 => (1, 2),
        Size::K8 => (1, 8),
    }
}

/// `zc-bench --play PIPELINE`: play a pipeline to EOS, nothing else (no
/// probes, no counters: what callgrind counts is the pipeline's own work).
pub fn play(pipeline: &str) -> Result<(), BenchError> {
    gst::init().map_err(|e| BenchError::Gst(format!("GStreamer did not initialise: {e}")))?;
    gstzerocopy::plugin_register_static()
        .map_err(|e| BenchError::Gst(format!("registering the zerocopy plugin: {e}")))?;
    let element = gst::parse::launch(pipeline)
        .map_err(|e| BenchError::Gst(format!("cannot build `{pipeline}`: {e}")))?;
    let bus = element
        .bus()
        .ok_or_else(|| BenchError::Gst("the pipeline has no bus".to_owned()))?;
    let started = element.set_state(gst::State::Playing);
    // A pipeline that refused to start has posted its error already.
    let message = if started.is_ok() {
        bus.timed_pop_filtered(
            gst::ClockTime::NONE,
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
    } else {
        bus.pop_filtered(&[gst::MessageType::Error])
    };
    let _ = element.set_state(gst::State::Null);
    match message.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) if started.is_ok() => Ok(()),
        Some(gst::MessageView::Error(e)) => Err(BenchError::Pipeline(format!(
            "{}: {}",
            e.src().map(|s| s.name().to_string()).unwrap_or_default(),
            e.error()
        ))),
        _ if started.is_err() => Err(BenchError::Pipeline(
            "the pipeline refused to start".to_owned(),
        )),
        _ => Err(BenchError::Pipeline("the bus closed before EOS".to_owned())),
    }
}

/// Count every case and write instructions.json and instructions.md into
/// `options.out_dir`.
pub fn run(options: &Options) -> Result<InstructionReport, BenchError> {
    if options.frames_high <= options.frames_low || options.frames_low == 0 {
        return Err(BenchError::Usage(format!(
            "--instruction-frames {},{}: give two counts, the second larger, e.g. 30,90",
            options.frames_low, options.frames_high
        )));
    }
    let tool = valgrind_version(&options.valgrind)?;
    std::fs::create_dir_all(&options.out_dir)
        .map_err(io_error(format!("creating {}", options.out_dir.display())))?;
    let logs = options.out_dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(io_error(format!("creating {}", logs.display())))?;
    let exe = std::env::current_exe().map_err(io_error("finding zc-bench's own executable"))?;
    gst::init().map_err(|e| BenchError::Gst(format!("GStreamer did not initialise: {e}")))?;
    let mut environment = Environment::capture();
    let weston = HeadlessWeston::start(&WestonConfig {
        renderer: Renderer::Gl,
        width: options.output_size.0,
        height: options.output_size.1,
        shell: crate::bench::runner::SHELL,
        ..WestonConfig::default()
    })?;
    environment.compositor = Some(environment::Compositor {
        name: "weston".to_owned(),
        version: environment::weston_version(),
        backend: "headless".to_owned(),
        renderer: "gl".to_owned(),
        gl_renderer: environment::gl_renderer_from_log(&weston.log()),
        shell: crate::bench::runner::SHELL.to_owned(),
        output_width: options.output_size.0,
        output_height: options.output_size.1,
        frames_drawn_from: "not counted (instruction mode)".to_owned(),
    });
    let socket = weston.socket_path();
    // A live source at a rate the process under valgrind keeps up with:
    // both sinks replace (or drop) a frame that comes before the compositor
    // asked for the next one, so without pacing how many frames reach the
    // compositor, and what that costs, depends on timing.
    let spec = |size, path, frames| {
        CaseSpec::new(
            Source::Raw,
            size,
            path,
            frames,
            0,
            None,
            Some((&socket, weston.pid())),
        )
        .paced(Some(options.fps.unwrap_or_else(|| paced_fps(size))))
        .pipeline
    };

    // The paths asked for, and after the zero-copy path its variants.
    let mut planned: Vec<(PathKind, Option<SinkVariant>)> = Vec::new();
    for &path in &options.paths {
        planned.push((path, None));
        if path == PathKind::ZeroCopy && options.sink_variants {
            planned.extend(SinkVariant::ALL.map(|v| (path, Some(v))));
        }
    }
    let mut cases = Vec::new();
    let mut functions: HashMap<CaseKey, FunctionCosts> = HashMap::new();
    for &size in &options.sizes {
        for &(path, variant) in &planned {
            // A variant's pipeline is the zero-copy one changed; where that
            // has nothing to change, the case fails saying so (count_case).
            let pipeline = |frames| {
                let pipeline = spec(size, path, frames);
                match variant {
                    Some(variant) => variant.pipeline(&pipeline),
                    None => Some(pipeline),
                }
            };
            let name = match variant {
                Some(variant) => format!("{size}-{}", variant.slug()),
                None => format!("{size}-{path}"),
            };
            let (case, costs) =
                count_case(options, &exe, &logs, &name, size, path, variant, pipeline);
            if let Some(costs) = costs {
                functions.insert((size, path, variant), costs);
            }
            cases.push(case);
        }
    }
    drop(weston);

    let mut report = InstructionReport {
        schema: SCHEMA.to_owned(),
        environment,
        settings: Settings {
            frames_low: options.frames_low,
            frames_high: options.frames_high,
            sizes: options.sizes.clone(),
            paths: options.paths.clone(),
            repetitions: options.repetitions,
            tool,
            command: options.command.clone(),
        },
        cases,
        targets: Vec::new(),
    };
    report.subtract_floor(&functions);
    report.evaluate_targets();
    write_outputs(&report, &options.out_dir)?;
    Ok(report)
}

/// One case: a registry warm-up without valgrind, then each repetition
/// counted at both frame counts; the first repetition's per-frame costs by
/// function.
#[allow(clippy::too_many_arguments)]
fn count_case(
    options: &Options,
    exe: &Path,
    logs: &Path,
    name: &str,
    size: Size,
    path: PathKind,
    variant: Option<SinkVariant>,
    pipeline: impl Fn(u32) -> Option<String>,
) -> (InstructionCase, Option<FunctionCosts>) {
    let mut case = InstructionCase {
        size,
        path,
        variant,
        pipeline: pipeline(options.frames_high).unwrap_or_default(),
        status: CaseStatus::Ran,
        reason: None,
        runs: Vec::new(),
        per_frame: None,
        added_over_floor: None,
        groups: Vec::new(),
        top_functions: Vec::new(),
    };
    if case.pipeline.is_empty() {
        case.status = CaseStatus::Failed;
        case.reason = Some(format!(
            "the {path} pipeline has no `zcexport name=export ! zcwaylandsink name=sink` to change"
        ));
        return (case, None);
    }
    // Non-empty at the high count: the same at every count.
    let pipeline = |frames| pipeline(frames).unwrap_or_default();
    if path == PathKind::Gpu {
        case.status = CaseStatus::NotRun;
        case.reason =
            Some("lavapipe under valgrind takes minutes per frame; not counted".to_owned());
        return (case, None);
    }
    // Without valgrind first: GStreamer's registry is brought up to date
    // here, so that both counted runs load it alike.
    let warm_log = logs.join(format!("{name}-registry.log"));
    if let Err(e) = play_natively(exe, &pipeline(2), options.timeout, &warm_log) {
        case.status = CaseStatus::Failed;
        case.reason = Some(e);
        return (case, None);
    }
    let mut costs = None;
    for repetition in 0..options.repetitions {
        let run_name = format!("{name}-{repetition}");
        eprintln!("zc-bench --instructions: {run_name}");
        let counted = [options.frames_low, options.frames_high].map(|frames| {
            count(
                options,
                exe,
                &pipeline(frames),
                &logs.join(format!("{run_name}-{frames}")),
            )
        });
        match counted {
            [Ok(low), Ok(high)] => {
                let frames = f64::from(options.frames_high - options.frames_low);
                if repetition == 0 {
                    costs = Some(per_frame_functions(&low, &high, frames));
                }
                case.runs.push(CountRun {
                    repetition,
                    instructions_low: low.total,
                    instructions_high: high.total,
                    per_frame: (high.total as f64 - low.total as f64) / frames,
                });
            }
            [Err(e), _] | [_, Err(e)] => {
                case.status = CaseStatus::Failed;
                case.reason = Some(e);
                break;
            }
        }
    }
    case.per_frame = median(case.runs.iter().map(|r| r.per_frame).collect());
    (case, costs)
}

/// instructions.json and instructions.md.
pub fn write_outputs(report: &InstructionReport, dir: &Path) -> Result<(), BenchError> {
    let json = serde_json::to_string_pretty(report).map_err(|source| BenchError::Json {
        what: "writing the instruction report".to_owned(),
        source,
    })?;
    for (name, content) in [
        ("instructions.json", json + "\n"),
        ("instructions.md", markdown::render(report)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, content).map_err(io_error(format!("writing {}", path.display())))?;
    }
    Ok(())
}

fn valgrind_version(valgrind: &Path) -> Result<String, BenchError> {
    let output = Command::new(valgrind)
        .arg("--version")
        .output()
        .map_err(|e| {
            BenchError::Usage(format!(
                "cannot run {} ({e}): the instruction mode needs valgrind (Debian: apt-get install valgrind)",
                valgrind.display()
            ))
        })?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn play_natively(exe: &Path, pipeline: &str, timeout: Duration, log: &Path) -> Result<(), String> {
    let mut command = Command::new(exe);
    command.arg("--play").arg(pipeline);
    wait(command, timeout, log)
}

/// One counted run: the whole process under callgrind.
fn count(options: &Options, exe: &Path, pipeline: &str, log: &Path) -> Result<Profile, String> {
    let out_file = log.with_extension("callgrind");
    let _ = std::fs::remove_file(&out_file);
    let mut command = Command::new(&options.valgrind);
    command
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(exe)
        .arg("--play")
        .arg(pipeline)
        // The registry was updated by the run without valgrind.
        .env("GST_REGISTRY_UPDATE", "no");
    wait(command, options.timeout, &log.with_extension("log"))?;
    let text = std::fs::read_to_string(&out_file)
        .map_err(|e| format!("reading {}: {e}", out_file.display()))?;
    let profile = callgrind::parse(&text).map_err(|e| e.to_string())?;
    // The file is large and read now; the log stays.
    let _ = std::fs::remove_file(&out_file);
    Ok(profile)
}

fn wait(mut command: Command, timeout: Duration, log: &Path) -> Result<(), String> {
    let stderr =
        std::fs::File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("starting {:?}: {e}", command.get_program()))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                let said = std::fs::read_to_string(log).unwrap_or_default();
                let tail: Vec<&str> = said.lines().rev().take(3).collect();
                return Err(format!(
                    "the pipeline process ended with {status} (log: {}): {}",
                    log.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
                ));
            }
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("not done within {} s", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("waiting for the pipeline process: {e}")),
        }
    }
}

fn per_frame_functions(low: &Profile, high: &Profile, frames: f64) -> FunctionCosts {
    let mut out: FunctionCosts = HashMap::new();
    for (key, cost) in &high.functions {
        let before = low.functions.get(key).copied().unwrap_or(0);
        out.insert(key.clone(), (*cost as f64 - before as f64) / frames);
    }
    for (key, cost) in &low.functions {
        if !high.functions.contains_key(key) {
            out.insert(key.clone(), -(*cost as f64) / frames);
        }
    }
    out.retain(|_, cost| cost.abs() >= 0.5);
    out
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}
