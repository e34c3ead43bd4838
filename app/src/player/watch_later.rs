//! Where playback stopped, kept between runs as mpv's `watch_later` does:
//! one small file per input under `$XDG_STATE_HOME/zc-player/watch_later/`
//! (`~/.local/state/...` without it), named by a hash of the input's URI
//! (which holds its absolute path), written whole (a temporary file beside
//! it, then a rename) so a crash never leaves half a file.
//!
//! The file is text: a comment naming the URI, then `start=SECONDS`. A file
//! that does not parse, or names another URI, is ignored with a warning.

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// The folder below the state folder.
const SUBFOLDER: &str = "zc-player/watch_later";
/// Longest state file read (they are a few dozen bytes).
const MAX_FILE: u64 = 64 * 1024;

/// Why a position could not be read or kept.
#[derive(Debug, thiserror::Error)]
pub enum WatchLaterError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a zc-player state file ({why}); ignored")]
    Invalid { path: String, why: String },
}

/// The state folder from the environment's values: `$XDG_STATE_HOME` when
/// it is an absolute path (the XDG rule), else `$HOME/.local/state`.
pub fn state_home(xdg_state_home: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
    match xdg_state_home.map(Path::new).filter(|p| p.is_absolute()) {
        Some(dir) => Some(dir.to_owned()),
        None => home
            .map(Path::new)
            .filter(|p| p.is_absolute())
            .map(|h| h.join(".local/state")),
    }
}

/// The file name for `uri`: FNV-1a (64 bits) of its bytes in hex. Not a
/// secret, only a stable short name; the file names its URI to catch the
/// rare collision.
pub fn key(uri: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in uri.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016X}")
}

/// The file's text for `uri` stopped at `seconds`.
pub fn format_state(uri: &str, seconds: f64) -> String {
    // A URI has no line breaks; escape them anyway so the file stays two lines.
    let uri = uri.replace(['\n', '\r'], " ");
    format!("# {uri}\nstart={seconds:.6}\n")
}

/// The position in a state file's text, which must name `uri`.
pub fn parse_state(text: &str, uri: &str) -> Result<f64, String> {
    let mut named = None;
    let mut start = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix('#') {
            named.get_or_insert(comment.trim());
        } else if let Some(value) = line.strip_prefix("start=") {
            let seconds: f64 = value
                .trim()
                .parse()
                .map_err(|_| format!("`start={value}` is not a number of seconds"))?;
            if !seconds.is_finite() || seconds < 0.0 {
                return Err(format!("`start={value}` is not 0 or more seconds"));
            }
            start = Some(seconds);
        } else {
            return Err(format!("unexpected line `{line}`"));
        }
    }
    let wanted = uri.replace(['\n', '\r'], " ");
    if named != Some(wanted.as_str()) {
        return Err("it is for another file".to_owned());
    }
    start.ok_or_else(|| "no `start=` line".to_owned())
}

/// The folder of state files.
#[derive(Clone, Debug)]
pub struct WatchLater {
    dir: PathBuf,
}

impl WatchLater {
    /// The folder under `state_home` (see [`state_home`]).
    pub fn new(state_home: &Path) -> WatchLater {
        WatchLater {
            dir: state_home.join(SUBFOLDER),
        }
    }

    /// From the process's environment; `None` without a usable state folder.
    pub fn from_env() -> Option<WatchLater> {
        let xdg = std::env::var("XDG_STATE_HOME").ok();
        let home = std::env::var("HOME").ok();
        state_home(xdg.as_deref(), home.as_deref()).map(|dir| WatchLater::new(&dir))
    }

    pub fn path_for(&self, uri: &str) -> PathBuf {
        self.dir.join(key(uri))
    }

