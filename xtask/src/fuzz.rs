//! `cargo xtask fuzz`: the cargo-fuzz targets in fuzz/, each for a bounded
//! time, installing cargo-fuzz first if it is missing. `cargo xtask test`
//! runs it after the native suite.
//!
//! The targets need nightly-only flags (`-Zsanitizer=address`); the project
//! pins stable, so they are built with `RUSTC_BOOTSTRAP=1`. The committed
//! seeds in fuzz/corpus/<target> are read but never written: what libFuzzer
//! finds goes to fuzz/target/corpus/<target>, crashes to fuzz/artifacts/<target>
//! (both git-ignored).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::util::{repo_root, step};

/// Every target in fuzz/fuzz_targets, in the order they run.
pub const TARGETS: &[&str] = &["layout", "caps"];

/// Seconds per target when neither `--seconds` nor `ZC_FUZZ_SECONDS` says.
pub const DEFAULT_SECONDS: u64 = 60;

/// The cargo-fuzz release installed when none is found.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// What one target's run came to, for the summary.
pub struct Outcome {
    pub target: String,
    pub seconds: u64,
    pub runs: u64,
    pub crashed: bool,
    pub log: PathBuf,
}

impl Outcome {
    pub fn line(&self) -> String {
        format!(
            "fuzz: {} {} s, {} runs, {} crashes",
            self.target,
            self.seconds,
            self.runs,
            u8::from(self.crashed)
        )
    }
}

/// `cargo xtask fuzz [--seconds N] [TARGET...]`.
pub fn run(args: &[String]) -> Result<()> {
    let mut seconds = seconds_from_env()?.unwrap_or(DEFAULT_SECONDS);
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().context("--seconds needs a number")?;
                seconds = parse_seconds(value)?;
            }
            other if other.starts_with('-') => {
                bail!("unknown option `{other}` (expected --seconds N or target names)")
            }
            other if TARGETS.contains(&other) => targets.push(other.to_owned()),
            other => bail!(
                "no fuzz target `{other}`; the targets are {}",
                TARGETS.join(", ")
            ),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| t.to_string()).collect();
    }
    let outcomes = run_targets(&targets, seconds)?;
    println!();
    for outcome in &outcomes {
        println!("{}", outcome.line());
    }
    check(&outcomes)
}

/// `ZC_FUZZ_SECONDS`, if set: seconds per target (0 skips fuzzing in `test`).
pub fn seconds_from_env() -> Result<Option<u64>> {
    match std::env::var("ZC_FUZZ_SECONDS") {
        Ok(value) => parse_seconds(&value).map(Some),
        Err(_) => Ok(None),
    }
}

fn parse_seconds(value: &str) -> Result<u64> {
    value
        .trim()
        .parse()
        .with_context(|| format!("`{value}` is not a number of seconds"))
}

/// Fail, naming the crashing inputs, if any target crashed.
pub fn check(outcomes: &[Outcome]) -> Result<()> {
    let crashed: Vec<&Outcome> = outcomes.iter().filter(|o| o.crashed).collect();
    if crashed.is_empty() {
        return Ok(());
    }
    let mut message = String::from("fuzz targets crashed:");
    for outcome in crashed {
        message.push_str(&format!(
            "\n  {}: log {}, inputs in {}",
            outcome.target,
            outcome.log.display(),
            relative(&artifacts_dir(&outcome.target)).display()
        ));
    }
    message.push_str("\nreplay one with: RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-...");
    bail!(message)
}

fn fuzz_dir() -> PathBuf {
    repo_root().join("fuzz")
}

