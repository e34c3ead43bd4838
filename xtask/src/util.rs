use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The workspace root (xtask lives one level below it).
pub fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

/// Where the VM kernel and the virtme-ng virtual environment live. Shared by
/// every checkout of zc on the machine, so a fresh clone does not download again.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ZC_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/var/cache"));
    base.join("zc")
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A command run as root: directly when we are root, else through sudo.
pub fn privileged(program: &str) -> Command {
    if is_root() {
        Command::new(program)
    } else {
        let mut command = Command::new("sudo");
        command.arg(program);
        command
    }
}

/// Run a command, inheriting stdio; fail with its command line if it fails.
pub fn run_checked(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("could not start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

/// Run a command and return its stdout; fail with its stderr if it fails.
pub fn output_checked(command: &mut Command) -> Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not start {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// When this xtask run started: the first call of [`elapsed`] (main makes it).
static STARTED: OnceLock<Instant> = OnceLock::new();

/// Time since this xtask run started.
pub fn elapsed() -> Duration {
    STARTED.get_or_init(Instant::now).elapsed()
}

/// A duration as `M:SS` (minutes may pass 59), for logs read against a time limit.
pub fn minutes(duration: Duration) -> String {
    let seconds = duration.as_secs();
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

/// Print a step the way every xtask command does, so the log reads as a
/// story, with the time since the run started (where CI's time goes).
pub fn step(message: impl std::fmt::Display) {
    println!("\x1b[1;34m==>\x1b[0m [{}] {message}", minutes(elapsed()));
}

/// The cargo that runs xtask (`CARGO`), or the one on PATH.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Install the cargo subcommand `cargo SUBCOMMAND` (crate `krate` at
/// `version`, `--locked`) if `cargo SUBCOMMAND --version` does not run.
/// `who` prefixes the log lines ("fuzz", "package").
pub fn ensure_cargo_tool(who: &str, subcommand: &str, krate: &str, version: &str) -> Result<()> {
    let found = Command::new(cargo())
        .args([subcommand, "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Ok(());
    }
    step(format!("{who}: installing {krate} {version}"));
    let started = std::time::Instant::now();
    run_checked(Command::new(cargo()).args(["install", krate, "--locked", "--version", version]))
        .with_context(|| format!("installing {krate}"))?;
    step(format!(
        "{who}: {krate} installed in {} s",
        started.elapsed().as_secs()
    ));
    Ok(())
}

/// `cargo build --release --quiet` of these `--package`/`--bin` arguments,
/// in the workspace.
pub fn build_release(args: &[&str]) -> Result<()> {
    run_checked(
        Command::new(cargo())
            .current_dir(repo_root())
            .args(["build", "--release", "--quiet"])
            .args(args),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_keep_counting_past_the_hour() {
        assert_eq!(minutes(Duration::from_secs(0)), "0:00");
        assert_eq!(minutes(Duration::from_millis(59_999)), "0:59");
        assert_eq!(minutes(Duration::from_secs(5_405)), "90:05");
    }
}
