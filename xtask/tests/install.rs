//! `cargo xtask install` and `uninstall` for real, into temporary folders:
//! what lands where, that the system's tools accept it (troff man pages,
//! desktop-file-validate, GStreamer loading the plugin), that a user's file
//! is never replaced, and that uninstall leaves the folder as it found it.
//!
//! Uses the debug build (`--profile dev`), which the native suite has built.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PROGRAMS: &[&str] = &[
    "zc-player",
    "zc-playerctl",
    "zc-bench",
    "zc-thumbnail",
    "zc-info",
];
const ELEMENTS: &[&str] = &[
    "zcexport",
    "zcwaylandsink",
    "zcvulkanconvert",
    "zcthumbnail",
];

fn xtask(args: &[&str], home: Option<&Path>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command.args(args);
    if let Some(home) = home {
        command.env("HOME", home).env_remove("XDG_DATA_HOME");
    }
    let output = command.output().unwrap();
    eprintln!(
        "xtask {}: {}\n{}{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Every path below `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(root).unwrap().to_owned());
            if path.is_dir() && !path.is_symlink() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// gst-inspect-1.0 zerocopy with a registry of its own and no inherited
/// GST_PLUGIN_PATH; `plugin_path` adds one.
fn inspect(scratch: &Path, plugin_path: Option<&Path>, home: Option<&Path>) -> String {
    let mut command = Command::new("gst-inspect-1.0");
    command
        .arg("zerocopy")
        .env_remove("GST_PLUGIN_PATH")
        .env_remove("GST_PLUGIN_PATH_1_0")
        .env("GST_REGISTRY", scratch.join("registry.bin"));
    if let Some(path) = plugin_path {
        command.env("GST_PLUGIN_PATH", path);
    }
    if let Some(home) = home {
        command.env("HOME", home).env_remove("XDG_DATA_HOME");
    }
    let output = command
        .output()
        .expect("gst-inspect-1.0 (gstreamer1.0-tools)");
    assert!(
        output.status.success(),
        "gst-inspect-1.0 zerocopy: {output:?}"
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn check_installed(prefix: &Path, plugin_dir: &Path, share: &Path, bin: &Path) {
    for program in PROGRAMS {
        let binary = bin.join(program);
        let mode = fs::metadata(&binary).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755, "{}", binary.display());
        let page = fs::read_to_string(share.join(format!("man/man1/{program}.1"))).unwrap();
        assert!(
            (page.starts_with(".ie") || page.starts_with(".TH")) && page.contains(".SH NAME"),
            "{program}.1 is not a troff man page: {page:.200}"
        );
        assert!(
            page.contains(&program.replace('-', "\\-")),
            "{program}.1 names another program"
        );
        for completion in [
            format!("bash-completion/completions/{program}"),
            format!("fish/vendor_completions.d/{program}.fish"),
        ] {
            let script = fs::read_to_string(share.join(&completion)).unwrap();
            assert!(
                script.contains(program) && script.contains("help"),
                "{completion}: {script:.200}"
            );
        }
    }
    let version = Command::new(bin.join("zc-player"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("zc-player "));

    let desktop = share.join("applications/zc-player.desktop");
    let validate = Command::new("desktop-file-validate")
        .arg(&desktop)
        .output()
        .expect("desktop-file-validate (desktop-file-utils; `cargo xtask setup` installs it)");
    assert!(
        validate.status.success() && validate.stdout.is_empty(),
        "desktop-file-validate {}: {validate:?}",
        desktop.display()
    );
    let icon = fs::read_to_string(share.join("icons/hicolor/scalable/apps/zc-player.svg")).unwrap();
    assert!(icon.contains("<svg"), "the icon is no SVG");
    assert!(plugin_dir.join("libgstzerocopy.so").is_file());
    assert!(
        prefix.join("share/zc/install-manifest.txt").is_file()
            || share.join("zc/install-manifest.txt").is_file()
    );
}

#[test]
fn install_into_a_prefix_and_uninstall_leave_it_empty() {
    let scratch = tempfile::tempdir().unwrap();
    let prefix = scratch.path().join("prefix");
    fs::create_dir(&prefix).unwrap();
    let prefix_arg = prefix.to_str().unwrap();

    // No installation yet: uninstall refuses and removes nothing.
    let refused = xtask(&["uninstall", "--prefix", prefix_arg], None);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no zc installation"));

    // A file of the user's where zc would put one: refused, nothing written.
    fs::create_dir(prefix.join("bin")).unwrap();
    fs::write(prefix.join("bin/zc-info"), "mine").unwrap();
    let refused = xtask(
        &["install", "--prefix", prefix_arg, "--profile", "dev"],
        None,
    );
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("bin/zc-info exists and was not installed by zc"),
        "{message}"
    );
    assert_eq!(
        tree(&prefix),
        [PathBuf::from("bin"), PathBuf::from("bin/zc-info")]
    );
    assert_eq!(
        fs::read_to_string(prefix.join("bin/zc-info")).unwrap(),
        "mine"
    );
    fs::remove_dir_all(prefix.join("bin")).unwrap();

    let installed = xtask(
        &["install", "--prefix", prefix_arg, "--profile", "dev"],
        None,
    );
    assert!(installed.status.success());
    assert!(String::from_utf8_lossy(&installed.stdout).contains("GST_PLUGIN_PATH"));
    let plugin_dir = prefix.join("lib/gstreamer-1.0");
    check_installed(
        &prefix,
        &plugin_dir,
        &prefix.join("share"),
        &prefix.join("bin"),
    );
    let listed = inspect(scratch.path(), Some(&plugin_dir), None);
    for element in ELEMENTS {
        assert!(listed.contains(element), "{element} missing: {listed}");
    }
    let first = tree(&prefix);

    // Again over its own files: allowed, same result.
    let again = xtask(
        &[
            "install",
            "--prefix",
            prefix_arg,
            "--profile",
            "dev",
            "--no-build",
        ],
        None,
    );
    assert!(again.status.success());
    assert_eq!(tree(&prefix), first);

    let removed = xtask(&["uninstall", "--prefix", prefix_arg], None);
    assert!(removed.status.success());
    assert_eq!(
        tree(&prefix),
        Vec::<PathBuf>::new(),
        "uninstall left files behind"
    );

    // A file the user put into a folder zc created survives uninstall, and so
    // does its folder.
    let installed = xtask(
        &[
            "install",
            "--prefix",
            prefix_arg,
            "--profile",
            "dev",
            "--no-build",
        ],
        None,
    );
    assert!(installed.status.success());
    fs::write(prefix.join("share/man/man1/mine.1"), ".TH MINE 1").unwrap();
    let removed = xtask(&["uninstall", "--prefix", prefix_arg], None);
    assert!(removed.status.success());
    assert_eq!(
        tree(&prefix),
        [
            "share",
            "share/man",
            "share/man/man1",
            "share/man/man1/mine.1"
        ]
        .map(PathBuf::from)
    );
}

#[test]
fn install_for_the_user_is_found_by_gstreamer_without_plugin_path() {
    let scratch = tempfile::tempdir().unwrap();
    let home = scratch.path().join("home");
    fs::create_dir(&home).unwrap();
    let installed = xtask(&["install", "--user", "--profile", "dev"], Some(&home));
    assert!(installed.status.success());
    let share = home.join(".local/share");
    let plugin_dir = share.join("gstreamer-1.0/plugins");
    check_installed(&home, &plugin_dir, &share, &home.join(".local/bin"));
    let listed = inspect(scratch.path(), None, Some(&home));
    assert!(
        listed.contains(&plugin_dir.join("libgstzerocopy.so").display().to_string()),
        "{listed}"
    );
    for element in ELEMENTS {
        assert!(listed.contains(element), "{element} missing: {listed}");
    }
    let removed = xtask(&["uninstall", "--user"], Some(&home));
    assert!(removed.status.success());
    assert_eq!(
        tree(&home),
        Vec::<PathBuf>::new(),
        "uninstall --user left files behind"
    );
}
