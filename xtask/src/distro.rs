//! The Debian roots the VM boots besides the host's own: Debian 13 "trixie"
//! (GStreamer 1.26, Weston 14) and Debian testing "forky" (GStreamer 1.28,
//! Weston 16, Mutter 50). Each is built once with debootstrap into the cache
//! folder (no host package is touched) and boots the same 6.12 kernel; zc's
//! binaries built on the host run inside unchanged.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{cache_dir, privileged, run_checked, step};

/// Where the VM's user space comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distro {
    /// The host itself (Debian 12: GStreamer 1.22, Weston 14).
    Bookworm,
    /// Debian 13: GStreamer 1.26, Weston 14.
    Trixie,
    /// Debian testing: GStreamer 1.28, Weston 16, Mutter 50.
    Forky,
}

pub const ALL: [Distro; 3] = [Distro::Bookworm, Distro::Trixie, Distro::Forky];

/// What every root gets: GStreamer with the plugins the suites use,
/// Weston, Mesa (GL and Vulkan on the CPU), and the tools the tests call.
const PACKAGES: &[&str] = &[
    "gstreamer1.0-tools",
    "gstreamer1.0-plugins-base",
    "gstreamer1.0-plugins-good",
    "gstreamer1.0-plugins-bad",
    "gstreamer1.0-plugins-ugly",
    "gstreamer1.0-libav",
    "weston",
    "wayland-utils",
    "mesa-vulkan-drivers",
    "libvulkan1",
    "libgl1-mesa-dri",
    "libegl-mesa0",
    "libgbm1",
    "libxkbcommon0",
    "libwayland-client0",
    "kmod",
    "procps",
];

/// forky adds GNOME's compositor, which needs a D-Bus session to start.
const FORKY_PACKAGES: &[&str] = &["mutter", "dbus", "dbus-daemon"];

/// Changing the package lists changes this, and the roots are rebuilt.
const ROOT_SPEC_VERSION: u32 = 1;

impl Distro {
    pub fn parse(name: &str) -> Result<Distro> {
        ALL.into_iter()
            .find(|d| d.name() == name)
            .with_context(|| {
                format!("unknown distribution `{name}`: expected bookworm (Debian 12, the host), trixie (Debian 13) or forky (Debian testing)")
            })
    }

    pub fn name(self) -> &'static str {
        match self {
            Distro::Bookworm => "bookworm",
            Distro::Trixie => "trixie",
            Distro::Forky => "forky",
        }
    }

    /// For messages: the distribution and what it brings.
    pub fn describe(self) -> &'static str {
        match self {
            Distro::Bookworm => "Debian 12 (GStreamer 1.22, Weston 14)",
            Distro::Trixie => "Debian 13 (GStreamer 1.26, Weston 14)",
            Distro::Forky => "Debian testing (GStreamer 1.28, Weston 16, Mutter 50)",
        }
    }

    fn packages(self) -> Vec<&'static str> {
        let mut packages = PACKAGES.to_vec();
        if self == Distro::Forky {
            packages.extend(FORKY_PACKAGES);
        }
        packages
    }

    /// What a built root records, so a changed package list rebuilds it.
    fn spec(self) -> String {
        format!(
            "zc root v{ROOT_SPEC_VERSION} {}: {}\n",
            self.name(),
            self.packages().join(" ")
        )
    }

    /// The root folder the VM boots; `None` for the host's own root.
    pub fn root_dir(self) -> Option<PathBuf> {
        match self {
            Distro::Bookworm => None,
            other => Some(cache_dir().join("roots").join(other.name())),
        }
    }
}

/// The root for `distro`, built first if it is missing or out of date.
pub fn ensure_root(distro: Distro) -> Result<Option<PathBuf>> {
    let Some(root) = distro.root_dir() else {
        return Ok(None);
    };
    let marker = root.join("etc/zc-root");
    if fs::read_to_string(&marker).is_ok_and(|spec| spec == distro.spec()) {
        return Ok(Some(root));
    }
    build_root(distro, &root)?;
    fs::write(&marker, distro.spec()).with_context(|| format!("writing {}", marker.display()))?;
    Ok(Some(root))
}

