//! The command line: the options, their checks, and the inputs expanded
//! into the playlist.

use std::path::{Path, PathBuf};

use clap::Parser;
use zc_app::player::ass;
use zc_app::player::controls::{MAX_SEEK_SECONDS, checked_speed};
use zc_app::player::playlist::{self, Playlist, Source};
use zc_app::player::startup::DEFAULT_START_TIMEOUT;
use zc_app::player::tracks::TrackChoice;

use crate::playback::{BackendSetting, PathPreference};

const EXAMPLES: &str = "\
Examples:
  zc-player clip.mp4                       play a file in a window
  zc-player https://example.com/a.mkv      play a URI (anything GStreamer reads)
  zc-player a.mkv b.mp4 films/ list.m3u    files, a folder (its media files by name) and
                                           an M3U list, played in order (--shuffle: mixed)
  zc-player clip.mp4 --fullscreen --loop   fullscreen, start over at the end
  zc-player clip.mkv --aid 2 --sid eng     the second audio track, English subtitles
  zc-player clip.mp4 --save-position-on-quit
                                           start where `q` left it last time
  zc-player clip.mp4 --path copy           force the copy path, for comparison
  zc-player film.mkv --sub film.en.srt     subtitles from a file of their own
  zc-player clip.mp4 --headless --ipc /tmp/zc.sock --keep-open
                                           no desktop: a headless Weston of its own,
                                           driven through the control socket:
  echo '{\"command\":\"stats\"}' | socat - UNIX-CONNECT:/tmp/zc.sock
  zc-playerctl /tmp/zc.sock '{\"command\":\"seek\",\"seconds\":10}' '{\"command\":\"quit\"}'

