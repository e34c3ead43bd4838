//! What zc ships, built and laid out once for `install` and `package`: the
//! programs, the GStreamer plugin, man pages and shell completions generated
//! from the programs' clap definitions, the desktop entry and the icon.
//!
//! Everything lands in one folder, `target/zc-dist/` for cargo-deb (its
//! assets point there):
//!
//! ```text
//! bin/zc-player ...        the programs
//! plugin/libgstzerocopy.so the plugin
//! man1/zc-player.1 ...     troff man pages
//! bash/ zsh/ fish/         completions
//! applications/zc-player.desktop
//! icons/zc-player.svg
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{repo_root, run_checked, step};

/// The programs installed into bin/, each with a man page and completions.
pub const PROGRAMS: &[&str] = &[
    "zc-player",
    "zc-playerctl",
    "zc-bench",
    "zc-thumbnail",
    "zc-info",
];

/// The plugin's file name (`libgst<name>.so`, GStreamer's naming rule).
pub const PLUGIN_FILE: &str = "libgstzerocopy.so";

/// The desktop entry's and the icon's name (the player's Wayland app_id).
pub const DESKTOP_ID: &str = "zc-player";

/// The folder cargo-deb's assets name (app/Cargo.toml): outside
/// target/release/, which cargo-deb takes for build products and would not
/// compress man pages from.
pub fn dist_dir() -> PathBuf {
    repo_root().join("target/zc-dist")
}

/// The first argument that makes a program write its man page and
/// completions (app/src/cli_docs.rs).
const GENERATE_FLAG: &str = "--generate-cli-docs";

/// A cargo profile: `release` (what ships) or `dev` (the debug build, for
/// quick checks and tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile(String);

impl Profile {
    pub fn release() -> Profile {
        Profile("release".to_owned())
    }

    pub fn parse(name: &str) -> Result<Profile> {
        match name {
            "release" | "dev" => Ok(Profile(name.to_owned())),
            other => bail!("unknown profile `{other}`: expected release or dev"),
        }
    }

    /// The folder under target/ that cargo builds this profile into.
    pub fn target_dir(&self) -> PathBuf {
        let folder = if self.0 == "dev" { "debug" } else { &self.0 };
        target_root().join(folder)
    }
}

fn target_root() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// Build the plugin and the programs.
pub fn build(profile: &Profile) -> Result<()> {
    step(format!(
        "dist: cargo build --profile {} (the plugin and the programs)",
        profile.0
    ));
    run_checked(
        Command::new(crate::util::cargo())
            .current_dir(repo_root())
            .args(["build", "--profile", &profile.0])
            .args(["--package", "gst-plugin-zerocopy", "--package", "zc-app"]),
    )
}

/// The laid-out files of one profile's build.
pub struct Staged {
    pub root: PathBuf,
    /// Removed when dropped (an install's own folder).
    pub temporary: bool,
}

impl Staged {
    pub fn bin(&self, program: &str) -> PathBuf {
        self.root.join("bin").join(program)
    }
    pub fn plugin(&self) -> PathBuf {
        self.root.join("plugin").join(PLUGIN_FILE)
    }
    pub fn man_page(&self, program: &str) -> PathBuf {
        self.root.join("man1").join(format!("{program}.1"))
    }
    pub fn bash(&self, program: &str) -> PathBuf {
        self.root.join("bash").join(program)
    }
    pub fn zsh(&self, program: &str) -> PathBuf {
        self.root.join("zsh").join(format!("_{program}"))
    }
    pub fn fish(&self, program: &str) -> PathBuf {
        self.root.join("fish").join(format!("{program}.fish"))
    }
    pub fn desktop(&self) -> PathBuf {
        self.root
            .join("applications")
            .join(format!("{DESKTOP_ID}.desktop"))
    }
    pub fn icon(&self) -> PathBuf {
        self.root.join("icons").join(format!("{DESKTOP_ID}.svg"))
    }
}

/// Lay out an already built profile in `root` (cargo-deb reads
/// [`dist_dir`]; each install takes a folder of its own, so that installs
/// running at once do not clear each other's): copy the binaries and the
/// plugin, have each program write its man page and completions, copy the
/// desktop entry and the icon from data/.
pub fn stage(profile: &Profile, root: PathBuf) -> Result<Staged> {
    let built = profile.target_dir();
    if root.exists() {
        fs::remove_dir_all(&root).with_context(|| format!("clearing {}", root.display()))?;
    }
    let staged = Staged {
        temporary: root != dist_dir(),
        root,
    };
    for program in PROGRAMS {
        let binary = built.join(program);
        require_built(&binary, profile)?;
        copy(&binary, &staged.bin(program))?;
        let status = Command::new(&binary)
            .arg(GENERATE_FLAG)
            .arg(&staged.root)
            .status()
            .with_context(|| format!("running {}", binary.display()))?;
        if !status.success() {
            bail!(
                "{} {GENERATE_FLAG} {} failed with {status}",
                binary.display(),
                staged.root.display()
            );
        }
        for generated in [
            staged.man_page(program),
            staged.bash(program),
            staged.zsh(program),
            staged.fish(program),
        ] {
            if !generated.is_file() {
                bail!(
                    "{program} {GENERATE_FLAG} did not write {} (is {} older than app/src/cli_docs.rs? rebuild it)",
                    generated.display(),
                    binary.display()
                );
            }
        }
    }
    let plugin = built.join(PLUGIN_FILE);
    require_built(&plugin, profile)?;
    copy(&plugin, &staged.plugin())?;
    let data = repo_root().join("data");
    copy(
        &data.join(format!("{DESKTOP_ID}.desktop")),
        &staged.desktop(),
    )?;
    copy(&data.join(format!("{DESKTOP_ID}.svg")), &staged.icon())?;
    Ok(staged)
}

fn require_built(path: &Path, profile: &Profile) -> Result<()> {
    if !path.is_file() {
        bail!(
            "{} is missing: build it first (cargo build --profile {} -p gst-plugin-zerocopy -p zc-app), or leave out --no-build",
            path.display(),
            profile.0
        );
    }
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    fs::copy(from, to)
        .map(|_| ())
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.temporary {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}
