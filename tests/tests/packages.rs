//! The Debian packages (`cargo xtask package`) on whichever Debian root the
//! VM booted (`cargo xtask test` runs this binary on bookworm, trixie and
//! forky): built once on Debian 12, they must install with that root's
//! dpkg and dependencies, work with no environment pointing at them
//! (gst-inspect-1.0, a pipeline on the root's Weston, zc-player, man), and
//! leave no file behind once purged.
//!
//! Installing touches the guest's /usr, /etc and /var. The test refuses to
//! run unless those are virtme-ng's throwaway overlays (tmpfs upper layers
//! over the read-only shared root), so neither the host nor a cached root
//! is ever changed; and it purges the packages again even when it fails,
//! so the test binaries run after it in the same VM see the root as it was.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use zc_vm_tests::require_vm;
use zc_vm_tests::weston::{Renderer, Weston};

const PLUGIN_PACKAGE: &str = "gstreamer1.0-zerocopy";
const TOOLS_PACKAGE: &str = "zc-tools";
const ELEMENTS: &[&str] = &[
    "zcexport",
    "zcwaylandsink",
    "zcvulkanconvert",
    "zcthumbnail",
];

/// target/debian/, where `cargo xtask package` writes the .debs.
fn deb_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debian")
}

/// The one .deb of `package` in target/debian/.
fn deb(package: &str) -> PathBuf {
    let prefix = format!("{package}_");
    let found: Vec<PathBuf> = fs::read_dir(deb_dir())
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let name = p.file_name().unwrap().to_string_lossy();
                    name.starts_with(&prefix) && name.ends_with(".deb")
                })
                .collect()
        })
        .unwrap_or_default();
    match found.as_slice() {
        [one] => one.clone(),
        [] => panic!(
            "no {package}_*.deb in {}: run `cargo xtask package` first (`cargo xtask test` does)",
            deb_dir().display()
        ),
        many => panic!("several {package} packages, expected one: {many:?}"),
    }
}

/// One line of /proc/self/mountinfo: mount point, file system type, and
/// the overlay's upper folder if it is one.
struct Mount {
    point: PathBuf,
    fstype: String,
    read_only: bool,
    upper: Option<PathBuf>,
}

fn mounts() -> Vec<Mount> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let dash = fields.iter().position(|f| *f == "-")?;
            let options = fields.get(dash + 3).copied().unwrap_or("");
            Some(Mount {
                point: PathBuf::from(fields.get(4)?),
                fstype: fields.get(dash + 1)?.to_string(),
                read_only: fields.get(5)?.split(',').any(|o| o == "ro"),
                upper: options
                    .split(',')
                    .find_map(|o| o.strip_prefix("upperdir="))
                    .map(PathBuf::from),
            })
        })
        .collect()
}

/// The mount that holds `path` (the longest mount point above it).
fn mount_of<'a>(mounts: &'a [Mount], path: &Path) -> &'a Mount {
    mounts
        .iter()
        .filter(|m| path.starts_with(&m.point))
        .max_by_key(|m| m.point.as_os_str().len())
        .expect("/ is mounted")
}

/// Refuse to install anything unless the folders dpkg writes are
/// throwaway overlays over a read-only root.
fn check_throwaway_root() -> Vec<Mount> {
    let mounts = mounts();
    let root = mount_of(&mounts, Path::new("/"));
    assert!(
        root.read_only,
        "/ is writable in this VM: refusing to install packages into it"
    );
    for dir in ["/usr", "/usr/lib/x86_64-linux-gnu", "/etc", "/var/lib/dpkg"] {
        let mount = mount_of(&mounts, Path::new(dir));
        assert!(
            mount.fstype == "overlay" && mount.upper.is_some(),
            "{dir} is on {} ({}), not a throwaway overlay: refusing to install packages",
            mount.point.display(),
            mount.fstype
        );
    }
    mounts
}