Keys (mpv's defaults): space or p pause/resume, Left/Right seek 5 s, Up/Down 60 s,
Shift+Left/Right 1 s and Shift+Up/Down 5 s to the exact frame,
f or double-click fullscreen, Esc leave fullscreen, m mute, 9/0 (or / *) volume -/+2 %,
[ ] speed -/+10 %, { } halve/double the speed, Backspace normal speed,
. one frame forward (paused), , one frame back,
< > previous/next in the playlist (Enter: next), # next audio track,
j/J next/previous subtitle track, v show/hide subtitles,
s snapshot (full size PNG in the current folder), i statistics panel for 4 s, I on/off,
o or P show the time and seek bar, q or Ctrl+w quit, Q quit and remember the position.
Mouse: double-click fullscreen, right click pause, wheel volume (sideways: seek 10 s),
back/forward buttons the playlist. Media keys play, pause, stop, skip and change the volume.

On-screen display (mpv's): the time (position / duration) and a seek bar after a
seek, o/P or the mouse moving over the window; the volume when it changes; a pause
mark and the time while paused. It hides 1 s after the last change while playing.
It is drawn above the video in a surface of its own: the frames are not touched.

Control socket (one JSON object per line, one reply per line):
  play, pause, seek {seconds, relative?, accurate?}, position, duration, stats,
  speed {value}, frame-step {backward?}, playlist-next, playlist-prev,
  load {uri, mode?: replace|append}, track {type: audio|sub, id: N|LANG|no},
  snapshot {path?}, screenshot {path} (own headless Weston only), key {key}, quit.

Exit status: 0 done, 1 failure while playing (e.g. the compositor went away, or
no frame and no word from GStreamer for --start-timeout seconds at the
last entry; an earlier one is skipped),
2 the input cannot be played (missing file, no decoder, failing URI, audio only
and no audio device).";

/// A desktop video player on zc's zero-copy path (dma-buf from decoder to compositor).
#[derive(Parser, Debug)]
#[command(name = "zc-player", version, after_help = EXAMPLES)]
pub(crate) struct Args {
    /// Media files, URIs (file://, http://, ...), folders or .m3u/.m3u8 lists, played in order.
    #[arg(required = true, value_name = "INPUT")]
    pub(crate) inputs: Vec<String>,
    /// Play the inputs in a random order.
    #[arg(long)]
    pub(crate) shuffle: bool,
    /// Start fullscreen.
    #[arg(long)]
    pub(crate) fullscreen: bool,
    /// The window's size at the start, e.g. 1280x720.
    #[arg(long, value_name = "WxH", value_parser = parse_geometry)]
    pub(crate) geometry: Option<(u32, u32)>,
    /// Start over at the end of each stream.
    #[arg(long = "loop")]
    pub(crate) looping: bool,
    /// Stay on the last frame at the end instead of quitting.
    #[arg(long)]
    pub(crate) keep_open: bool,
    /// Start at this position in seconds.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub(crate) start: Option<f64>,
    /// Playback speed (1 is normal; audio keeps its pitch).
    #[arg(long, value_name = "SPEED", default_value_t = 1.0, value_parser = parse_speed)]
    pub(crate) speed: f64,
    /// Volume at the start, 0 to 100.
    #[arg(long, value_name = "PERCENT", default_value_t = 100.0, value_parser = parse_volume)]
    pub(crate) volume: f64,
    /// Start muted.
    #[arg(long)]
    pub(crate) mute: bool,
    /// Play no sound at all, as without an audio device (files with no
    /// video then cannot be played).
    #[arg(long)]
    pub(crate) no_audio: bool,
    /// The audio track: a number from 1, a language code (en, deu) or no.
    #[arg(long, value_name = "TRACK")]
    pub(crate) aid: Option<TrackChoice>,
    /// The subtitle track: a number from 1, a language code (en, deu) or no.
    #[arg(long, value_name = "TRACK")]
    pub(crate) sid: Option<TrackChoice>,
    /// Show the subtitles of this file with the video: .srt, .vtt, .sub and
    /// the rest GStreamer's subparse reads, and .ass/.ssa (their text).
    #[arg(long, value_name = "FILE")]
    pub(crate) sub: Option<String>,
    /// On quit, remember the position and resume there next time (a file
    /// under $XDG_STATE_HOME/zc-player/watch_later/).
    #[arg(long)]
    pub(crate) save_position_on_quit: bool,
    /// How frames reach the compositor (`copy` forces a CPU copy, for comparison).
    #[arg(long, value_parser = zc_app::cli::enum_parser::<PathPreference>(), default_value = "auto")]
    pub(crate) path: PathPreference,
    /// Where zcexport's pool allocates its dma-bufs.
    #[arg(long, value_parser = zc_app::cli::enum_parser::<BackendSetting>(), default_value = "auto")]
    pub(crate) backend: BackendSetting,
    /// Listen for JSON-lines commands on this Unix socket.
    #[arg(long, value_name = "PATH")]
    pub(crate) ipc: Option<PathBuf>,
    /// Start a headless Weston of our own even when WAYLAND_DISPLAY is set.
    #[arg(long)]
    pub(crate) headless: bool,
    /// Skip an entry that shows no frame while GStreamer reports nothing
    /// for this many seconds, or give up (exit status 1) at the last entry
    /// (0: wait forever).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = DEFAULT_START_TIMEOUT.as_secs_f64(),
        value_parser = parse_timeout
    )]
    pub(crate) start_timeout: f64,
}

/// The longest `--start-timeout` short of forever (0): a day.
const MAX_START_TIMEOUT_S: f64 = 86_400.0;
/// The shortest: the player looks twice a second.
const MIN_START_TIMEOUT_S: f64 = 0.5;

/// `text` as a number of seconds, an `s` after it allowed (`12.5s`).
fn seconds_in(text: &str, example: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    trimmed
        .strip_suffix('s')
        .unwrap_or(trimmed)
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds, e.g. {example}"))
}

fn parse_timeout(text: &str) -> Result<f64, String> {
    let seconds = seconds_in(text, "60 (0: wait forever)")?;
    if seconds != 0.0
        && (!seconds.is_finite() || !(MIN_START_TIMEOUT_S..=MAX_START_TIMEOUT_S).contains(&seconds))
    {
        return Err(format!(
            "`{text}`: the timeout is 0 (wait forever) or {MIN_START_TIMEOUT_S} to {MAX_START_TIMEOUT_S} seconds"
        ));
    }
    // -0 too.
    Ok(seconds.abs())
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    let seconds = seconds_in(text, "12.5")?;
    if !seconds.is_finite() || !(0.0..=MAX_SEEK_SECONDS).contains(&seconds) {
        return Err(format!(
            "`{text}`: the start is 0 to {MAX_SEEK_SECONDS:e} seconds"
        ));
    }
    Ok(seconds)
}

