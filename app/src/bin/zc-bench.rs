//! zc-bench: the zero-copy versus copy playback benchmark (issue 8).
//!
//! Runs a matrix of sources x sizes x paths, each case in a fresh process,
//! repeated, against a headless Weston, and writes report.json, report.md
//! and SVG charts. `docs/bench.md` explains how to read them.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser};
use zc_app::bench::case;
use zc_app::bench::environment::Where;
use zc_app::bench::instructions;
use zc_app::bench::matrix::{self, CaseSpec, Defaults, PathKind, Size, Source};
use zc_app::bench::report::{Report, SCHEMA, TargetStatus};
use zc_app::bench::runner::{self, ChildOutcome, Options};

/// How much zero-copy saves: fps, CPU per frame (pipeline and compositor),
/// bytes copied, latency, memory and fds for each way of showing video.
#[derive(Parser, Debug)]
#[command(name = "zc-bench", version, long_about = None)]
struct Args {
    /// The reduced matrix: raw and H.264, fewer frames; natively 720p and
    /// 1080p, 3 repetitions; in the VM (about twenty minutes) 720p, 2
    /// repetitions, H.264 only on the fakesink, zero-copy, copy and
    /// waylandsink paths.
    #[arg(long)]
    quick: bool,
    /// Whose defaults (matrix, frame counts) to use: native, or the VM's
    /// smaller ones (default: where this runs; `cargo xtask vm` sets ZC_IN_VM).
    #[arg(long, value_parser = ["native", "vm"])]
    profile: Option<String>,
    /// Repetitions per case (default 5; --quick: 3, or 2 in the VM).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    repetitions: Option<u32>,
    /// Frames per case, warm-up included (default: by size and profile;
    /// the GPU path gets half in the VM).
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..=100_000))]
    frames: Option<u32>,
    /// Frames at the start of each case that are not measured: pools,
    /// wl_buffers and the window being set up (default 10; 4 in the VM).
    #[arg(long)]
    warmup: Option<u32>,
    /// Sources, comma-separated: raw, h264, vp9 (default all; --quick: raw,h264).
    #[arg(long)]
    sources: Option<String>,
    /// Sizes, comma-separated: 720p, 1080p, 4k, 8k (default 720p,1080p,4k;
    /// --quick: 720p,1080p natively, 720p in the VM).
    #[arg(long)]
    sizes: Option<String>,
    /// Paths, comma-separated: fakesink, zero-copy, copy, waylandsink,
    /// videoconvert, gpu (default all).
    #[arg(long)]
    paths: Option<String>,
    /// Where report.json, report.md and the charts go.
    #[arg(long, default_value = "out/bench")]
    out: PathBuf,
    /// Where encoded clips are kept between runs (default: $ZC_CACHE_DIR/bench-clips,
    /// else ~/.cache/zc/bench-clips).
    #[arg(long)]
    clips: Option<PathBuf>,
    /// The compositor's output size, WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x720", value_parser = parse_output_size)]
    output: (u32, u32),
    /// Seconds before a case that has not reached EOS is stopped
    /// (default 600; 3600 in the VM).
    #[arg(long)]
    case_timeout: Option<u64>,
    /// Seconds without a frame reaching the sink before a case is given up
    /// (default 60; 600 in the VM).
    #[arg(long)]
    stall_timeout: Option<u64>,
    /// No progress bar (rows are still printed).
    #[arg(long)]
    no_progress: bool,
    /// Exit with status 3 when a target is missed (for CI).
    #[arg(long)]
    fail_on_missed_target: bool,
    /// Only encode the clips this matrix needs (into --clips), then exit.
    #[arg(long)]
    clips_only: bool,
    /// Measure nothing: re-evaluate the targets of an existing report.json
    /// and write report.json, report.md and the charts into --out (or of an
    /// instructions.json: instructions.json and instructions.md).
    #[arg(long, value_name = "REPORT_JSON")]
    from_json: Option<PathBuf>,
    /// Pace the frames at N or N/D a second, so that a slow compositor (the
    /// VM's llvmpipe) draws every one: the raw source live at that rate,
    /// clips encoded at it and released on the clock after the decoder
    /// (default in the VM: 1).
    #[arg(long, value_parser = parse_fps)]
    pace: Option<(u32, u32)>,
    /// Count instructions per frame with valgrind (callgrind) instead of
    /// timing: each path played to two frame counts, the difference per
    /// frame; writes instructions.json and instructions.md into --out.
    /// Uses --sizes (default 1080p,4k), --paths (default fakesink,
    /// zero-copy, copy, waylandsink) and --repetitions (default 1).
    #[arg(long)]
    instructions: bool,
    /// The two frame counts of --instructions, LOW,HIGH.
    #[arg(long, default_value = "30,90", value_parser = parse_frame_pair)]
    instruction_frames: (u32, u32),
    /// The live source's frame rate for --instructions, N or N/D (default
    /// by size: 720p 4, 1080p 2, 4k 1/2): slow enough that every frame is
    /// shown under valgrind.
    #[arg(long, value_parser = parse_fps)]
    instruction_fps: Option<(u32, u32)>,
    /// With --instructions, count only the paths asked for: not also
    /// zcwaylandsink on its own (without zcexport), with and without
    /// presentation feedback, which are counted after the zero-copy path
    /// by default.
    #[arg(long)]
    no_sink_variants: bool,
    /// The valgrind executable for --instructions.
    #[arg(long, default_value = "valgrind")]
    valgrind: PathBuf,
    /// Measure nothing: print what changed from report A to report B (two
    /// report.json, or two instructions.json): environment, each case's
    /// figures with the ratio B/A, and targets that changed status.
    #[arg(long, num_args = 2, value_names = ["A_JSON", "B_JSON"])]
    compare: Option<Vec<PathBuf>>,
    /// Internal: play a pipeline (gst-launch syntax) to EOS, nothing else.
    #[arg(long, hide = true)]
    play: Option<String>,
    /// Internal: run one case (JSON) in this process.
    #[arg(long, hide = true, requires = "result")]
    run_case: Option<String>,
    /// Internal: where --run-case writes its outcome.
    #[arg(long, hide = true)]
    result: Option<PathBuf>,
}

