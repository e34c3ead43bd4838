//! `cargo xtask test`: set-up if needed, the native suite, the fuzz targets
//! for a bounded time each (see fuzz.rs), then the VM suite in one VM boot
//! on the host's Debian 12 (all but the player's extra suites, which run on
//! the newer roots), then the interop, packages and player suites on Debian
//! 13 and Debian testing roots (one boot each); `vm_plan` says which binary
//! boots where. One summary line per suite; non-zero exit on failure.
//! `--distro NAME` runs the whole VM suite on that root only.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::distro::Distro;
use crate::util::{elapsed, minutes, repo_root, step};
use crate::{fuzz, package, setup, vm};

/// The package holding the tests that need a real dma-buf kernel.
const VM_TEST_PACKAGE: &str = "zc-vm-tests";

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Counts {
    /// Add a libtest summary line: "test result: ok. 12 passed; 0 failed; 0 ignored; ...".
    fn add_libtest_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let words: Vec<&str> = part.split_whitespace().collect();
            // The first part reads "ok. 12 passed"; the number is the word before the label.
            if let [.., number, label] = words.as_slice() {
                let Ok(n) = number.parse::<u64>() else {
                    continue;
                };
                match *label {
                    "passed" => self.passed += n,
                    "failed" => self.failed += n,
                    "ignored" => self.ignored += n,
                    _ => {}
                }
            }
        }
    }

    fn line(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed)
    }
}

/// The VM test binaries that also run on the newer Debian roots (trixie,
/// forky): zc next to that version's stock elements and compositors.
/// `packages`: the .debs built here install and work on each root.
const INTEROP_BINARIES: &[&str] = &[
    "interop",
    "interop_modifiers",
    "player",
    "player_overlays",
    "player_image_subtitles",
    "packages",
    "wayland_protocols",
    "subtitle_overlay",
    "zcwaylandsink_orientation",
    "syncobj",
    "player_mutter",
    "player_controls",
    "player_audio",
];

/// Of those, the ones that run on forky only: its VM has a virtio-gpu
/// device (timeline syncobjs), the others have none; its root alone has
/// Mutter (`player_mutter`).
const FORKY_ONLY_BINARIES: &[&str] = &["syncobj", "player_mutter"];

/// The player's suites beyond its basic playback (`player`), which the
/// whole run takes to 1.26 and 1.28 (where users are) but not to 1.22:
/// about 9 of bookworm's 29 minutes, so that `cargo xtask test` stays well
/// inside CI's 90 on two cores. `--distro bookworm` still runs them.
const NOT_ON_BOOKWORM_BINARIES: &[&str] = &[
    "player_controls",
    "player_overlays",
    "player_audio",
    "player_image_subtitles",
];

/// Whether the test binary `name` boots on `distro`: in the whole run
/// (`whole_run`), or in a run of that root alone (`--distro NAME`: the
/// whole suite there, but what only forky can run).
fn runs_on(distro: Distro, name: &str, whole_run: bool) -> bool {
    if FORKY_ONLY_BINARIES.contains(&name) {
        return distro == Distro::Forky;
    }
    if !whole_run {
        return true;
    }
    match distro {
        Distro::Bookworm => !NOT_ON_BOOKWORM_BINARIES.contains(&name),
        _ => INTEROP_BINARIES.contains(&name),
    }
}

/// Which test binaries (name, path) boot on which root, in order: the
/// three roots in the whole run, `only_distro` where given.
fn vm_plan(
    only_distro: Option<Distro>,
    binaries: &[(String, String)],
) -> Vec<(Distro, Vec<(String, String)>)> {
    let roots = match only_distro {
        Some(distro) => vec![distro],
        None => vec![Distro::Bookworm, Distro::Trixie, Distro::Forky],
    };
    roots
        .into_iter()
        .map(|distro| {
            let on_it = binaries
                .iter()
                .filter(|(name, _)| runs_on(distro, name, only_distro.is_none()))
                .cloned()
                .collect();
            (distro, on_it)
        })
        .collect()
}

