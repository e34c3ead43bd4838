//! The choices the command line makes about playback: `--path` and
//! `--backend` (the plugin's own enums), and everything [`Player::new`](super::Player::new) is given.

use std::path::PathBuf;

/// `--path`: how the sink should hand frames to the compositor (the
/// sink's own `path-preference` values).
pub use gstzerocopy::zcwaylandsink::PathPreference;

/// `--backend`: where zcexport's pool allocates (the allocator's own
/// `backend` values).
pub use gstzerocopy::allocator::BackendSetting;

pub struct PlayerOptions {
    pub uri: String,
    /// An external subtitle file's URI (`--sub`).
    pub subtitle_uri: Option<String>,
    pub path: PathPreference,
    pub backend: BackendSetting,
    pub looping: bool,
    pub keep_open: bool,
    pub start: Option<f64>,
    /// From [`audio_device_available`], probed before playback's fds are counted.
    pub audio: bool,
    /// A folder of the player's own (inside its private 0700 folder) where
    /// zcthumbnail writes snapshots before they are moved into place.
    pub snapshot_dir: PathBuf,
}