fn artifacts_dir(target: &str) -> PathBuf {
    fuzz_dir().join("artifacts").join(target)
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// `cargo fuzz` with the environment every call needs.
fn cargo_fuzz() -> Command {
    let mut command = Command::new(cargo());
    command
        .current_dir(repo_root())
        .arg("fuzz")
        // cargo-fuzz passes -Z flags; let the pinned stable toolchain take them.
        .env("RUSTC_BOOTSTRAP", "1");
    command
}

/// Install cargo-fuzz if `cargo fuzz` does not run.
fn ensure_cargo_fuzz() -> Result<()> {
    crate::util::ensure_cargo_tool("fuzz", "fuzz", "cargo-fuzz", CARGO_FUZZ_VERSION)
}

/// Build every target, then run each for `seconds`.
pub fn run_targets(targets: &[String], seconds: u64) -> Result<Vec<Outcome>> {
    ensure_cargo_fuzz()?;
    step("fuzz: building the targets (cargo fuzz build, release + ASan)");
    let started = Instant::now();
    let status = cargo_fuzz()
        .arg("build")
        .status()
        .context("running cargo fuzz build")?;
    if !status.success() {
        bail!("cargo fuzz build failed with {status}");
    }
    step(format!("fuzz: built in {} s", started.elapsed().as_secs()));
    targets
        .iter()
        .map(|target| run_one(target, seconds))
        .collect()
}

fn run_one(target: &str, seconds: u64) -> Result<Outcome> {
    step(format!("fuzz: {target} for {seconds} s"));
    let work_corpus = fuzz_dir().join("target").join("corpus").join(target);
    let seeds = fuzz_dir().join("corpus").join(target);
    std::fs::create_dir_all(&work_corpus)
        .with_context(|| format!("creating {}", work_corpus.display()))?;
    let log = fuzz_dir().join("target").join(format!("{target}.log"));
    let log_file =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let mut command = cargo_fuzz();
    command
        .args(["run", target])
        .arg(&work_corpus)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1");
    if target == "caps" {
        // GLib interns every new field name as a quark and keeps other
        // process-lifetime allocations, never freed by design; LeakSanitizer
        // would call each one a leak, in the loop and at exit.
        command
            .arg("-detect_leaks=0")
            .env("ASAN_OPTIONS", "detect_leaks=0");
    }
    let status = command
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .status()
        .context("running cargo fuzz run")?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let runs = executed_units(&text).unwrap_or(0);
    let crashed = !status.success();
    if crashed {
        // The end of libFuzzer's report: the panic or sanitizer trace and
        // where the input was saved.
        let lines: Vec<&str> = text.lines().collect();
        for line in &lines[lines.len().saturating_sub(60)..] {
            eprintln!("{line}");
        }
    }
    Ok(Outcome {
        target: target.to_owned(),
        seconds,
        runs,
        crashed,
        log: relative(&log),
    })
}

/// `stat::number_of_executed_units: N` from `-print_final_stats=1`, or the
/// "Done N runs" line.
fn executed_units(log: &str) -> Option<u64> {
    log.lines().rev().find_map(|line| {
        if let Some(rest) = line.strip_prefix("stat::number_of_executed_units:") {
            return rest.trim().parse().ok();
        }
        line.strip_prefix("Done ")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

fn relative(path: &Path) -> PathBuf {
    path.strip_prefix(repo_root())
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_runs_from_final_stats_or_done_line() {
        let log = "#2\tINITED cov: 5\nDone 306202 runs in 21 second(s)\nstat::number_of_executed_units: 306203\n";
        assert_eq!(executed_units(log), Some(306203));
        assert_eq!(executed_units("Done 12 runs in 1 second(s)\n"), Some(12));
        assert_eq!(
            executed_units("==1== ERROR: libFuzzer: deadly signal\n"),
            None
        );
    }

    #[test]
    fn summary_line_reads_as_specified() {
        let outcome = Outcome {
            target: "layout".into(),
            seconds: 60,
            runs: 42,
            crashed: false,
            log: PathBuf::from("fuzz/target/layout.log"),
        };
        assert_eq!(outcome.line(), "fuzz: layout 60 s, 42 runs, 0 crashes");
    }

    #[test]
    fn every_target_has_a_source_and_seeds() {
        for target in TARGETS {
            assert!(
                fuzz_dir()
                    .join("fuzz_targets")
                    .join(format!("{target}.rs"))
                    .is_file()
            );
            let seeds = std::fs::read_dir(fuzz_dir().join("corpus").join(target)).unwrap();
            assert!(seeds.count() > 0, "{target} has no seeds");
        }
    }
}
