//! Where `cargo xtask install` puts each kind of file, for a prefix or for
//! the user: the places the system's GStreamer, shell, man and desktop look
//! in by themselves.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

/// The folders one installation uses.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Everything installed lies below this (the prefix, or $HOME for --user).
    pub root: PathBuf,
    pub bin: PathBuf,
    pub plugin: PathBuf,
    pub man1: PathBuf,
    pub bash: PathBuf,
    pub zsh: PathBuf,
    pub fish: PathBuf,
    pub applications: PathBuf,
    pub icons: PathBuf,
    pub manifest: PathBuf,
    /// Things to tell the user after installing (e.g. GST_PLUGIN_PATH).
    pub notes: Vec<String>,
}

impl Layout {
    /// The layout under `prefix`. `/usr` gets the distribution's plugin
    /// folder and Debian's zsh folder; any other prefix gets
    /// PREFIX/lib/gstreamer-1.0, which GStreamer finds only through
    /// GST_PLUGIN_PATH.
    pub fn for_prefix(prefix: &Path) -> Result<Layout> {
        if !prefix.is_absolute() {
            bail!(
                "--prefix {} is not an absolute path (e.g. --prefix /usr/local)",
                prefix.display()
            );
        }
        let share = prefix.join("share");
        let system = prefix == Path::new("/usr");
        let mut notes = Vec::new();
        let plugin = if system {
            system_plugin_dir()
        } else {
            let dir = prefix.join("lib/gstreamer-1.0");
            notes.push(format!(
                "GStreamer looks for plugins in its own folder and in ~/.local/share/gstreamer-1.0/plugins only: \
                 for this prefix, export GST_PLUGIN_PATH={} (or install with --prefix /usr or --user)",
                dir.display()
            ));
            dir
        };
        let zsh = if system {
            share.join("zsh/vendor-completions")
        } else {
            share.join("zsh/site-functions")
        };
        Ok(Layout {
            root: prefix.to_owned(),
            bin: prefix.join("bin"),
            plugin,
            man1: share.join("man/man1"),
            bash: share.join("bash-completion/completions"),
            zsh,
            fish: share.join("fish/vendor_completions.d"),
            applications: share.join("applications"),
            icons: share.join("icons/hicolor/scalable/apps"),
            manifest: share.join("zc/install-manifest.txt"),
            notes,
        })
    }

    /// The per-user layout: ~/.local/bin and $XDG_DATA_HOME (default
    /// ~/.local/share), where GStreamer, man, bash-completion, fish and the
    /// desktop look for a user's own files.
    pub fn for_user() -> Result<Layout> {
        let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
            bail!("--user needs HOME to be set");
        };
        let home = PathBuf::from(home);
        let data = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .filter(|d| d.is_absolute())
            .unwrap_or_else(|| home.join(".local/share"));
        let root = if data.starts_with(&home) {
            home.clone()
        } else {
            PathBuf::from("/")
        };
        let bin = home.join(".local/bin");
        let mut notes = vec![format!(
            "zsh: add {} to your fpath for completions",
            data.join("zsh/site-functions").display()
        )];
        let on_path = std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|p| p == bin));
        if !on_path {
            notes.push(format!(
                "{} is not on your PATH: add it to run zc-player by name",
                bin.display()
            ));
        }
        Ok(Layout {
            root,
            bin,
            plugin: data.join("gstreamer-1.0/plugins"),
            man1: data.join("man/man1"),
            bash: data.join("bash-completion/completions"),
            zsh: data.join("zsh/site-functions"),
            fish: data.join("fish/vendor_completions.d"),
            applications: data.join("applications"),
            icons: data.join("icons/hicolor/scalable/apps"),
            manifest: data.join("zc/install-manifest.txt"),
            notes,
        })
    }
}

/// The distribution's GStreamer plugin folder: pkg-config's `pluginsdir`
/// when it is under /usr, else /usr/lib/<multiarch triplet>/gstreamer-1.0.
pub fn system_plugin_dir() -> PathBuf {
    let from_pkg_config = Command::new("pkg-config")
        .args(["--variable=pluginsdir", "gstreamer-1.0"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|dir| dir.starts_with("/usr/lib"));
    if let Some(dir) = from_pkg_config {
        return dir;
    }
    let triplet = [
        "dpkg-architecture -qDEB_HOST_MULTIARCH",
        "gcc -print-multiarch",
    ]
    .iter()
    .find_map(|line| {
        let mut words = line.split(' ');
        let output = Command::new(words.next()?).args(words).output().ok()?;
        let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        (output.status.success() && !text.is_empty()).then_some(text)
    });
    match triplet {
        Some(triplet) => PathBuf::from("/usr/lib")
            .join(triplet)
            .join("gstreamer-1.0"),
        None => PathBuf::from("/usr/lib/gstreamer-1.0"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_prefixes_use_lib_gstreamer_and_say_so() {
        let layout = Layout::for_prefix(Path::new("/opt/zc")).unwrap();
        assert_eq!(layout.plugin, Path::new("/opt/zc/lib/gstreamer-1.0"));
        assert!(layout.notes.iter().any(|n| n.contains("GST_PLUGIN_PATH")));
        assert_eq!(layout.man1, Path::new("/opt/zc/share/man/man1"));
        assert!(Layout::for_prefix(Path::new("relative")).is_err());
    }

    #[test]
    fn usr_uses_the_distributions_plugin_folder() {
        let layout = Layout::for_prefix(Path::new("/usr")).unwrap();
        assert!(layout.plugin.starts_with("/usr/lib"), "{layout:?}");
        assert!(layout.plugin.ends_with("gstreamer-1.0"), "{layout:?}");
        assert!(layout.notes.is_empty());
    }
}