fn parse_speed(text: &str) -> Result<f64, String> {
    let speed: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number, e.g. 1.5"))?;
    checked_speed(speed)
}

fn parse_volume(text: &str) -> Result<f64, String> {
    let volume: f64 = text
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("`{text}` is not a number from 0 to 100"))?;
    if !(0.0..=100.0).contains(&volume) {
        return Err(format!("`{text}`: the volume is 0 to 100"));
    }
    Ok(volume)
}

/// The largest window asked for: far beyond any output, well inside
/// what a shm buffer's size can hold.
const MAX_GEOMETRY: u32 = 16384;

fn parse_geometry(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("`{text}` is not a size: give WIDTHxHEIGHT, e.g. 1280x720");
    let (w, h) = text.trim().split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h): (u32, u32) = (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?);
    if !(160..=MAX_GEOMETRY).contains(&w) || !(120..=MAX_GEOMETRY).contains(&h) {
        return Err(format!(
            "`{text}`: the window is 160x120 to {MAX_GEOMETRY}x{MAX_GEOMETRY} pixels"
        ));
    }
    Ok((w, h))
}

/// The largest subtitle file read (they are kilobytes; a film's ASS with
/// karaoke effects a few megabytes).
const MAX_SUBTITLE_BYTES: u64 = 64 << 20;

/// What `--sub` hands playbin.
#[derive(Debug)]
pub(crate) enum SubtitleInput {
    /// A URI GStreamer reads as it is (a local file in a format subparse
    /// reads, or a remote one).
    Uri(String),
    /// A SubStation Alpha script's dialogue as WebVTT (`player::ass`:
    /// GStreamer reads ASS only inside Matroska), to be written into the
    /// player's own folder.
    WebVtt(String),
}

/// `--sub`'s file: read here, so that a missing or unreadable one is said
/// before anything starts, and an ASS script is turned into WebVTT.
pub(crate) fn subtitle_input(sub: &str) -> Result<SubtitleInput, String> {
    let path = if sub.starts_with("file:") {
        gst::glib::filename_from_uri(sub)
            .map_err(|e| format!("{sub}: not a file URI: {e}"))?
            .0
    } else if playlist::is_uri(sub) {
        return Ok(SubtitleInput::Uri(sub.to_owned()));
    } else {
        PathBuf::from(sub)
    };
    let file = std::fs::File::open(&path).map_err(|e| format!("cannot read {sub}: {e}"))?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_SUBTITLE_BYTES + 1),
        &mut bytes,
    )
    .map_err(|e| format!("cannot read {sub}: {e}"))?;
    if bytes.len() as u64 > MAX_SUBTITLE_BYTES {
        return Err(format!(
            "{sub} is larger than {} MiB: not a subtitle file",
            MAX_SUBTITLE_BYTES >> 20
        ));
    }
    let text = ass::decode(&bytes);
    if !ass::is_ass(&text) {
        return input_uri(sub).map(SubtitleInput::Uri);
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    ass::to_webvtt(&text, name.as_deref().unwrap_or(sub))
        .map(SubtitleInput::WebVtt)
        .map_err(|e| format!("{sub}: {e}"))
}

/// A URI as given, or a path (relative to the current folder) as a file URI.
pub(crate) fn input_uri(input: &str) -> Result<String, String> {
    if playlist::is_uri(input) {
        return Ok(input.to_owned());
    }
    let absolute =
        std::path::absolute(input).map_err(|e| format!("cannot resolve the path {input}: {e}"))?;
    file_uri(&absolute)
}

pub(crate) fn file_uri(path: &Path) -> Result<String, String> {
    gst::glib::filename_to_uri(path, None)
        .map(|u| u.to_string())
        .map_err(|e| format!("{}: cannot turn the path into a URI: {e}", path.display()))
}