fn parse_output_size(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("`{text}` is not a size such as 1280x720");
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h) = (
        w.trim().parse::<u32>().map_err(|_| bad())?,
        h.trim().parse::<u32>().map_err(|_| bad())?,
    );
    if !(64..=8192).contains(&w) || !(64..=8192).contains(&h) {
        return Err(format!("`{text}`: each side must be 64 to 8192"));
    }
    Ok((w, h))
}

fn parse_frame_pair(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("`{text}` is not two frame counts such as 30,90");
    let (low, high) = text.split_once(',').ok_or_else(bad)?;
    let (low, high) = (
        low.trim().parse::<u32>().map_err(|_| bad())?,
        high.trim().parse::<u32>().map_err(|_| bad())?,
    );
    if low == 0 || high <= low {
        return Err(format!(
            "`{text}`: the first count must be at least 1 and the second larger"
        ));
    }
    Ok((low, high))
}

fn parse_fps(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("`{text}` is not a frame rate such as 2 or 1/2");
    let (num, den) = text.split_once('/').unwrap_or((text, "1"));
    let (num, den) = (
        num.trim().parse::<u32>().map_err(|_| bad())?,
        den.trim().parse::<u32>().map_err(|_| bad())?,
    );
    if num == 0 || den == 0 {
        return Err(bad());
    }
    Ok((num, den))
}

fn default_clips_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ZC_CACHE_DIR") {
        return PathBuf::from(dir).join("bench-clips");
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("zc").join("bench-clips")
}

fn main() {
    zc_app::cli_docs::generate_if_asked(Args::command);
    let args = Args::parse();
    if let (Some(spec), Some(result)) = (&args.run_case, &args.result) {
        std::process::exit(child(spec, result));
    }
    if let Some(pipeline) = &args.play {
        if let Err(e) = instructions::run::play(pipeline) {
            eprintln!("zc-bench --play: {e}");
            std::process::exit(1);
        }
        std::process::exit(0);
    }
    match run(&args) {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("zc-bench: {err:#}");
            std::process::exit(2);
        }
    }
}

