//! `cargo xtask setup`: everything a fresh Debian 12 (or Ubuntu) machine needs.
//!
//! Idempotent: every step first checks whether there is anything to do, so a
//! second run takes well under a second and says "nothing to do".

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{cache_dir, output_checked, privileged, run_checked, step};

/// Packages from the distribution's main archive.
const MAIN_PACKAGES: &[&str] = &[
    "pkg-config",
    "python3-venv",
    "python3-pip",
    "qemu-system-x86",
    "kmod",
    "busybox-static",
    "debootstrap",
    "libgstreamer1.0-dev",
    "libgstreamer-plugins-base1.0-dev",
    "libgstreamer-plugins-bad1.0-dev",
    "gstreamer1.0-plugins-base",
    "gstreamer1.0-plugins-good",
    "gstreamer1.0-plugins-bad",
    "gstreamer1.0-plugins-ugly",
    "gstreamer1.0-libav",
    "gstreamer1.0-tools",
    "libxkbcommon-dev",
    "wayland-utils",
    "vulkan-tools",
    // The install test validates the desktop entry; the packages test reads
    // `man zc-player` in the VM, whose bookworm root is this machine's.
    "desktop-file-utils",
    "man-db",
    // textoverlay (pango): the subtitle test attaches real text as overlay
    // composition meta (tests/tests/subtitle_overlay.rs).
    "gstreamer1.0-x",
    // alsasink: the player's sound on the VM's dummy sound card
    // (tests/tests/player_audio.rs).
    "gstreamer1.0-alsa",
];

/// Packages that on Debian 12 must come from bookworm-backports: Weston 14,
/// Mesa 25 (lavapipe with dma-buf import, GBM), and the -dev packages apt
/// refuses to mix with bookworm's.
const BACKPORTS_PACKAGES: &[&str] = &[
    "weston",
    "mesa-vulkan-drivers",
    "libgbm1",
    "libgbm-dev",
    "libegl-mesa0",
    "libwayland-dev",
    "libdrm-dev",
];

/// virtme-ng boots a kernel with the host's root file system; pinned so every
/// machine runs the same runner.
const VIRTME_NG: &str = "virtme-ng==1.42";

const BACKPORTS_LIST: &str = "/etc/apt/sources.list.d/zc-bookworm-backports.sources";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Distro {
    DebianBookworm,
    /// Ubuntu and newer Debian releases carry recent enough packages in main.
    Other,
}

fn os_id() -> String {
    fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            line.strip_prefix("ID=")
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_default()
}

fn distro() -> Distro {
    let release = fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |name: &str| {
        release
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
            .map(|value| value.trim_matches('"').to_owned())
    };
    if field("ID").as_deref() == Some("debian")
        && field("VERSION_CODENAME").as_deref() == Some("bookworm")
    {
        Distro::DebianBookworm
    } else {
        Distro::Other
    }
}

/// What the VM needs from the kernel package: found by `setup`, used by `vm`.
pub struct VmKernel {
    pub vmlinuz: PathBuf,
    pub release: String,
}

pub fn run() -> Result<()> {
    let distro = distro();
    ensure_packages(distro)?;
    ensure_virtme_ng()?;
    let kernel = ensure_kernel(distro)?;
    step(format!(
        "setup complete: kernel {} at {}, runner {}",
        kernel.release,
        kernel.vmlinuz.display(),
        vng_path().display()
    ));
    Ok(())
}

/// True when everything `setup` would install is already there (cheap).
pub fn is_complete() -> bool {
    missing_packages(distro())
        .map(|m| m.is_empty())
        .unwrap_or(false)
        && vng_path().exists()
        && installed_kernel().is_ok()
}

/// Packages that dpkg does not list as installed, or that are installed from
/// the wrong release (bookworm's Weston 10 where zc needs backports' 14).
fn missing_packages(distro: Distro) -> Result<Vec<&'static str>> {
    let names: Vec<&str> = MAIN_PACKAGES
        .iter()
        .chain(BACKPORTS_PACKAGES)
        .copied()
        .collect();
    let output = Command::new("dpkg-query")
        .args(["-W", "-f=${Package} ${db:Status-Abbrev} ${Version}\n"])
        .args(&names)
        .output()
        .context("dpkg-query not found: zc's setup supports Debian and Ubuntu")?;
    let listing = String::from_utf8_lossy(&output.stdout);
    let installed_version = |name: &str| {
        listing.lines().find_map(|line| {
            let mut fields = line.split_whitespace();
            (fields.next()? == name && fields.next()? == "ii")
                .then(|| fields.next().unwrap_or("").to_owned())
        })
    };
    let needs_backports =
        |name: &str| distro == Distro::DebianBookworm && BACKPORTS_PACKAGES.contains(&name);
    Ok(names
        .into_iter()
        .filter(|name| match installed_version(name) {
            None => true,
            Some(version) => needs_backports(name) && !version.contains("bpo"),
        })
        .collect())
}

