//! The choices the command line makes about playback: `--path` and
//! `--backend` (the plugin's own enums), and everything [`Player::new`](super::Player::new) is given.

use std::path::PathBuf;

/// `--path`: how the sink should hand frames to the compositor (the
/// sink's own `path-preference` values).
pub use gstzerocopy::zcwaylandsink::PathPreference;

/// `--backend`: where zcexport's pool allocates (the allocator's own
/// `backend` values).
pub use gstzerocopy::allocator::BackendSetting;

/// Where the sound goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioOutput {
    /// To an audio device or sound server, through `autoaudiosink`.
    Device,
    /// Nowhere: none was found ([`audio_device_available`](super::audio_device_available)).
    NoDevice,
    /// Nowhere: `--no-audio`.
    Off,
}

impl AudioOutput {
    pub fn plays(self) -> bool {
        self == AudioOutput::Device
    }

    /// Why there is no sound, in a few words (nothing where there is).
    pub fn why_silent(self) -> &'static str {
        match self {
            AudioOutput::Device => "",
            AudioOutput::NoDevice => "no audio device",
            AudioOutput::Off => "--no-audio",
        }
    }
}

pub struct PlayerOptions {
    /// The URIs to play, in order (at least one).
    pub playlist: zc_app::player::playlist::Playlist,
    /// Resume where each entry stopped (and save that on quit).
    pub watch_later: Option<zc_app::player::watch_later::WatchLater>,
    pub speed: f64,
    /// Volume 0.0..=1.0 and mute at the start.
    pub volume: f64,
    pub mute: bool,
    pub aid: Option<zc_app::player::tracks::TrackChoice>,
    pub sid: Option<zc_app::player::tracks::TrackChoice>,
    /// An external subtitle file's URI (`--sub`).
    pub subtitle_uri: Option<String>,
    pub path: PathPreference,
    pub backend: BackendSetting,
    pub looping: bool,
    pub keep_open: bool,
    pub start: Option<f64>,
    /// How long a starting entry may stay quiet (`--start-timeout`; zero:
    /// forever).
    pub start_timeout: std::time::Duration,
    /// `--no-audio`, or else [`audio_device_available`](super::audio_device_available),
    /// probed before playback's fds are counted.
    pub audio: AudioOutput,
    /// A folder of the player's own (inside its private 0700 folder) where
    /// zcthumbnail writes snapshots before they are moved into place.
    pub snapshot_dir: PathBuf,
}