pub fn run(args: &[String]) -> Result<()> {
    let (mut native, mut in_vm) = (true, true);
    let mut only_distro: Option<Distro> = None;
    let mut filter: Vec<String> = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--native" => in_vm = false,
            "--vm" => native = false,
            "--distro" => {
                let name = args
                    .next()
                    .context("--distro needs a name: bookworm, trixie or forky")?;
                only_distro = Some(Distro::parse(name)?);
                native = false;
            }
            other if other.starts_with('-') => {
                bail!(
                    "unknown option `{other}` (expected --native, --vm, --distro NAME, or a test name filter)"
                )
            }
            other => filter.push(other.to_owned()),
        }
    }
    if !setup::is_complete() {
        step("set-up is incomplete: running `cargo xtask setup` first");
        setup::run()?;
    }

    let mut summaries = Vec::new();
    let mut total = Counts::default();
    let mut failed_suites = Vec::new();

    if native {
        step("native suite: cargo test (no dma-buf kernel needed)");
        let started = Instant::now();
        let mut command = Command::new(cargo());
        command
            .current_dir(repo_root())
            .args(["test", "--workspace", "--exclude", VM_TEST_PACKAGE, "--"])
            .args(&filter);
        let (ok, counts) = run_counting(&mut command)?;
        if !ok || counts.failed > 0 {
            failed_suites.push("native".to_owned());
        }
        summaries.push(format!(
            "native: {} ({})",
            counts.line(),
            minutes(started.elapsed())
        ));
        add(&mut total, counts);

        // The lints the workspace denies (unwrap/expect outside tests,
        // unsafe without a SAFETY comment) hold only if something checks them.
        let have_clippy = Command::new(cargo())
            .args(["clippy", "--version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !have_clippy {
            summaries
                .push("clippy: not installed (rustup component add clippy), not run".to_owned());
        }
        if filter.is_empty() && have_clippy {
            step("clippy: cargo clippy --workspace --all-targets -- -D warnings");
            let started = Instant::now();
            let clean = Command::new(cargo())
                .current_dir(repo_root())
                .args([
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ])
                .status()
                .context("running cargo clippy")?
                .success();
            summaries.push(format!(
                "clippy: {} ({})",
                if clean { "clean" } else { "warnings" },
                minutes(started.elapsed())
            ));
            if !clean {
                failed_suites.push("clippy".to_owned());
            }
        }

        // The fuzz targets, unless a filter asks for particular tests or
        // ZC_FUZZ_SECONDS=0 turns them off.
        let seconds = fuzz::seconds_from_env()?.unwrap_or(fuzz::DEFAULT_SECONDS);
        if filter.is_empty() && seconds > 0 {
            let targets: Vec<String> = fuzz::TARGETS.iter().map(|t| t.to_string()).collect();
            match fuzz::run_targets(&targets, seconds) {
                Ok(outcomes) => {
                    summaries.extend(outcomes.iter().map(fuzz::Outcome::line));
                    if let Err(err) = fuzz::check(&outcomes) {
                        eprintln!("xtask: {err:#}");
                        failed_suites.push("fuzz".to_owned());
                    }
                }
                Err(err) => {
                    eprintln!("xtask: fuzzing could not run: {err:#}");
                    summaries.push("fuzz: did not run".to_owned());
                    failed_suites.push("fuzz".to_owned());
                }
            }
        }
    }

    if in_vm {
        let binaries = build_vm_tests()?;
        for (distro, binaries) in vm_plan(only_distro, &binaries) {
            // A root that cannot be built or booted fails its suite, and
            // the others still run and report.
            let started = Instant::now();
            let (ok, counts) = match run_vm_suite(distro, &binaries, &filter) {
                Ok(result) => result,
                Err(err) => {
                    eprintln!(
                        "xtask: the VM suite on {} could not run: {err:#}",
                        distro.name()
                    );
                    (false, Counts::default())
                }
            };
            if !ok {
                failed_suites.push(format!("vm on {}", distro.name()));
            }
            summaries.push(format!(
                "vm on {} (6.12 kernel, {} test binaries): {} ({}, root and boot included)",
                distro.describe(),
                binaries.len(),
                counts.line(),
                minutes(started.elapsed())
            ));
            add(&mut total, counts);
        }
    }

    println!();
    for line in &summaries {
        println!("{line}");
    }
    println!(
        "total: {} in {} (set-up and builds included)",
        total.line(),
        minutes(elapsed())
    );
    if !failed_suites.is_empty() {
        bail!("failing suites: {}", failed_suites.join(", "));
    }
    Ok(())
}