fn ensure_packages(distro: Distro) -> Result<()> {
    if distro == Distro::DebianBookworm {
        ensure_backports_source()?;
    }
    let missing = missing_packages(distro)?;
    if missing.is_empty() {
        step("apt packages: all installed, nothing to do");
        return Ok(());
    }
    step(format!("apt packages: installing {}", missing.join(" ")));
    run_checked(privileged("apt-get").args(["update", "-q"]))?;
    let mut install = privileged("apt-get");
    install.env("DEBIAN_FRONTEND", "noninteractive").args([
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
    ]);
    if distro == Distro::DebianBookworm {
        // Prefer backports wherever it has the package, so Mesa, Wayland and
        // libdrm come from one consistent set (apt refuses a mix).
        install.args(["-t", "bookworm-backports"]);
    }
    run_checked(install.args(&missing))?;
    let still_missing = missing_packages(distro)?;
    if !still_missing.is_empty() {
        bail!(
            "apt-get finished but these are still not installed: {}",
            still_missing.join(" ")
        );
    }
    Ok(())
}

/// Add bookworm-backports, reusing the mirror the system already uses for
/// bookworm (no host name of our own is ever written).
fn ensure_backports_source() -> Result<()> {
    if Path::new(BACKPORTS_LIST).exists() || backports_already_configured() {
        return Ok(());
    }
    let (uri, signed_by) = bookworm_mirror()?;
    step(format!(
        "apt: adding bookworm-backports from {uri} ({BACKPORTS_LIST})"
    ));
    let mut entry =
        format!("Types: deb\nURIs: {uri}\nSuites: bookworm-backports\nComponents: main\n");
    if let Some(keyring) = signed_by {
        entry.push_str(&format!("Signed-By: {keyring}\n"));
    }
    write_privileged(Path::new(BACKPORTS_LIST), &entry)?;
    run_checked(privileged("apt-get").args(["update", "-q"]))
}

fn apt_source_files() -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(entries) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut listed: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        listed.sort();
        files.extend(listed);
    }
    files
        .into_iter()
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("list" | "sources")
            ) || p.ends_with("sources.list")
        })
        .collect()
}

fn backports_already_configured() -> bool {
    apt_source_files().iter().any(|file| {
        fs::read_to_string(file)
            .map(|text| {
                text.lines()
                    .filter(|line| !line.trim_start().starts_with('#'))
                    .any(|line| line.contains("bookworm-backports"))
            })
            .unwrap_or(false)
    })
}

/// The URI (and keyring, for deb822 files) of the apt source that serves the
/// `bookworm` suite, from deb822 `.sources` files or one-line `.list` files.
pub(crate) fn bookworm_mirror() -> Result<(String, Option<String>)> {
    for file in apt_source_files() {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        if file.extension().and_then(|e| e.to_str()) == Some("sources") {
            for stanza in text.split("\n\n") {
                let field = |name: &str| {
                    stanza.lines().find_map(|line| {
                        let (key, value) = line.split_once(':')?;
                        (key.trim().eq_ignore_ascii_case(name)).then(|| value.trim().to_owned())
                    })
                };
                let suites = field("Suites").unwrap_or_default();
                if suites.split_whitespace().any(|s| s == "bookworm")
                    && let Some(uris) = field("URIs")
                    && let Some(uri) = uris.split_whitespace().next()
                {
                    return Ok((uri.to_owned(), field("Signed-By")));
                }
            }
        } else {
            for line in text.lines().map(str::trim) {
                if !line.starts_with("deb ") {
                    continue;
                }
                // deb [options] URI suite components...
                let words: Vec<&str> = line.split_whitespace().collect();
                let mut rest = words[1..].iter().skip_while(|w| w.starts_with('['));
                if let Some(uri) = rest.find(|w| !w.ends_with(']')) {
                    let tail: Vec<&&str> = words.iter().skip_while(|w| *w != uri).skip(1).collect();
                    if tail.first().map(|s| **s) == Some("bookworm") {
                        return Ok((uri.to_string(), None));
                    }
                }
            }
        }
    }
    bail!(
        "no apt source for `bookworm` found in /etc/apt: add one, then run `cargo xtask setup` again"
    )
}

