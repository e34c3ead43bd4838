//! `cargo xtask package`: Debian packages built with cargo-deb (installed
//! here on demand, pinned):
//!
//! - `gstreamer1.0-zerocopy`: the plugin, in the multiarch plugin folder
//!   (`/usr/lib/<triplet>/gstreamer-1.0`), depending on the GStreamer
//!   libraries it links (dpkg-shlibdeps, and >= 1.22 explicitly);
//! - `zc-tools`: the programs, their man pages, bash/zsh/fish completions,
//!   the player's desktop entry and icon; depends on the plugin package.
//!
//! The metadata lives in plugins/gst/Cargo.toml and app/Cargo.toml
//! (`[package.metadata.deb]`). Built once on Debian 12, against its
//! GStreamer 1.22, they install on Debian 12, 13 and testing (the VM suite's
//! tests/tests/packages.rs checks that on each). Output: target/debian/.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::dist::{self, Profile};
use crate::util::{cargo, output_checked, repo_root, step};

/// The cargo-deb release installed when none is found.
const CARGO_DEB_VERSION: &str = "3.8.0";

/// (cargo package, Debian package, cargo-deb's extra arguments).
pub const PACKAGES: &[(&str, &str, &[&str])] = &[
    (
        "gst-plugin-zerocopy",
        "gstreamer1.0-zerocopy",
        &["--multiarch=same"],
    ),
    ("zc-app", "zc-tools", &[]),
];

/// Where the .debs go.
pub fn output_dir() -> PathBuf {
    repo_root().join("target/debian")
}

/// `cargo xtask package [--no-build]`: the .debs in target/debian/.
pub fn run(args: &[String]) -> Result<()> {
    let mut build = true;
    for arg in args {
        match arg.as_str() {
            "--no-build" => build = false,
            other => bail!("unknown argument `{other}`\nusage: cargo xtask package [--no-build]"),
        }
    }
    let debs = build_packages(build)?;
    println!();
    for deb in &debs {
        let size = fs::metadata(deb).map(|m| m.len()).unwrap_or(0);
        println!("{} ({:.1} MB)", deb.display(), size as f64 / 1e6);
    }
    println!(
        "install with: sudo apt install {}",
        debs.iter()
            .map(|d| relative(d))
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(())
}

fn relative(path: &Path) -> String {
    let shown = path.strip_prefix(repo_root()).unwrap_or(path);
    format!("./{}", shown.display())
}

/// Build release, stage, and make both packages; their paths.
pub fn build_packages(build: bool) -> Result<Vec<PathBuf>> {
    ensure_cargo_deb()?;
    let profile = Profile::release();
    if build {
        dist::build(&profile)?;
    }
    dist::stage(&profile, dist::dist_dir())?;
    let version = deb_version()?;
    let out = output_dir();
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    remove_old_debs(&out)?;
    let mut debs = Vec::new();
    for (crate_name, deb_name, extra) in PACKAGES {
        step(format!(
            "package: {deb_name} {version} (cargo deb -p {crate_name})"
        ));
        let printed = output_checked(
            Command::new(cargo())
                .current_dir(repo_root())
                // --strip: the release profile keeps line tables for
                // backtraces; the packages ship without them.
                .args(["deb", "--no-build", "--strip", "--package", crate_name])
                .args(["--deb-version", &version])
                .arg("--output")
                .arg(&out)
                .args(*extra)
                .stderr(Stdio::inherit()),
        )?;
        let deb = printed
            .lines()
            .rev()
            .map(str::trim)
            .find(|line| line.ends_with(".deb"))
            .map(PathBuf::from)
            .with_context(|| format!("cargo deb printed no .deb path for {deb_name}: {printed}"))?;
        if !deb.is_file() {
            bail!(
                "cargo deb said it wrote {}, which is not there",
                deb.display()
            );
        }
        debs.push(deb);
    }
    Ok(debs)
}

/// Earlier builds' packages of ours, so target/debian/*.deb is one set.
fn remove_old_debs(out: &Path) -> Result<()> {
    for entry in fs::read_dir(out)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = PACKAGES
            .iter()
            .any(|(_, deb, _)| name.starts_with(&format!("{deb}_")));
        if ours && name.ends_with(".deb") {
            fs::remove_file(entry.path())
                .with_context(|| format!("removing {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// The workspace version plus the git revision: `0.1.0~git20261204231500.1be8ead-1`.
/// `~` sorts before the bare version, so the release of 0.1.0 supersedes
/// its snapshots; the commit's UTC time orders snapshots; `.dirty` marks a
/// build with uncommitted changes.
pub fn deb_version() -> Result<String> {
    let workspace = workspace_version()?;
    let git = |args: &[&str]| {
        output_checked(
            Command::new("git")
                .current_dir(repo_root())
                .env("TZ", "UTC")
                .args(args),
        )
        .map(|s| s.trim().to_owned())
    };
    let time = git(&[
        "log",
        "-1",
        "--date=format-local:%Y%m%d%H%M%S",
        "--format=%cd",
    ])?;
    let hash = git(&["rev-parse", "--short=7", "HEAD"])?;
    let dirty = !git(&["status", "--porcelain", "--untracked-files=no"])?.is_empty();
    Ok(snapshot_version(&workspace, &time, &hash, dirty))
}

pub fn snapshot_version(workspace: &str, time: &str, hash: &str, dirty: bool) -> String {
    let dirty = if dirty { ".dirty" } else { "" };
    format!("{workspace}~git{time}.{hash}{dirty}-1")
}

/// `version` from the workspace's Cargo.toml (`[workspace.package]`).
fn workspace_version() -> Result<String> {
    let path = repo_root().join("Cargo.toml");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == "[workspace.package]";
        } else if in_section && let Some(value) = line.strip_prefix("version") {
            let value = value
                .trim_start()
                .trim_start_matches('=')
                .trim()
                .trim_matches('"');
            if !value.is_empty() {
                return Ok(value.to_owned());
            }
        }
    }
    bail!("no version in [workspace.package] of {}", path.display())
}

fn ensure_cargo_deb() -> Result<()> {
    crate::util::ensure_cargo_tool("package", "deb", "cargo-deb", CARGO_DEB_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dpkg's own ordering: later commits are newer, a dirty build is newer
    /// than its commit, and the release of the workspace version supersedes
    /// every snapshot of it.
    #[test]
    fn snapshot_versions_order_as_dpkg_sees_them() {
        let older = snapshot_version("0.1.0", "20261204093000", "fffffff", false);
        let newer = snapshot_version("0.1.0", "20261204231500", "0000000", false);
        let dirty = snapshot_version("0.1.0", "20261204231500", "0000000", true);
        assert_eq!(newer, "0.1.0~git20261204231500.0000000-1");
        for (low, high) in [
            (&older, &newer),
            (&newer, &dirty),
            (&dirty, &"0.1.0-1".to_owned()),
        ] {
            let status = Command::new("dpkg")
                .args(["--compare-versions", low, "lt", high])
                .status()
                .unwrap();
            assert!(status.success(), "{low} should sort before {high}");
        }
    }

    #[test]
    fn the_workspace_version_is_read() {
        let version = workspace_version().unwrap();
        assert!(version.split('.').count() == 3, "{version}");
    }
}