/// Every non-folder in the overlays' upper layers under /usr and /etc, as
/// the path it has in the guest: the files written since the VM booted.
fn written_files(mounts: &[Mount]) -> BTreeSet<PathBuf> {
    fn walk(upper: &Path, dir: &Path, point: &Path, out: &mut BTreeSet<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir {
                walk(upper, &path, point, out);
            } else {
                out.insert(point.join(path.strip_prefix(upper).unwrap()));
            }
        }
    }
    let mut out = BTreeSet::new();
    for mount in mounts {
        let under_usr_or_etc = mount.point.starts_with("/usr") || mount.point.starts_with("/etc");
        if let (Some(upper), true) = (&mount.upper, under_usr_or_etc) {
            walk(upper, upper, &mount.point, &mut out);
        }
    }
    out
}

/// A command with nothing of this process's environment but PATH and a
/// HOME of its own (a fresh GStreamer registry), plus `env`.
fn clean(program: &str, home: &Path, env: &[(&str, &Path)]) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", home);
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

fn run(command: &mut Command) -> (Output, String) {
    let started = std::time::Instant::now();
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!(
        "$ {command:?}\n{} after {:.1} s\n{text}",
        output.status,
        started.elapsed().as_secs_f64()
    );
    (output, text)
}

/// man-db's dpkg trigger rebuilds the whole man index when this file
/// exists: minutes under the VM's emulation, where /var/cache starts empty
/// (seen: 456 s for `dpkg -i`). `man NAME` does not need the index, so the
/// test sets the file aside (in the throwaway /var) while it runs.
const MAN_DB_AUTO_UPDATE: &str = "/var/lib/man-db/auto-update";
const MAN_DB_AUTO_UPDATE_ASIDE: &str = "/var/lib/man-db/auto-update.zc-packages-test";

/// Purges the packages when dropped, so that a failing test leaves the VM's
/// root as it found it for the test binaries after this one; then puts
/// man-db's auto-update flag back.
struct Installed;

impl Installed {
    fn begin() -> Installed {
        if Path::new(MAN_DB_AUTO_UPDATE).exists() {
            fs::rename(MAN_DB_AUTO_UPDATE, MAN_DB_AUTO_UPDATE_ASIDE).unwrap();
        }
        Installed
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        self.purge();
        if Path::new(MAN_DB_AUTO_UPDATE_ASIDE).exists() {
            let _ = fs::rename(MAN_DB_AUTO_UPDATE_ASIDE, MAN_DB_AUTO_UPDATE);
        }
    }
}

impl Installed {
    fn purge(&self) {
        let started = std::time::Instant::now();
        let purged = Command::new("timeout")
            .args(["600", "dpkg", "--purge", TOOLS_PACKAGE, PLUGIN_PACKAGE])
            .output();
        println!(
            "dpkg --purge after {:.1} s: {:?}",
            started.elapsed().as_secs_f64(),
            purged.map(|o| (o.status, String::from_utf8_lossy(&o.stdout).into_owned()))
        );
    }
}