/// The child: one case, its outcome written as JSON for the parent.
fn child(spec: &str, result: &std::path::Path) -> i32 {
    let outcome = match serde_json::from_str::<CaseSpec>(spec) {
        Ok(spec) => match case::run_case(&spec) {
            Ok(sample) => ChildOutcome::Sample(Box::new(sample)),
            Err(e) => ChildOutcome::Error(e.to_string()),
        },
        Err(e) => ChildOutcome::Error(format!("unreadable case description: {e}")),
    };
    let failed = matches!(outcome, ChildOutcome::Error(_));
    if let ChildOutcome::Error(e) = &outcome {
        eprintln!("zc-bench case: {e}");
    }
    let written = serde_json::to_string(&outcome)
        .map_err(|e| e.to_string())
        .and_then(|json| std::fs::write(result, json).map_err(|e| e.to_string()));
    if let Err(e) = written {
        eprintln!("zc-bench case: cannot write {}: {e}", result.display());
        return 2;
    }
    i32::from(failed)
}

fn run(args: &Args) -> Result<i32> {
    if let Some(json) = &args.from_json {
        let text = std::fs::read_to_string(json)
            .with_context(|| format!("cannot read {}", json.display()))?;
        if text.contains(&format!("\"{}\"", instructions::SCHEMA)) {
            let mut report: instructions::InstructionReport = serde_json::from_str(&text)
                .with_context(|| {
                    format!("{} is not a readable instruction count", json.display())
                })?;
            report.evaluate_targets();
            std::fs::create_dir_all(&args.out)
                .with_context(|| format!("cannot create {}", args.out.display()))?;
            instructions::run::write_outputs(&report, &args.out)?;
            println!("wrote {}", args.out.join("instructions.md").display());
            return Ok(0);
        }
        let mut report: Report = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a zc-bench report (schema {SCHEMA})",
                json.display()
            )
        })?;
        if report.schema != SCHEMA {
            bail!(
                "{} has schema {}; this zc-bench reads {SCHEMA}",
                json.display(),
                report.schema
            );
        }
        report.evaluate_targets();
        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("cannot create {}", args.out.display()))?;
        runner::write_outputs(&report, &args.out)?;
        println!("wrote {}", args.out.join("report.md").display());
        return Ok(0);
    }
    if let Some([a, b]) = args.compare.as_deref() {
        print!("{}", zc_app::bench::compare::compare(a, b)?);
        return Ok(0);
    }
    if args.instructions {
        return count_instructions(args);
    }
    let quick = args.quick;
    let vm = match args.profile.as_deref() {
        Some(profile) => profile == "vm",
        None => Where::detect() == Where::Vm,
    };
    let defaults = Defaults::new(quick, vm);
    let sources: Vec<Source> = match &args.sources {
        Some(list) => matrix::parse_list(list)?,
        None => defaults.sources.clone(),
    };
    let sizes: Vec<Size> = match &args.sizes {
        Some(list) => matrix::parse_list(list)?,
        None => defaults.sizes.clone(),
    };
    let (paths, excluded) = match &args.paths {
        // Paths asked for by name run with every source.
        Some(list) => (matrix::parse_list(list)?, Vec::new()),
        None => (PathKind::ALL.to_vec(), defaults.excluded.clone()),
    };
    let pace = args.pace.or(defaults.pace());
    let case_timeout = args.case_timeout.unwrap_or(defaults.case_timeout_s());
    let stall_timeout = args.stall_timeout.unwrap_or(defaults.stall_timeout_s());
    let options = Options {
        quick,
        repetitions: args.repetitions.unwrap_or(defaults.repetitions),
        warmup: args.warmup.unwrap_or(defaults.warmup),
        frames: args.frames,
        excluded_because: defaults.excluded_because.to_owned(),
        excluded,
        defaults,
        sources,
        sizes,
        paths,
        out_dir: args.out.clone(),
        clips_dir: args.clips.clone().unwrap_or_else(default_clips_dir),
        output_size: args.output,
        case_timeout: Duration::from_secs(case_timeout.max(1)),
        stall_timeout: Duration::from_secs(stall_timeout.max(1)),
        progress: !args.no_progress,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        pace,
    };
    if let Some(frames) = options.frames.filter(|f| *f <= options.warmup) {
        bail!(
            "--frames {frames} leaves nothing to measure after {} warm-up frames; give more frames than --warmup",
            options.warmup
        );
    }
    if args.clips_only {
        gst::init().context("GStreamer did not initialise")?;
        let clips = runner::encode_clips(&options, &indicatif::ProgressBar::hidden());
        for ((source, size, frames), clip) in clips {
            match clip {
                Ok(Some(path)) => println!("{source} {size} {frames} frames: {}", path.display()),
                Ok(None) => {}
                Err(e) => bail!("{source} {size}: {e}"),
            }
        }
        return Ok(0);
    }
    let report = runner::run(&options).context("the benchmark did not complete")?;

    let ran = report
        .cases
        .iter()
        .filter(|c| !c.samples.is_empty())
        .count();
    println!(
        "\n{} of {} cases ran; report: {}",
        ran,
        report.cases.len(),
        options.out_dir.join("report.md").display()
    );
    let missed = print_targets(&report.targets);
    Ok(if args.fail_on_missed_target && missed {
        3
    } else {
        0
    })
}