fn write_privileged(path: &Path, contents: &str) -> Result<()> {
    if crate::util::is_root() {
        return fs::write(path, contents).with_context(|| format!("writing {}", path.display()));
    }
    let mut child = Command::new("sudo")
        .args(["tee", &path.to_string_lossy()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("sudo tee")?;
    use std::io::Write;
    child
        .stdin
        .take()
        .context("sudo tee stdin")?
        .write_all(contents.as_bytes())?;
    if !child.wait()?.success() {
        bail!("could not write {}", path.display());
    }
    Ok(())
}

pub fn vng_path() -> PathBuf {
    cache_dir().join("venv/bin/vng")
}

fn ensure_virtme_ng() -> Result<()> {
    let venv = cache_dir().join("venv");
    let stamp = venv.join("zc-installed");
    if vng_path().exists() && fs::read_to_string(&stamp).ok().as_deref() == Some(VIRTME_NG) {
        step(format!(
            "virtme-ng: {VIRTME_NG} in {}, nothing to do",
            venv.display()
        ));
        return Ok(());
    }
    step(format!(
        "virtme-ng: installing {VIRTME_NG} into {}",
        venv.display()
    ));
    fs::create_dir_all(cache_dir())?;
    // Debian's python3 refuses system-wide pip installs (PEP 668): use a venv.
    run_checked(
        Command::new("/usr/bin/python3")
            .args(["-m", "venv"])
            .arg(&venv),
    )?;
    run_checked(Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        VIRTME_NG,
    ]))?;
    fs::write(&stamp, VIRTME_NG)?;
    Ok(())
}

fn kernel_dir() -> PathBuf {
    cache_dir().join("kernel")
}

/// The kernel unpacked into the cache, with its modules in /lib/modules
/// (where virtme-ng and modprobe in the guest look for them).
pub fn installed_kernel() -> Result<VmKernel> {
    let boot = kernel_dir().join("boot");
    let entries = fs::read_dir(&boot).with_context(|| {
        format!(
            "no VM kernel in {}: run `cargo xtask setup`",
            boot.display()
        )
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(release) = name.strip_prefix("vmlinuz-") {
            let modules = Path::new("/lib/modules").join(release);
            if !modules.join("modules.dep").exists() {
                bail!(
                    "kernel {release}: modules are not installed in {}: run `cargo xtask setup`",
                    modules.display()
                );
            }
            return Ok(VmKernel {
                vmlinuz: entry.path(),
                release: release.to_owned(),
            });
        }
    }
    bail!(
        "no vmlinuz-* in {}: run `cargo xtask setup`",
        boot.display()
    )
}

fn ensure_kernel(distro: Distro) -> Result<VmKernel> {
    if let Ok(kernel) = installed_kernel() {
        step(format!(
            "VM kernel: {} already unpacked, nothing to do",
            kernel.release
        ));
        return Ok(kernel);
    }
    // linux-image-amd64 is a metapackage: resolve the real image package.
    let meta = match distro {
        Distro::DebianBookworm => "linux-image-amd64/bookworm-backports",
        Distro::Other if os_id() == "ubuntu" => "linux-image-generic",
        Distro::Other => "linux-image-amd64",
    };
    let depends = output_checked(Command::new("apt-cache").args([
        "depends",
        "--no-recommends",
        "--no-suggests",
        meta,
    ]))?;
    let package = depends
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Depends:"))
        .map(str::trim)
        .find(|dep| dep.starts_with("linux-image-"))
        .with_context(|| format!("could not resolve the kernel image package behind {meta}"))?
        .to_owned();
    step(format!(
        "VM kernel: downloading {package} (not installed on the host, only unpacked)"
    ));
    let download = cache_dir().join("download");
    let _ = fs::remove_dir_all(&download);
    fs::create_dir_all(&download)?;
    run_checked(
        Command::new("apt-get")
            .current_dir(&download)
            .args(["download", "-q", &package]),
    )?;
    let deb = fs::read_dir(&download)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().and_then(|e| e.to_str()) == Some("deb"))
        .context("apt-get download produced no .deb")?;
    let unpacked = cache_dir().join("kernel.tmp");
    let _ = fs::remove_dir_all(&unpacked);
    run_checked(Command::new("dpkg").arg("-x").arg(&deb).arg(&unpacked))?;

    // Modules: usr/lib/modules on newer packages, lib/modules on older ones.
    let modules_root = ["lib/modules", "usr/lib/modules"]
        .iter()
        .map(|dir| unpacked.join(dir))
        .find(|dir| dir.is_dir())
        .context("the kernel package has no modules tree")?;
    for entry in fs::read_dir(&modules_root)?.flatten() {
        let release = entry.file_name().to_string_lossy().into_owned();
        let target = Path::new("/lib/modules").join(&release);
        step(format!(
            "VM kernel: installing modules for {release} into {}",
            target.display()
        ));
        run_checked(privileged("mkdir").args(["-p", "/lib/modules"]))?;
        let _ = privileged("rm").args(["-rf"]).arg(&target).status();
        run_checked(privileged("cp").arg("-a").arg(entry.path()).arg(&target))?;
        run_checked(privileged("depmod").arg(&release))?;
    }
    let _ = fs::remove_dir_all(kernel_dir());
    fs::rename(&unpacked, kernel_dir())?;
    let _ = fs::remove_dir_all(&download);
    installed_kernel()
}
