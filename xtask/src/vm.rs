//! The dma-buf VM: the backports 6.12 kernel booted by virtme-ng under
//! software emulation, with the host's root file system shared read-only.
//!
//! `vng` exits 255 whatever the guest command did, and its own output mixes
//! kernel messages in. So the guest command writes its output and exit
//! status into a shared folder; we stream the output while it runs and read
//! the status at the end.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::distro::{self, Distro};
use crate::setup;
use crate::util::{cache_dir, repo_root, step};

/// Environment variables passed into the guest (it starts with a clean one).
const FORWARDED_ENV_PREFIXES: &[&str] = &["ZC_", "GST_", "RUST_", "WAYLAND_DEBUG"];

/// The guest's `XDG_CACHE_HOME`. Its HOME is on the read-only root, so
/// without a writable cache every GStreamer process rescans every plugin
/// (about 7 s each under emulation, against 0.75 s with its registry kept)
/// and Mesa compiles every shader afresh. The guest's /tmp is a throwaway
/// overlay: nothing reaches the host or the cached root.
const GUEST_CACHE: &str = "/tmp/zc-vm-cache";

/// A finished VM run: the guest command's exit status and where its output was saved.
pub struct VmRun {
    pub status: i32,
    pub output_log: PathBuf,
}

/// How long a VM run may take unless `ZC_VM_TIMEOUT` says otherwise. The
/// whole VM suite (player, benchmark, 2,000-frame and 1,000-frame streams
/// under software emulation) takes 20-40 minutes on 2 cores, more when the
/// machine is shared: generous, so that only a real hang trips it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5400);

/// Run a shell command line inside the VM on the host's root, streaming its
/// output as it comes.
pub fn run_script(script: &str, label: &str) -> Result<VmRun> {
    run_script_on(Distro::Bookworm, script, label, None)
}