/// `--instructions`: the callgrind counts, and their targets.
fn count_instructions(args: &Args) -> Result<i32> {
    let sizes: Vec<Size> = match &args.sizes {
        Some(list) => matrix::parse_list(list)?,
        None => vec![Size::P1080, Size::K4],
    };
    let paths: Vec<PathKind> = match &args.paths {
        Some(list) => matrix::parse_list(list)?,
        None => instructions::run::DEFAULT_PATHS.to_vec(),
    };
    let options = instructions::run::Options {
        sizes,
        paths,
        frames_low: args.instruction_frames.0,
        frames_high: args.instruction_frames.1,
        fps: args.instruction_fps,
        repetitions: args.repetitions.unwrap_or(1),
        sink_variants: !args.no_sink_variants,
        out_dir: args.out.clone(),
        output_size: args.output,
        valgrind: args.valgrind.clone(),
        timeout: Duration::from_secs(args.case_timeout.unwrap_or(1800).max(1)),
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let report =
        instructions::run::run(&options).context("the instruction count did not complete")?;
    println!(
        "\nreport: {}",
        options.out_dir.join("instructions.md").display()
    );
    let name = instructions::InstructionCase::name;
    // The variants' names are long: one column as wide as the widest.
    let width = report
        .cases
        .iter()
        .map(|c| name(c).len())
        .max()
        .unwrap_or(0);
    for case in &report.cases {
        match (case.per_frame, case.added_over_floor) {
            (Some(cost), added) => println!(
                "  {:<6} {:<width$} {:>10} instructions/frame{}",
                case.size.name(),
                name(case),
                instructions::count(cost),
                added
                    .map(|a| format!(", {} over the floor", instructions::count(a)))
                    .unwrap_or_default()
            ),
            (None, _) => println!(
                "  {:<6} {:<width$} {}",
                case.size.name(),
                name(case),
                case.reason.as_deref().unwrap_or("no count")
            ),
        }
    }
    let missed = print_targets(&report.targets);
    Ok(if args.fail_on_missed_target && missed {
        3
    } else {
        0
    })
}

/// Print each target's status; whether one was missed.
fn print_targets(targets: &[zc_app::bench::report::TargetResult]) -> bool {
    for target in targets {
        let status = match target.status {
            TargetStatus::Met => "met",
            TargetStatus::Missed => "MISSED",
            TargetStatus::NotEvaluated => "not evaluated",
        };
        println!("  {status:<13} {} ({})", target.target, target.scope);
    }
    targets.iter().any(|t| t.status == TargetStatus::Missed)
}
