//! The install manifest: every file `cargo xtask install` put into a
//! prefix and every folder it created there, so that `cargo xtask
//! uninstall` removes exactly those and nothing else.
//!
//! A text file, one entry a line, absolute paths:
//!
//! ```text
//! # zc install manifest v1 ...
//! dir /opt/zc/share/zc
//! file /opt/zc/bin/zc-player
//! ```
//!
//! Folders are listed in the order they were created (parents first) and
//! removed in the reverse order, each only if it is empty by then.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

const HEADER: &str = "# zc install manifest v1: written by `cargo xtask install`; `cargo xtask uninstall` removes exactly these files and, when empty, these folders";

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Folders install created, parents first.
    pub dirs: Vec<PathBuf>,
    /// Files install wrote.
    pub files: Vec<PathBuf>,
}

impl Manifest {
    /// Parse a manifest's text; `path` is for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest> {
        let mut manifest = Manifest::default();
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, first)) if first.starts_with("# zc install manifest v1") => {}
            _ => bail!(
                "{} is not a zc install manifest (its first line should start with `# zc install manifest v1`); nothing removed",
                path.display()
            ),
        }
        for (number, line) in lines {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (kind, entry) = line.split_once(' ').with_context(|| {
                format!(
                    "{}:{}: expected `dir PATH` or `file PATH`, got `{line}`",
                    path.display(),
                    number + 1
                )
            })?;
            let entry = PathBuf::from(entry);
            if !entry.is_absolute() || entry.components().any(|c| c.as_os_str() == "..") {
                bail!(
                    "{}:{}: `{}` is not an absolute path without `..`",
                    path.display(),
                    number + 1,
                    entry.display()
                );
            }
            match kind {
                "dir" => manifest.dirs.push(entry),
                "file" => manifest.files.push(entry),
                other => bail!(
                    "{}:{}: unknown entry kind `{other}` (expected dir or file)",
                    path.display(),
                    number + 1
                ),
            }
        }
        Ok(manifest)
    }

    /// Read the manifest at `path`; `None` if there is none.
    pub fn read(path: &Path) -> Result<Option<Manifest>> {
        match fs::read_to_string(path) {
            Ok(text) => Manifest::parse(&text, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn to_text(&self) -> String {
        let mut text = format!("{HEADER}\n");
        for dir in &self.dirs {
            text.push_str(&format!("dir {}\n", dir.display()));
        }
        for file in &self.files {
            text.push_str(&format!("file {}\n", file.display()));
        }
        text
    }

    /// Write it (through a temporary file and a rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        let partial = path.with_extension("txt.partial");
        fs::write(&partial, self.to_text())
            .with_context(|| format!("writing {}", partial.display()))?;
        fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))
    }

    /// Every entry must lie below `root`; a manifest naming anything else
    /// was not written by install for this prefix.
    pub fn check_inside(&self, root: &Path, path: &Path) -> Result<()> {
        // A prefix install created may be removed; files lie strictly inside.
        let dirs = self.dirs.iter().map(|d| (d, true));
        for (entry, is_dir) in dirs.chain(self.files.iter().map(|f| (f, false))) {
            if !entry.starts_with(root) || (entry == root && !is_dir) {
                bail!(
                    "{} names {}, which is not inside {}: refusing to remove anything",
                    path.display(),
                    entry.display(),
                    root.display()
                );
            }
        }
        Ok(())
    }

    pub fn add_file(&mut self, file: &Path) {
        if !self.files.iter().any(|f| f == file) {
            self.files.push(file.to_owned());
        }
    }

    pub fn add_dir(&mut self, dir: &Path) {
        if !self.dirs.iter().any(|d| d == dir) {
            self.dirs.push(dir.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips() {
        let manifest = Manifest {
            dirs: vec![PathBuf::from("/p/share"), PathBuf::from("/p/share/zc")],
            files: vec![PathBuf::from("/p/bin/zc player")],
        };
        let parsed = Manifest::parse(&manifest.to_text(), Path::new("m")).unwrap();
        assert_eq!(parsed, manifest);
    }

    #[test]
    fn foreign_or_unsafe_manifests_are_refused() {
        let path = Path::new("m");
        assert!(Manifest::parse("file /x\n", path).is_err());
        assert!(Manifest::parse(&format!("{HEADER}\nfile relative/x\n"), path).is_err());
        assert!(Manifest::parse(&format!("{HEADER}\nfile /p/../etc/passwd\n"), path).is_err());
        assert!(Manifest::parse(&format!("{HEADER}\nlink /p/x\n"), path).is_err());
        let outside = Manifest::parse(&format!("{HEADER}\nfile /etc/passwd\n"), path).unwrap();
        assert!(outside.check_inside(Path::new("/p"), path).is_err());
        let inside = Manifest::parse(&format!("{HEADER}\nfile /p/bin/x\n"), path).unwrap();
        assert!(inside.check_inside(Path::new("/p"), path).is_ok());
    }
}