/// The inputs expanded into the playlist (shuffled if asked).
pub(crate) fn playlist_of(args: &Args) -> Result<Playlist, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("the current folder: {e}"))?;
    let sources = playlist::expand(&args.inputs, &cwd).map_err(|e| e.to_string())?;
    let uris = sources
        .into_iter()
        .map(|source| match source {
            Source::Uri(uri) => Ok(uri),
            Source::File(path) => file_uri(&path),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut playlist = Playlist::new(uris).ok_or_else(|| "nothing to play".to_owned())?;
    if args.shuffle {
        playlist.shuffle(|n| fastrand::usize(..n));
    }
    Ok(playlist)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        Args::try_parse_from(std::iter::once("zc-player").chain(args.iter().copied()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn several_inputs_and_the_new_options_parse() {
        let args = parse(&[
            "a.mkv",
            "films/",
            "http://h/c.mp4",
            "--shuffle",
            "--speed",
            "1.5",
            "--volume",
            "40",
            "--mute",
            "--geometry",
            "1280x720",
            "--aid",
            "2",
            "--sid",
            "eng",
            "--save-position-on-quit",
            "--start-timeout",
            "0",
        ])
        .expect("parses");
        assert_eq!(args.inputs, ["a.mkv", "films/", "http://h/c.mp4"]);
        assert!(args.shuffle && args.mute && args.save_position_on_quit);
        assert_eq!(args.speed, 1.5);
        assert_eq!(args.volume, 40.0);
        assert_eq!(args.geometry, Some((1280, 720)));
        assert_eq!(args.aid, Some(TrackChoice::Number(2)));
        assert_eq!(args.sid, Some(TrackChoice::Language("eng".into())));
        assert_eq!(args.start_timeout, 0.0);
        let plain = parse(&["a.mkv"]).expect("parses");
        assert_eq!(
            (plain.speed, plain.volume, plain.geometry),
            (1.0, 100.0, None)
        );
        assert!(!plain.shuffle && !plain.mute && !plain.save_position_on_quit);
        assert_eq!(plain.start_timeout, 60.0);
    }

    #[test]
    fn bad_values_say_what_would_be_right() {
        assert!(parse(&[]).is_err_and(|e| e.contains("INPUT")));
        for (option, value, expected) in [
            ("--speed", "0", "0.01 to 100"),
            ("--speed", "fast", "not a number"),
            ("--volume", "150", "0 to 100"),
            ("--geometry", "1280", "WIDTHxHEIGHT"),
            ("--geometry", "10x10", "160x120"),
            ("--geometry", "99999x720", "16384"),
            ("--aid", "0", "from 1"),
            ("--sid", "english", "language code"),
            ("--start", "1e300", "0 to"),
            ("--start-timeout", "1e9", "0 (wait forever) or 0.5 to"),
            ("--start-timeout", "0.1", "0 (wait forever) or 0.5 to"),
            ("--start-timeout", "60ss", "not a number of seconds"),
            ("--start-timeout", "soon", "not a number of seconds"),
        ] {
            let error = parse(&["a.mkv", option, value]).expect_err(value);
            assert!(error.contains(expected), "{option} {value}: {error}");
        }
    }

    #[test]
    fn inputs_become_file_uris_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in ["b.mkv", "a.mkv"] {
            std::fs::write(dir.path().join(name), b"").expect("write");
        }
        let folder = dir.path().to_string_lossy().into_owned();
        let args = parse(&[&folder, "https://h/x.webm"]).expect("parses");
        let playlist = playlist_of(&args).expect("a playlist");
        let a = gst::glib::filename_to_uri(dir.path().join("a.mkv"), None).expect("uri");
        assert_eq!(playlist.entries()[0], a.as_str());
        assert!(playlist.entries()[1].ends_with("/b.mkv"));
        assert_eq!(playlist.entries()[2], "https://h/x.webm");
        assert_eq!(
            input_uri("https://h/x.webm"),
            Ok("https://h/x.webm".to_owned())
        );
        assert!(input_uri("/tmp/a b.mkv").is_ok_and(|u| u == "file:///tmp/a%20b.mkv"));
        let missing = parse(&["/nonexistent/zc/clip.mkv"]).expect("parses");
        assert!(playlist_of(&missing).is_err_and(|e| e.contains("no such file")));
    }
}
