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

/// Packages added to every root after it was first built: installed into
/// an existing root by apt (recorded in `etc/zc-root-added`), so that a
/// root is not rebuilt for them. man-db: `man zc-player` in the packages
/// test (tests/tests/packages.rs); gstreamer1.0-x: `textoverlay` in the
/// subtitle test (tests/tests/subtitle_overlay.rs); gstreamer1.0-alsa:
/// `alsasink`, the player's sound on the VM's dummy sound card
/// (tests/tests/player_audio.rs).
const ADDED_PACKAGES: &[&str] = &["man-db", "gstreamer1.0-x", "gstreamer1.0-alsa"];

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
    if !fs::read_to_string(&marker).is_ok_and(|spec| spec == distro.spec()) {
        build_root(distro, &root)?;
        fs::write(&marker, distro.spec())
            .with_context(|| format!("writing {}", marker.display()))?;
        // build_root installed ADDED_PACKAGES along with the rest.
        let added = root.join("etc/zc-root-added");
        fs::write(&added, added_spec()).with_context(|| format!("writing {}", added.display()))?;
    }
    ensure_added_packages(distro, &root)?;
    Ok(Some(root))
}

/// What `etc/zc-root-added` records once [`ADDED_PACKAGES`] are in a root.
fn added_spec() -> String {
    format!("zc root added: {}\n", ADDED_PACKAGES.join(" "))
}

/// Install [`ADDED_PACKAGES`] into a root built before they were listed
/// (idempotent: nothing to do once the marker says they are there).
fn ensure_added_packages(distro: Distro, root: &Path) -> Result<()> {
    let marker = root.join("etc/zc-root-added");
    if fs::read_to_string(&marker).is_ok_and(|spec| spec == added_spec()) {
        return Ok(());
    }
    step(format!(
        "VM root: adding {} to the {} root",
        ADDED_PACKAGES.join(" "),
        distro.name()
    ));
    chroot_install(distro, root, ADDED_PACKAGES)?;
    fs::write(&marker, added_spec()).with_context(|| format!("writing {}", marker.display()))
}

/// `apt-get install` inside a root (with /proc mounted for the time).
fn chroot_install(distro: Distro, root: &Path, packages: &[&str]) -> Result<()> {
    // forky's Release file on the mirror may be past its Valid-Until date.
    let apt_options = "-o Acquire::Check-Valid-Until=false -o Dpkg::Use-Pty=0";
    let install = format!(
        "export DEBIAN_FRONTEND=noninteractive; \
         apt-get {apt_options} update -q && \
         apt-get {apt_options} install -y -q --no-install-recommends {} && \
         apt-get clean",
        packages.join(" ")
    );
    let proc_dir = root.join("proc");
    run_checked(
        privileged("mount")
            .args(["-t", "proc", "proc"])
            .arg(&proc_dir),
    )?;
    let installed = run_checked(privileged("chroot").arg(root).args(["sh", "-c", &install]));
    let unmounted = run_checked(privileged("umount").arg(&proc_dir));
    installed.with_context(|| format!("installing packages into the {} root", distro.name()))?;
    unmounted
}

fn build_root(distro: Distro, root: &Path) -> Result<()> {
    step(format!(
        "VM root: building {} with debootstrap into {} (a few minutes, once)",
        distro.describe(),
        root.display()
    ));
    ensure_debootstrap()?;
    let partial = root.with_extension("partial");
    // Never stack a build on a root a killed run left the checkout mounted in.
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

    let mut packages = distro.packages();
    packages.extend(ADDED_PACKAGES);
    chroot_install(distro, &partial, &packages)?;
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

/// Remove a root folder. Anything mounted inside it (a checkout a killed
/// run left bind-mounted) is unmounted first; if anything stays mounted,
/// nothing is removed: `rm` would go through a bind mount into the checkout.
fn remove_root(root: &Path) -> Result<()> {
    if !root.exists() {
        return Ok(());
    }
    for point in mounts_below(root) {
        let _ = privileged("umount").arg("-l").arg(&point).status();
    }
    let mounts = mounts_below(root);
    if !mounts.is_empty() {
        bail!(
            "{} still has file systems mounted inside ({}); unmount them first",
            root.display(),
            mounts
                .iter()
                .map(|m| m.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    run_checked(
        privileged("rm")
            .arg("-rf")
            .arg("--one-file-system")
            .arg(root),
    )
}

/// Mount points at or below `dir`, from /proc/self/mountinfo (which lists
/// canonical paths, with spaces and the like escaped as `\040`).
pub fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_whitespace().nth(4))
        .map(|point| PathBuf::from(unescape_mountinfo(point)))
        .filter(|point| point.starts_with(&dir))
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as `\ooo` octal.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let octal = &field[i + 1..i + 4];
            if let Ok(value) = u8::from_str_radix(octal, 8) {
                out.push(value);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
        let canonical = fs::canonicalize(&point).unwrap_or_else(|_| point.clone());
        let mounted_there = mounts_below(&point).contains(&canonical);
        let already = mounted_there && same_folder(&point, checkout);
        if mounted_there && !already {
            // A killed run left another checkout mounted here: one since
            // removed and cloned again at the same path (seen: the VM then
            // said "cannot access .../target on the host").
            run_checked(privileged("umount").arg("-l").arg(&point)).with_context(|| {
                format!(
                    "unmounting {}, a checkout a killed run left mounted in the VM root",
                    point.display()
                )
            })?;
        }
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

/// Whether `a` and `b` are the same folder (device and inode): a mount
/// of a folder since removed is not the folder now at its path.
fn same_folder(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_only_the_same_as_itself() {
        let base = std::env::temp_dir().join(format!("zc-same-folder-{}", std::process::id()));
        let (a, b) = (base.join("a"), base.join("b"));
        fs::create_dir_all(&a).expect("a");
        fs::create_dir_all(&b).expect("b");
        assert!(same_folder(&a, &base.join("b/../a")));
        assert!(!same_folder(&a, &b));
        assert!(!same_folder(&a, &base.join("missing")));
        let _ = fs::remove_dir_all(&base);
    }

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape_mountinfo("/a\\040b/c"), "/a b/c");
        assert_eq!(unescape_mountinfo("/x\\134y"), "/x\\y");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert_eq!(unescape_mountinfo("/end\\04"), "/end\\04");
    }

    #[test]
    fn names_parse_and_say_what_is_valid() {
        for distro in ALL {
            assert_eq!(Distro::parse(distro.name()).ok(), Some(distro));
        }
        let error = Distro::parse("sid")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("trixie") && error.contains("forky"),
            "{error}"
        );
        assert_eq!(Distro::Bookworm.root_dir(), None);
    }
}
