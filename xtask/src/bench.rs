//! `cargo xtask bench [--quick] [--native | --vm] [--distro NAME[,NAME]] [-- zc-bench args...]`:
//! zc-bench (release) natively, then inside the dma-buf VM, each leaving
//! its report in `out/bench/<native|vm>/` (report.md, report.json, charts).
//! `--distro bookworm,trixie,forky` runs the VM part on each of those roots
//! in turn (GStreamer 1.22, 1.26, 1.28), into `out/bench/vm-<name>/`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::distro::Distro;
use crate::util::{repo_root, step};
use crate::{setup, vm};

const USAGE: &str = "usage: cargo xtask bench [--quick] [--native | --vm] [--distro NAME[,NAME]] [-- zc-bench args...]";

pub fn run(args: &[String]) -> Result<()> {
    let (mut native, mut in_vm, mut quick) = (true, true, false);
    let mut extra: Vec<String> = Vec::new();
    let mut distros: Vec<Distro> = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--native" => in_vm = false,
            "--vm" => native = false,
            "--distro" => {
                let names = rest
                    .next()
                    .context("--distro needs names: bookworm, trixie, forky (comma-separated)")?;
                for name in names.split(',').filter(|n| !n.trim().is_empty()) {
                    distros.push(Distro::parse(name.trim())?);
                }
                native = false;
            }
            "--" => {
                extra.extend(rest.by_ref().cloned());
            }
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    if !native && !in_vm {
        bail!("--native and --vm exclude each other; give neither to run both\n{USAGE}");
    }
    if !setup::is_complete() {
        step("set-up is incomplete: running `cargo xtask setup` first");
        setup::run()?;
    }
    let root = repo_root();
    step("building zc-bench (release)");
    crate::util::build_release(&["--package", "zc-app", "--bin", "zc-bench"])?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let mut bench = target_dir.join("release/zc-bench");
    // The VM shares target/ (writable there): clips encoded natively are
    // reused inside, and the VM writes its report there first.
    let work = root.join("target/zc-bench");
    let clips = work.join("clips");
    let out = root.join("out/bench");
    let mut common: Vec<String> = Vec::new();
    if quick {
        common.push("--quick".to_owned());
    }
    common.push("--clips".to_owned());
    common.push(clips.display().to_string());

    let mut failures = Vec::new();
    if native {
        let dir = out.join("native");
        step(format!(
            "zc-bench natively (memfd and wl_shm paths; report in {})",
            dir.display()
        ));
        let status = Command::new(&bench)
            .current_dir(&root)
            .args(&common)
            .arg("--out")
            .arg(&dir)
            .args(&extra)
            .status()
            .with_context(|| format!("starting {}", bench.display()))?;
        if !status.success() {
            failures.push(format!("native run: {status}"));
        }
    }
    if in_vm {
        // Encoding under emulation is slow: make the VM's (shorter) clips here.
        step("encoding the clips the VM run needs");
        let status = Command::new(&bench)
            .current_dir(&root)
            .args(&common)
            .args(["--profile", "vm", "--clips-only"])
            .args(&extra)
            .status()
            .with_context(|| format!("starting {}", bench.display()))?;
        if !status.success() {
            failures.push(format!("encoding the VM's clips: {status}"));
        }
        // The newer roots see only the checkout: zc-bench goes inside it.
        if !distros.is_empty() && !bench.starts_with(&root) {
            let inside = work.join("bin/zc-bench");
            std::fs::create_dir_all(work.join("bin"))?;
            std::fs::copy(&bench, &inside)
                .with_context(|| format!("copying {} into the checkout", bench.display()))?;
            bench = inside;
        }
        let runs: Vec<(Distro, String)> = if distros.is_empty() {
            vec![(Distro::Bookworm, "vm".to_owned())]
        } else {
            distros
                .iter()
                .map(|d| (*d, format!("vm-{}", d.name())))
                .collect()
        };
        for (distro, name) in runs {
            let vm_out = work.join(&name);
            let _ = std::fs::remove_dir_all(&vm_out);
            let line: Vec<String> = std::iter::once(bench.display().to_string())
                .chain(common.iter().cloned())
                .chain(["--out".to_owned(), vm_out.display().to_string()])
                .chain(["--no-progress".to_owned()])
                .chain(extra.iter().cloned())
                .map(|arg| vm::shell_quote(&arg))
                .collect();
            // vgem makes Weston's GL renderer crash on dma-bufs (ENVIRONMENT.md);
            // the root file system is read-only in the VM, so GStreamer's
            // registry goes where it can be written (else every case rescans),
            // one per root (each has its own GStreamer).
            // The newer roots have no git: the report's commit comes from here.
            let commit = Command::new("git")
                .current_dir(&root)
                .args(["describe", "--always", "--dirty", "--abbrev=12"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_default();
            let script = format!(
                "if [ -e /sys/module/vgem ]; then modprobe -r vgem; fi\n\
                 export GST_REGISTRY={}\n\
                 export ZC_COMMIT={}\n\
                 {}\n",
                vm::shell_quote(
                    &work
                        .join(format!("gst-registry-{name}.bin"))
                        .display()
                        .to_string()
                ),
                vm::shell_quote(&commit),
                line.join(" ")
            );
            step(format!(
                "zc-bench inside the dma-buf VM on {} (absolute times there are emulated)",
                distro.describe()
            ));
            // The full matrix under emulation takes hours; --quick about twenty minutes.
            let timeout = if quick {
                None
            } else {
                Some(Duration::from_secs(12 * 3600))
            };
            let run = vm::run_script_on(distro, &script, "zc-bench", timeout)?;
            let dir = out.join(&name);
            copy_dir(&vm_out, &dir)?;
            if run.status != 0 {
                failures.push(format!(
                    "VM run on {}: exit status {}",
                    distro.name(),
                    run.status
                ));
            }
        }
    }

    println!();
    let mut shown = vec!["native".to_owned(), "vm".to_owned()];
    shown.extend(distros.iter().map(|d| format!("vm-{}", d.name())));
    for which in shown {
        let report = out.join(&which).join("report.md");
        let ran = if which == "native" { native } else { in_vm };
        if report.exists() && ran {
            println!("{which}: {}", report.display());
        }
    }
    if !failures.is_empty() {
        bail!("zc-bench failed: {}", failures.join("; "));
    }
    Ok(())
}

/// Copy the files of `from` (one level of subfolders, for logs/) into `to`.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let entries = std::fs::read_dir(from)
        .with_context(|| format!("the VM run left no report in {}", from.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            std::fs::copy(&path, &target)
                .with_context(|| format!("copying {} to {}", path.display(), target.display()))?;
        }
    }
    Ok(())
}