fn build_root(distro: Distro, root: &Path) -> Result<()> {
    step(format!(
        "VM root: building {} with debootstrap into {} (a few minutes, once)",
        distro.describe(),
        root.display()
    ));
    ensure_debootstrap()?;
    let partial = root.with_extension("partial");
    remove_root(&partial)?;
    remove_root(root)?;
    if let Some(parent) = partial.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let (mirror, _) = crate::setup::bookworm_mirror()?;
    let mut debootstrap = privileged("debootstrap");
    debootstrap
        .args(["--variant=minbase", distro.name()])
        .arg(&partial)
        .arg(&mirror);
    if distro == Distro::Forky {
        // bookworm's debootstrap has no script for forky; sid's fits.
        debootstrap.arg("/usr/share/debootstrap/scripts/sid");
    }
    run_checked(&mut debootstrap)?;

    // forky's Release file on the mirror may be past its Valid-Until date.
    let apt_options = "-o Acquire::Check-Valid-Until=false -o Dpkg::Use-Pty=0";
    let install = format!(
        "export DEBIAN_FRONTEND=noninteractive; \
         apt-get {apt_options} update -q && \
         apt-get {apt_options} install -y -q --no-install-recommends {} && \
         apt-get clean",
        distro.packages().join(" ")
    );
    let proc_dir = partial.join("proc");
    run_checked(
        privileged("mount")
            .args(["-t", "proc", "proc"])
            .arg(&proc_dir),
    )?;
    let installed = run_checked(
        privileged("chroot")
            .arg(&partial)
            .args(["sh", "-c", &install]),
    );
    let unmounted = run_checked(privileged("umount").arg(&proc_dir));
    installed.with_context(|| format!("installing packages into the {} root", distro.name()))?;
    unmounted?;
    fs::rename(&partial, root)
        .with_context(|| format!("moving {} to {}", partial.display(), root.display()))?;
    Ok(())
}

fn ensure_debootstrap() -> Result<()> {
    if Path::new("/usr/sbin/debootstrap").exists() {
        return Ok(());
    }
    step("apt: installing debootstrap");
    run_checked(privileged("apt-get").args(["install", "-y", "-q", "debootstrap"]))
}

/// Remove a root folder, refusing while anything is mounted inside it (a
/// bind-mounted checkout would be deleted with it).
fn remove_root(root: &Path) -> Result<()> {
    if !root.exists() {
        return Ok(());
    }
    let mounts = mounts_below(root);
    if !mounts.is_empty() {
        bail!(
            "{} still has file systems mounted inside ({}); unmount them first",
            root.display(),
            mounts.join(", ")
        );
    }
    run_checked(
        privileged("rm")
            .arg("-rf")
            .arg("--one-file-system")
            .arg(root),
    )
}

/// Mount points at or below `dir`, from /proc/self/mountinfo.
pub fn mounts_below(dir: &Path) -> Vec<String> {
    let prefix = dir.to_string_lossy().trim_end_matches('/').to_owned();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_whitespace().nth(4))
        .filter(|point| *point == prefix || point.starts_with(&format!("{prefix}/")))
        .map(str::to_owned)
        .collect()
}

/// The kernel's modules must be inside the root the VM boots (the runner
/// looks for them under /lib/modules/<release>).
pub fn ensure_modules(root: &Path, release: &str) -> Result<()> {
    let target = root.join("lib/modules").join(release);
    if target.join("modules.dep").exists() {
        return Ok(());
    }
    let source = Path::new("/lib/modules").join(release);
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent)?;
    }
    run_checked(Command::new("cp").arg("-a").arg(&source).arg(&target))
        .with_context(|| format!("copying the kernel's modules into {}", root.display()))
}

/// The checkout, bind-mounted at its own path inside a root for one VM
/// run (the runner shares only folders inside the root); unmounted on drop
/// if this run mounted it.
pub struct CheckoutMount {
    root: PathBuf,
    point: PathBuf,
    mounted: bool,
}

impl CheckoutMount {
    pub fn new(root: &Path, checkout: &Path) -> Result<CheckoutMount> {
        let point = inside(root, checkout);
        fs::create_dir_all(&point).with_context(|| format!("creating {}", point.display()))?;
        let already = mounts_below(&point).iter().any(|m| Path::new(m) == point);
        if !already {
            run_checked(privileged("mount").arg("--bind").arg(checkout).arg(&point))
                .context("bind-mounting the checkout into the VM root")?;
        }
        Ok(CheckoutMount {
            root: root.to_owned(),
            point,
            mounted: !already,
        })
    }

    /// A host path of the checkout as the runner wants it (inside the root).
    pub fn inside(&self, path: &Path) -> PathBuf {
        inside(&self.root, path)
    }
}

fn inside(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

impl Drop for CheckoutMount {
    fn drop(&mut self) {
        if self.mounted {
            // Lazy: a process still leaving (qemu's 9p) must not keep it.
            let _ = privileged("umount").arg("-l").arg(&self.point).status();
        }
    }
}