/// One VM boot on `distro` running `binaries` one after another; whether
/// all ran and passed, and the counts.
fn run_vm_suite(
    distro: Distro,
    binaries: &[(String, String)],
    filter: &[String],
) -> Result<(bool, Counts)> {
    let mut script = format!("set +e\nstatus=0\nexport ZC_DISTRO={}\n", distro.name());
    for (name, path) in binaries {
        script.push_str(&format!(
            "echo '--- VM suite {name}'\n{} --test-threads=1 {} || status=1\n",
            vm::shell_quote(path),
            filter
                .iter()
                .map(|f| vm::shell_quote(f))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    script.push_str("exit $status\n");
    let label = format!("the VM test suite on {}", distro.name());
    let run = vm::run_script_on(distro, &script, &label, None)?;
    let text = std::fs::read_to_string(&run.output_log).unwrap_or_default();
    let mut counts = Counts::default();
    text.lines().for_each(|line| counts.add_libtest_line(line));
    let ran_all = text.matches("--- VM suite").count() == binaries.len();
    Ok((run.status == 0 && counts.failed == 0 && ran_all, counts))
}

fn add(total: &mut Counts, counts: Counts) {
    total.passed += counts.passed;
    total.failed += counts.failed;
    total.ignored += counts.ignored;
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Run a command, echo its stdout as it comes, and count libtest results.
fn run_counting(command: &mut Command) -> Result<(bool, Counts)> {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut counts = Counts::default();
    let mut out = std::io::stdout();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        counts.add_libtest_line(&line);
        let _ = writeln!(out, "{line}");
    }
    Ok((child.wait()?.success(), counts))
}

/// Build the VM suite natively (cargo is not run inside the VM) and list its test binaries.
fn build_vm_tests() -> Result<Vec<(String, String)>> {
    // The player test runs the zc-player binary, which `cargo test` of
    // another package does not build.
    step("VM suite: building zc-player");
    let status = Command::new(cargo())
        .current_dir(repo_root())
        .args(["build", "--package", "zc-app", "--bin", "zc-player"])
        .status()
        .context("building zc-player")?;
    if !status.success() {
        bail!("building zc-player failed");
    }
    // tests/tests/interop.rs runs gst-inspect-1.0 and gst-launch-1.0 on the plugin's library.
    step("VM suite: building the zerocopy plugin library");
    let status = Command::new(cargo())
        .current_dir(repo_root())
        .args(["build", "--package", "gst-plugin-zerocopy"])
        .status()
        .context("building the plugin")?;
    if !status.success() {
        bail!("building the plugin failed");
    }
    // tests/tests/packages.rs installs the Debian packages on each root.
    step("VM suite: building the Debian packages (cargo xtask package)");
    package::build_packages(true).context("building the Debian packages")?;
    step(format!("VM suite: building {VM_TEST_PACKAGE}"));
    // tests/tests/bench.rs runs zc-bench from the same target folder.
    let status = Command::new(cargo())
        .current_dir(repo_root())
        .args(["build", "--package", "zc-app", "--bin", "zc-bench"])
        .status()
        .context("building zc-bench for the VM suite")?;
    if !status.success() {
        bail!("building zc-bench failed");
    }
    let output = Command::new(cargo())
        .current_dir(repo_root())
        .args([
            "test",
            "--package",
            VM_TEST_PACKAGE,
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(Stdio::inherit())
        .output()
        .context("building the VM tests")?;
    if !output.status.success() {
        bail!("building the VM tests failed");
    }
    let mut binaries = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        // Each compiler-artifact line that has an executable is one test binary.
        let (Some(exe), Some(name)) = (json_string(line, "executable"), json_string(line, "name"))
        else {
            continue;
        };
        if line.contains("\"test\":true") {
            binaries.push((name, exe));
        }
    }
    if binaries.is_empty() {
        bail!("no VM test binaries were built");
    }
    Ok(binaries)
}

/// The string value of `"key":"..."` in one line of cargo's JSON (paths and
/// target names only: no escapes other than `\\` and `\"` to handle).
fn json_string(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let mut value = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => value.push(chars.next()?),
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(binaries: &[(String, String)]) -> Vec<&str> {
        binaries.iter().map(|(name, _)| name.as_str()).collect()
    }

    fn binaries(list: &[&str]) -> Vec<(String, String)> {
        list.iter()
            .map(|name| (name.to_string(), format!("target/debug/deps/{name}-0")))
            .collect()
    }

    #[test]
    fn the_whole_run_puts_each_binary_on_its_roots() {
        let all = binaries(&[
            "vulkan",
            "player",
            "player_controls",
            "player_audio",
            "interop",
            "syncobj",
        ]);
        let plan = vm_plan(None, &all);
        let roots: Vec<Distro> = plan.iter().map(|(distro, _)| *distro).collect();
        assert_eq!(roots, [Distro::Bookworm, Distro::Trixie, Distro::Forky]);
        assert_eq!(names(&plan[0].1), ["vulkan", "player", "interop"]);
        assert_eq!(
            names(&plan[1].1),
            ["player", "player_controls", "player_audio", "interop"]
        );
        assert_eq!(
            names(&plan[2].1),
            [
                "player",
                "player_controls",
                "player_audio",
                "interop",
                "syncobj"
            ]
        );
    }

    #[test]
    fn one_root_runs_the_whole_suite_it_can() {
        let all = binaries(&["vulkan", "player_controls", "syncobj"]);
        let bookworm = vm_plan(Some(Distro::Bookworm), &all);
        assert_eq!(bookworm.len(), 1);
        assert_eq!(names(&bookworm[0].1), ["vulkan", "player_controls"]);
        let forky = vm_plan(Some(Distro::Forky), &all);
        assert_eq!(names(&forky[0].1), ["vulkan", "player_controls", "syncobj"]);
    }
}
