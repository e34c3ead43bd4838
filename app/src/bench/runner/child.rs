//! One case in a child process (`zc-bench --run-case`): spawned with the
//! case's description, waited for within the case timeout, its sample read
//! back from the result file, or why it failed with the end of its log.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::bench::case::Sample;
use crate::bench::matrix::CaseSpec;

/// What a child writes into its result file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChildOutcome {
    Sample(Box<Sample>),
    Error(String),
}

/// Run one case in a child process; its sample, or why it failed.
pub(super) fn run_child(
    exe: &Path,
    spec: &CaseSpec,
    log: &Path,
    timeout: Duration,
) -> Result<Sample, String> {
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
