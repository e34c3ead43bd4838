//! The player's playlist: what the command line's inputs expand to (files,
//! URIs, the media files of a folder in name order, the entries of an
//! `.m3u`/`.m3u8` list) and the position in it. Pure: the binary turns
//! [`Source`]s into URIs and plays them.

use std::path::{Path, PathBuf};

/// One thing to play.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An absolute path.
    File(PathBuf),
    /// A URI as given (`file://`, `http://`, ...).
    Uri(String),
}

/// File name extensions a folder's listing plays (as mpv's
/// `directory-filter-types` does, video and audio; compared in lower case).
pub const MEDIA_EXTENSIONS: &[&str] = &[
    "3g2", "3gp", "aac", "avi", "flac", "flv", "m2ts", "m4a", "m4v", "mka", "mkv", "mov", "mp3",
    "mp4", "mpeg", "mpg", "mts", "ogg", "ogv", "opus", "ts", "wav", "webm", "wmv", "y4m",
];

/// How deep playlists may name other playlists.
const MAX_NESTING: usize = 4;

/// Why the inputs cannot become a playlist.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlaylistError {
    #[error(
        "{0}: no such file (give an existing video file, a folder, an .m3u list or a URI such as file:///path/clip.mp4)"
    )]
    Missing(String),
    #[error("{0}: cannot read it: {1}")]
    Unreadable(String, String),
    #[error("{0}: the folder holds no media files (extensions such as .mkv, .mp4, .webm)")]
    EmptyFolder(String),
    #[error("{0}: playlists name other playlists more than {MAX_NESTING} deep")]
    TooDeep(String),
    #[error("nothing to play: the playlists are empty")]
    Empty,
}

/// Whether `text` looks like a URI (a scheme, then `://`).
pub fn is_uri(text: &str) -> bool {
    text.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    })
}

fn is_playlist(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("m3u") || e.eq_ignore_ascii_case("m3u8"))
}