/// [`run_script`] on `distro`, with another default timeout than
/// [`DEFAULT_TIMEOUT`] where given (`ZC_VM_TIMEOUT` still wins): the
/// benchmark's full matrix takes hours under emulation. The root is built
/// first if needed.
pub fn run_script_on(
    distro: Distro,
    script: &str,
    label: &str,
    default_timeout: Option<Duration>,
) -> Result<VmRun> {
    let kernel = setup::installed_kernel()?;
    let root = distro::ensure_root(distro)?;
    let mount = match &root {
        Some(root) => {
            distro::ensure_modules(root, &kernel.release)?;
            Some(distro::CheckoutMount::new(root, &repo_root())?)
        }
        None => None,
    };
    let target = repo_root().join("target");
    // One folder per run (runs may overlap); the newest stays for reading.
    let runs = target.join("zc-vm");
    clean_finished_runs(&runs);
    let run_dir = runs.join(format!("run-{}", std::process::id()));
    let _ = fs::remove_dir_all(&run_dir);
    fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let output_log = run_dir.join("output.log");
    let status_file = run_dir.join("status");
    let console_log = run_dir.join("console.log");

    let mut env_lines = String::new();
    for (key, value) in std::env::vars() {
        if FORWARDED_ENV_PREFIXES.iter().any(|p| key.starts_with(p)) {
            env_lines.push_str(&format!("export {key}={}\n", shell_quote(&value)));
        }
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| repo_root());
    let guest_script = format!(
        "#!/bin/sh\n\
         cd {cwd} || exit 125\n\
         export ZC_IN_VM=1 HOME=/root XDG_CACHE_HOME={GUEST_CACHE} PATH=\"$PATH:{cargo_bin}\"\n\
         {env_lines}\
         ( {script} ) > {log} 2>&1 < /dev/null\n\
         echo $? > {status}.tmp && mv {status}.tmp {status}\n",
        cwd = shell_quote(&cwd.to_string_lossy()),
        cargo_bin = std::env::var("CARGO_HOME")
            .map(|h| format!("{h}/bin"))
            .unwrap_or_default(),
        log = shell_quote(&output_log.to_string_lossy()),
        status = shell_quote(&status_file.to_string_lossy()),
    );
    let script_path = run_dir.join("run.sh");
    fs::write(&script_path, guest_script)?;

    let timeout = std::env::var("ZC_VM_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .or(default_timeout)
        .unwrap_or(DEFAULT_TIMEOUT);
    step(format!(
        "VM: booting {} on {} (software emulation) for {label}",
        kernel.release,
        distro.describe()
    ));

    let venv_bin = cache_dir().join("venv/bin");
    let path = format!(
        "{}:{}",
        venv_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let console = fs::File::create(&console_log)?;
    let mut vng = Command::new(setup::vng_path());
    if !crate::util::is_root() {
        // The guest's dma-buf nodes are root-only; the guest is throwaway.
        vng.args(["--user", "root"]);
    }
    vng.env("PATH", path).arg("-r").arg(&kernel.vmlinuz).args([
        "--disable-kvm",
        "--force-9p",
        "--cpus",
        "2",
        "-m",
        "4G",
    ]);
    if distro == Distro::Forky {
        // Mutter needs a DRM device to start: virtio-gpu gives one (and
        // timeline syncobjs); tests load its module when they want it.
        vng.arg("--qemu-opts=-device virtio-gpu-pci");
    }
    match (&root, &mount) {
        (Some(root), Some(mount)) => {
            // The runner shares only folders inside the root: the checkout
            // is bind-mounted there at its own path.
            vng.arg("--root")
                .arg(root)
                .arg(format!("--rwdir={}", mount.inside(&target).display()))
        }
        _ => vng.arg(format!("--rwdir={}", target.display())),
    };
    let mut child = vng
        .arg("--exec")
        .arg(format!(
            "sh {}",
            shell_quote(&script_path.to_string_lossy())
        ))
        .stdin(Stdio::null())
        .stdout(console.try_clone()?)
        .stderr(console)
        // Its own process group, so a timeout can stop qemu along with vng.
        .process_group(0)
        .spawn()
        .context("starting vng (run `cargo xtask setup`)")?;

    let started = Instant::now();
    let mut streamed = 0u64;
    let mut stdout = std::io::stdout();
    loop {
        streamed = stream_new_output(&output_log, streamed, &mut stdout);
        if child.try_wait()?.is_some() {
            break;
        }
        if started.elapsed() > timeout {
            // SAFETY: kill(2) on our own child's process group; no memory involved.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            bail!(
                "the VM run did not finish within {}s (ZC_VM_TIMEOUT); console: {}",
                timeout.as_secs(),
                console_log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    stream_new_output(&output_log, streamed, &mut stdout);

    match fs::read_to_string(&status_file) {
        Ok(status) => {
            let status = status
                .trim()
                .parse()
                .context("unreadable exit status from the VM")?;
            step(format!(
                "VM: command exited with status {status} after {:.0}s",
                started.elapsed().as_secs_f64()
            ));
            Ok(VmRun { status, output_log })
        }
        Err(_) => {
            let console = fs::read_to_string(&console_log).unwrap_or_default();
            let tail: Vec<&str> = console.lines().rev().take(30).collect();
            bail!(
                "the VM did not run the command (no exit status written). Last console lines:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        }
    }
}

/// `cargo xtask vm [--distro NAME] -- CMD...`
pub fn run_interactive(distro: Distro, command: &[String]) -> Result<i32> {
    if !setup::is_complete() {
        setup::run()?;
    }
    let line: Vec<String> = command.iter().map(|arg| shell_quote(arg)).collect();
    Ok(run_script_on(distro, &line.join(" "), &command.join(" "), None)?.status)
}

/// Remove the folders of earlier runs whose xtask process is gone.
fn clean_finished_runs(runs: &Path) {
    let Ok(entries) = fs::read_dir(runs) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("run-") else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn stream_new_output(path: &Path, from: u64, out: &mut impl Write) -> u64 {
    let Ok(mut file) = fs::File::open(path) else {
        return from;
    };
    if file.seek(SeekFrom::Start(from)).is_err() {
        return from;
    }
    let mut buf = Vec::new();
    let read = file.read_to_end(&mut buf).unwrap_or(0);
    let _ = out.write_all(&buf);
    let _ = out.flush();
    from + read as u64
}

pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}
