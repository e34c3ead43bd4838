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
use zc_app::bench::matrix::{self, CaseSpec, Defaults, PathKind, Size, Source};
use zc_app::bench::report::{Report, SCHEMA, TargetStatus};
use zc_app::bench::runner::{self, ChildOutcome, Options};

/// How much zero-copy saves: fps, CPU per frame (pipeline and compositor),
/// bytes copied, latency, memory and fds for each way of showing video.
#[derive(Parser, Debug)]
#[command(name = "zc-bench", version, long_about = None)]
struct Args {
    /// The reduced matrix: raw and H.264, fewer frames; natively 720p and
    /// 1080p, 3 repetitions; in the VM (ten minutes) 720p, 2 repetitions,
    /// H.264 only on the fakesink, zero-copy and copy paths.
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
    /// and write report.json, report.md and the charts into --out.
    #[arg(long, value_name = "REPORT_JSON")]
    from_json: Option<PathBuf>,
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
    for target in &report.targets {
        let status = match target.status {
            TargetStatus::Met => "met",
            TargetStatus::Missed => "MISSED",
            TargetStatus::NotEvaluated => "not evaluated",
        };
        println!("  {status:<13} {} ({})", target.target, target.scope);
    }
    let missed = report
        .targets
        .iter()
        .any(|t| t.status == TargetStatus::Missed);
    Ok(if args.fail_on_missed_target && missed {
        3
    } else {
        0
    })
}