fn is_media(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| MEDIA_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The command line's inputs, relative paths taken from `cwd`, expanded
/// in order: a folder gives its media files sorted by name (not its
/// subfolders, nor hidden files), a playlist its entries.
pub fn expand(inputs: &[String], cwd: &Path) -> Result<Vec<Source>, PlaylistError> {
    let mut sources = Vec::new();
    for input in inputs {
        expand_one(input, cwd, 0, &mut sources)?;
    }
    if sources.is_empty() {
        return Err(PlaylistError::Empty);
    }
    Ok(sources)
}

fn expand_one(
    input: &str,
    cwd: &Path,
    depth: usize,
    sources: &mut Vec<Source>,
) -> Result<(), PlaylistError> {
    if is_uri(input) {
        sources.push(Source::Uri(input.to_owned()));
        return Ok(());
    }
    let path = cwd.join(input);
    let metadata = match std::fs::metadata(&path) {
        Ok(metadata) => metadata,
        // A list's entry that is not there fails when its turn comes, as
        // in mpv; the rest of the list still plays.
        Err(_) if depth > 0 => {
            sources.push(Source::File(path));
            return Ok(());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(PlaylistError::Missing(input.to_owned()));
        }
        Err(e) => return Err(PlaylistError::Unreadable(input.to_owned(), e.to_string())),
    };
    if metadata.is_dir() {
        let before = sources.len();
        sources.extend(folder(&path, input)?.into_iter().map(Source::File));
        if sources.len() == before {
            return Err(PlaylistError::EmptyFolder(input.to_owned()));
        }
        return Ok(());
    }
    if is_playlist(&path) {
        if depth >= MAX_NESTING {
            return Err(PlaylistError::TooDeep(input.to_owned()));
        }
        let text = std::fs::read(&path)
            .map_err(|e| PlaylistError::Unreadable(input.to_owned(), e.to_string()))?;
        let base = path.parent().unwrap_or(cwd);
        for entry in m3u_entries(&String::from_utf8_lossy(&text)) {
            expand_one(entry, base, depth + 1, sources)?;
        }
        return Ok(());
    }
    sources.push(Source::File(path));
    Ok(())
}

/// The media files directly in `dir`, sorted by name.
fn folder(dir: &Path, input: &str) -> Result<Vec<PathBuf>, PlaylistError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| PlaylistError::Unreadable(input.to_owned(), e.to_string()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .filter(|p| p.is_file() && is_media(p))
        .collect();
    files.sort();
    Ok(files)
}

/// The entries of an M3U list: every line that is neither blank nor a
/// comment or directive (`#...`), trimmed, a byte-order mark dropped.
pub fn m3u_entries(text: &str) -> Vec<&str> {
    text.trim_start_matches('\u{feff}')
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

/// The entries (URIs) and which one plays.
#[derive(Clone, Debug, PartialEq)]
pub struct Playlist {
    entries: Vec<String>,
    current: usize,
}

impl Playlist {
    /// A playlist at its first entry; `None` when `entries` is empty.
    pub fn new(entries: Vec<String>) -> Option<Playlist> {
        (!entries.is_empty()).then_some(Playlist {
            entries,
            current: 0,
        })
    }

    /// Put the entries in a random order (`random(n)` is below n).
    pub fn shuffle(&mut self, mut random: impl FnMut(usize) -> usize) {
        for i in (1..self.entries.len()).rev() {
            let j = random(i + 1).min(i);
            self.entries.swap(i, j);
        }
    }

    pub fn current(&self) -> &str {
        &self.entries[self.current]
    }

    /// The current entry's index, from 0.
    pub fn position(&self) -> usize {
        self.current
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    /// The entry after the current one, if any.
    pub fn peek_next(&self) -> Option<&str> {
        self.entries.get(self.current + 1).map(String::as_str)
    }

    /// Move to the next entry; `None` (and no move) at the end.
    pub fn advance(&mut self) -> Option<&str> {
        if self.current + 1 >= self.entries.len() {
            return None;
        }
        self.current += 1;
        Some(self.current())
    }

    /// Move to the previous entry; `None` (and no move) at the start.
    pub fn back(&mut self) -> Option<&str> {
        self.current = self.current.checked_sub(1)?;
        Some(self.current())
    }

    /// Make the entry at `index` current, if there is one.
    pub fn go_to(&mut self, index: usize) -> Option<&str> {
        if index >= self.entries.len() {
            return None;
        }
        self.current = index;
        Some(self.current())
    }

    /// Add an entry at the end.
    pub fn append(&mut self, entry: String) {
        self.entries.push(entry);
    }

    /// Play only `entry` from now on.
    pub fn replace(&mut self, entry: String) {
        self.entries = vec![entry];
        self.current = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::write(path, b"").expect("write");
    }

    #[test]
    fn m3u_comments_blanks_and_directives_are_skipped() {
        let text = "\u{feff}#EXTM3U\n#EXTINF:10,First\n a.mkv \n\n  # note\nhttp://x/b.mp4\r\nsub/c.webm\n";
        assert_eq!(m3u_entries(text), ["a.mkv", "http://x/b.mp4", "sub/c.webm"]);
    }

    #[test]
    fn uris_are_told_from_paths() {
        assert!(is_uri("file:///tmp/a.mkv"));
        assert!(is_uri("http://host/a.mp4"));
        assert!(is_uri("rtsp+tcp://host/x"));
        assert!(!is_uri("a.mkv"));
        assert!(!is_uri("/tmp/x://y"));
        assert!(!is_uri("://nothing"));
    }

    #[test]
    fn an_m3u_resolves_relative_entries_against_its_own_folder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let lists = dir.path().join("lists");
        std::fs::create_dir(&lists).expect("mkdir");
        touch(&dir.path().join("a.mkv"));
        std::fs::write(
            lists.join("all.m3u8"),
            "#EXTM3U\n../a.mkv\n# skipped\n/abs/b.mp4\nhttps://host/c.webm\n",
        )
        .expect("write");
        let sources = expand(&["lists/all.m3u8".to_owned()], dir.path()).expect("expands");
        assert_eq!(
            sources,
            [
                Source::File(lists.join("../a.mkv")),
                Source::File(PathBuf::from("/abs/b.mp4")),
                Source::Uri("https://host/c.webm".to_owned()),
            ]
        );
    }

    #[test]
    fn a_folder_gives_its_media_files_sorted_by_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in [
            "b.mkv",
            "a.MP4",
            "c.webm",
            "notes.txt",
            "a.srt",
            ".hidden.mkv",
        ] {
            touch(&dir.path().join(name));
        }
        std::fs::create_dir(dir.path().join("d.mkv")).expect("mkdir");
        let sources = expand(
            &[".".to_owned(), "http://host/x.mp4".to_owned()],
            dir.path(),
        )
        .expect("expands");
        let base = dir.path().join(".");
        assert_eq!(
            sources,
            [
                Source::File(base.join("a.MP4")),
                Source::File(base.join("b.mkv")),
                Source::File(base.join("c.webm")),
                Source::Uri("http://host/x.mp4".to_owned()),
            ]
        );
    }

    #[test]
    fn missing_inputs_empty_folders_and_loops_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(
            expand(&["nope.mkv".to_owned()], dir.path()),
            Err(PlaylistError::Missing("nope.mkv".to_owned()))
        );
        assert_eq!(
            expand(&[".".to_owned()], dir.path()),
            Err(PlaylistError::EmptyFolder(".".to_owned()))
        );
        std::fs::write(dir.path().join("self.m3u"), "self.m3u\n").expect("write");
        assert!(matches!(
            expand(&["self.m3u".to_owned()], dir.path()),
            Err(PlaylistError::TooDeep(_))
        ));
        std::fs::write(dir.path().join("empty.m3u"), "#EXTM3U\n").expect("write");
        assert_eq!(
            expand(&["empty.m3u".to_owned()], dir.path()),
            Err(PlaylistError::Empty)
        );
        let message = PlaylistError::Missing("x".into()).to_string();
        assert!(
            message.contains("no such file") && message.contains("URI"),
            "{message}"
        );
    }

    fn list(n: usize) -> Playlist {
        Playlist::new((0..n).map(|i| format!("file:///{i}")).collect()).expect("not empty")
    }

    #[test]
    fn next_and_prev_stop_at_the_ends() {
        assert!(Playlist::new(Vec::new()).is_none());
        let mut playlist = list(3);
        assert_eq!(playlist.back(), None);
        assert_eq!(playlist.position(), 0);
        assert_eq!(playlist.peek_next(), Some("file:///1"));
        assert_eq!(playlist.advance(), Some("file:///1"));
        assert_eq!(playlist.advance(), Some("file:///2"));
        assert_eq!(playlist.peek_next(), None);
        assert_eq!(playlist.advance(), None);
        assert_eq!(playlist.position(), 2);
        assert_eq!(playlist.back(), Some("file:///1"));
        assert_eq!(playlist.go_to(7), None);
        assert_eq!(playlist.go_to(0), Some("file:///0"));
    }

    #[test]
    fn append_adds_at_the_end_and_replace_starts_over() {
        let mut playlist = list(2);
        playlist.advance();
        playlist.append("file:///new".to_owned());
        assert_eq!(playlist.len(), 3);
        assert_eq!(playlist.position(), 1);
        assert_eq!(playlist.peek_next(), Some("file:///new"));
        playlist.replace("file:///only".to_owned());
        assert_eq!(playlist.entries(), ["file:///only"]);
        assert_eq!(playlist.position(), 0);
    }

    #[test]
    fn shuffle_reorders_but_keeps_every_entry() {
        let mut playlist = list(5);
        // Always the first of the remaining: a rotation, not the identity.
        playlist.shuffle(|_| 0);
        assert_ne!(playlist, list(5));
        let mut entries = playlist.entries().to_vec();
        entries.sort();
        assert_eq!(entries, list(5).entries());
        let mut seed = 7usize;
        let mut other = list(50);
        other.shuffle(|n| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % n
        });
        let mut entries = other.entries().to_vec();
        entries.sort();
        let mut expected = list(50).entries().to_vec();
        expected.sort();
        assert_eq!(entries, expected);
    }
}
