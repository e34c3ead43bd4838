//! The choices the command line makes about playback: `--path`,
//! `--backend`, and everything [`Player::new`](super::Player::new) is given.

use std::path::PathBuf;

/// `--path`: how the sink should hand frames to the compositor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PathPreference {
    Auto,
    Dmabuf,
    Shm,
    Copy,
}

impl PathPreference {
    pub fn nick(self) -> &'static str {
        match self {
            PathPreference::Auto => "auto",
            PathPreference::Dmabuf => "dmabuf",
            PathPreference::Shm => "shm",
            PathPreference::Copy => "copy",
        }
    }
}

/// `--backend`: where zcexport's pool allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    Auto,
    Heap,
    Udmabuf,
    Gbm,
    Memfd,
}

impl BackendChoice {
    pub fn nick(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Heap => "heap",
            BackendChoice::Udmabuf => "udmabuf",
            BackendChoice::Gbm => "gbm",
            BackendChoice::Memfd => "memfd",
        }
    }
}

pub struct PlayerOptions {
    pub uri: String,
    pub path: PathPreference,
    pub backend: BackendChoice,
    pub looping: bool,
    pub keep_open: bool,
    pub start: Option<f64>,
    /// From [`audio_device_available`], probed before playback's fds are counted.
    pub audio: bool,
    /// A folder of the player's own (inside its private 0700 folder) where
    /// zcthumbnail writes snapshots before they are moved into place.
    pub snapshot_dir: PathBuf,
}