    /// Where `uri` stopped last time, if it did.
    pub fn load(&self, uri: &str) -> Result<Option<f64>, WatchLaterError> {
        let path = self.path_for(uri);
        let io = |source| WatchLaterError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_FILE), &mut text)
            .map_err(io)?;
        parse_state(&text, uri)
            .map(Some)
            .map_err(|why| WatchLaterError::Invalid {
                path: path.display().to_string(),
                why,
            })
    }

    /// Keep `seconds` for `uri`: the folder made (0700) if needed, a
    /// temporary file written beside the state file and renamed over it.
    pub fn save(&self, uri: &str, seconds: f64) -> Result<PathBuf, WatchLaterError> {
        let path = self.path_for(uri);
        let io = |source| WatchLaterError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(io)?;
        let mut staged = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.dir)
            .map_err(io)?;
        staged
            .write_all(format_state(uri, seconds).as_bytes())
            .and_then(|()| staged.as_file().sync_all())
            .map_err(io)?;
        staged.persist(&path).map_err(|e| io(e.error))?;
        Ok(path)
    }

    /// Forget `uri`'s position (once it resumed, as mpv does).
    pub fn forget(&self, uri: &str) -> Result<(), WatchLaterError> {
        let path = self.path_for(uri);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(WatchLaterError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_folder_follows_xdg() {
        assert_eq!(
            state_home(Some("/x/state"), Some("/home/u")),
            Some(PathBuf::from("/x/state"))
        );
        // A relative XDG_STATE_HOME is invalid and ignored.
        assert_eq!(
            state_home(Some("rel"), Some("/home/u")),
            Some(PathBuf::from("/home/u/.local/state"))
        );
        assert_eq!(
            state_home(None, Some("/home/u")),
            Some(PathBuf::from("/home/u/.local/state"))
        );
        assert_eq!(state_home(None, None), None);
        assert_eq!(state_home(Some(""), Some("")), None);
    }

    #[test]
    fn keys_are_stable_and_differ_per_uri() {
        // FNV-1a's published test vectors.
        assert_eq!(key(""), "CBF29CE484222325");
        assert_eq!(key("a"), "AF63DC4C8601EC8C");
        assert_ne!(key("file:///a.mkv"), key("file:///b.mkv"));
        assert_eq!(key("file:///a.mkv").len(), 16);
    }

    #[test]
    fn a_state_round_trips_and_other_files_are_refused() {
        let uri = "file:///films/a%20b.mkv";
        let text = format_state(uri, 3.25);
        assert_eq!(text, "# file:///films/a%20b.mkv\nstart=3.250000\n");
        assert_eq!(parse_state(&text, uri), Ok(3.25));
        assert!(parse_state(&text, "file:///other.mkv").is_err_and(|e| e.contains("another")));
        for bad in [
            "# file:///films/a%20b.mkv\nstart=abc\n",
            "# file:///films/a%20b.mkv\nstart=-1\n",
            "# file:///films/a%20b.mkv\nstart=inf\n",
            "# file:///films/a%20b.mkv\n",
            "# file:///films/a%20b.mkv\nvolume=3\nstart=1\n",
            "",
        ] {
            assert!(parse_state(bad, uri).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn save_load_forget_in_a_fresh_folder() {
        let home = tempfile::tempdir().expect("temp dir");
        let later = WatchLater::new(home.path());
        let uri = "file:///clip.mkv";
        assert!(later.load(uri).expect("no file is fine").is_none());
        let path = later.save(uri, 3.5).expect("saved");
        assert_eq!(path, home.path().join(SUBFOLDER).join(key(uri)));
        assert_eq!(later.load(uri).expect("read"), Some(3.5));
        // Saved again: replaced, and no temporary file stays behind.
        later.save(uri, 7.0).expect("saved again");
        assert_eq!(later.load(uri).expect("read"), Some(7.0));
        let names: Vec<_> = std::fs::read_dir(home.path().join(SUBFOLDER))
            .expect("listing")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from(key(uri))]);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(home.path().join(SUBFOLDER))
                .expect("folder")
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o700);
        later.forget(uri).expect("forgotten");
        assert!(later.load(uri).expect("gone").is_none());
        later.forget(uri).expect("forgetting twice is fine");
    }

    #[test]
    fn a_bad_state_file_is_an_error_that_names_it() {
        let home = tempfile::tempdir().expect("temp dir");
        let later = WatchLater::new(home.path());
        let uri = "file:///clip.mkv";
        std::fs::create_dir_all(home.path().join(SUBFOLDER)).expect("mkdir");
        std::fs::write(later.path_for(uri), "garbage\n").expect("write");
        let error = later.load(uri).expect_err("refused").to_string();
        assert!(
            error.contains(&key(uri)) && error.contains("garbage"),
            "{error}"
        );
    }

    #[test]
    fn saving_replaces_a_planted_link_instead_of_writing_through_it() {
        let home = tempfile::tempdir().expect("temp dir");
        let later = WatchLater::new(home.path());
        let uri = "file:///clip.mkv";
        std::fs::create_dir_all(home.path().join(SUBFOLDER)).expect("mkdir");
        let victim = home.path().join("victim");
        std::fs::write(&victim, "precious").expect("write");
        std::os::unix::fs::symlink(&victim, later.path_for(uri)).expect("link");
        later.save(uri, 1.0).expect("saved");
        assert_eq!(
            std::fs::read_to_string(&victim).expect("victim"),
            "precious"
        );
        assert_eq!(later.load(uri).expect("read"), Some(1.0));
    }
}