#[test]
fn packages_install_work_and_purge_cleanly() {
    require_vm();
    let mounts = check_throwaway_root();
    let distro = std::env::var("ZC_DISTRO").unwrap_or_else(|_| "bookworm".to_owned());
    let (plugin_deb, tools_deb) = (deb(PLUGIN_PACKAGE), deb(TOOLS_PACKAGE));
    let home = tempfile_dir("zc-packages-home");
    let before = written_files(&mounts);

    let installed = Installed::begin();
    let (output, text) = run(Command::new("dpkg")
        .arg("-i")
        .arg(&plugin_deb)
        .arg(&tools_deb));
    assert!(output.status.success(), "{distro}: dpkg -i failed:\n{text}");

    let (output, listed) = run(Command::new("dpkg").args(["-L", PLUGIN_PACKAGE, TOOLS_PACKAGE]));
    assert!(output.status.success());
    let package_paths: Vec<PathBuf> = listed.lines().map(PathBuf::from).collect();
    let package_files: Vec<&PathBuf> = package_paths.iter().filter(|p| p.is_file()).collect();
    let plugin = package_files
        .iter()
        .find(|p| p.ends_with("gstreamer-1.0/libgstzerocopy.so"))
        .unwrap_or_else(|| panic!("no plugin in {PLUGIN_PACKAGE}: {listed}"));
    for expected in [
        "/usr/bin/zc-player",
        "/usr/share/man/man1/zc-player.1.gz",
        "/usr/share/applications/zc-player.desktop",
        "/usr/share/icons/hicolor/scalable/apps/zc-player.svg",
        "/usr/share/bash-completion/completions/zc-player",
    ] {
        assert!(Path::new(expected).is_file(), "{expected} not installed");
    }

    // No GST_PLUGIN_PATH: the root's GStreamer finds the plugin by itself.
    let (output, inspected) = run(clean("gst-inspect-1.0", &home, &[]).arg("zerocopy"));
    assert!(
        output.status.success(),
        "{distro}: gst-inspect-1.0 zerocopy:\n{inspected}"
    );
    // GStreamer may name it through the /lib -> usr/lib link: compare the real files.
    let loaded = inspected
        .lines()
        .find_map(|line| line.trim().strip_prefix("Filename"))
        .map(|path| PathBuf::from(path.trim()))
        .unwrap_or_else(|| panic!("no Filename in:\n{inspected}"));
    assert_eq!(
        fs::canonicalize(&loaded).unwrap(),
        fs::canonicalize(plugin).unwrap(),
        "{distro}: GStreamer loaded another zerocopy plugin"
    );
    for element in ELEMENTS {
        assert!(
            inspected.contains(element),
            "{distro}: {element} not listed:\n{inspected}"
        );
    }

    {
        let weston = Weston::start(Renderer::Gl, 320, 240);
        let (output, launched) = run(clean(
            "gst-launch-1.0",
            &home,
            &[
                ("WAYLAND_DISPLAY", &weston.socket_path()),
                ("XDG_RUNTIME_DIR", weston.runtime_dir()),
            ],
        )
        .args([
            "-m",
            "videotestsrc",
            "num-buffers=30",
            "!",
            "zcexport",
            "!",
            "zcwaylandsink",
        ]));
        assert!(
            output.status.success(),
            "{distro}: the pipeline failed:\n{launched}\nweston:\n{}",
            weston.log()
        );
        let presented = launched
            .split("frames-presented=(guint64)")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no zc-sink-stats with frames-presented:\n{launched}"));
        assert!(presented > 0, "{distro}: no frame presented:\n{launched}");
    }

    let (output, version) = run(clean("zc-player", &home, &[]).arg("--version"));
    assert!(output.status.success());
    assert!(version.starts_with("zc-player "), "{version}");

    let (output, page) = run(clean("man", &home, &[]).arg("zc-player"));
    assert!(output.status.success(), "{distro}: man zc-player:\n{page}");
    assert!(
        page.contains("--fullscreen") && page.contains("zc-player"),
        "{page}"
    );

    drop(installed);
    for package in [PLUGIN_PACKAGE, TOOLS_PACKAGE] {
        let (output, _) = run(Command::new("dpkg-query").args(["-W", "-f=${Status}", package]));
        let status = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            !output.status.success() || status.contains("not-installed"),
            "{package} still installed after the purge: {status}"
        );
    }
    let left: Vec<&&PathBuf> = package_files.iter().filter(|p| p.exists()).collect();
    assert!(
        left.is_empty(),
        "{distro}: purged, yet still there: {left:?}"
    );
    // Nothing of ours among the files written since the VM booted (trigger
    // caches such as mimeinfo.cache may stay: they are the root's).
    let after = written_files(&mounts);
    let ours: Vec<&PathBuf> = after
        .difference(&before)
        .filter(|p| {
            let text = p.to_string_lossy();
            package_paths.contains(p) || text.contains("zerocopy") || text.contains("zc-")
        })
        .collect();
    assert!(
        ours.is_empty(),
        "{distro}: files left behind by the packages: {ours:?}"
    );
    println!(
        "{distro}: new files in /usr and /etc after purge, none ours: {:?}",
        after.difference(&before).collect::<Vec<_>>()
    );
}

/// A fresh folder under the VM's /tmp.
fn tempfile_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}
