//! The parts of `zc-player` that do not need a window or a pipeline: key
//! bindings, the control socket's protocol, statistics and their panel,
//! subtitle cues, ASS files and DVD/Blu-ray/DVB subtitle pictures, the
//! on-screen display, text drawing, fd accounting, the playlist, tracks,
//! the resume state, when a starting entry counts as stuck, and the package
//! a missing plugin is in. The binary (`src/bin/zc-player`) puts them
//! together.

pub mod ass;
pub mod bindings;
pub mod controls;
pub mod cover;
/// The process's open fds: zc-dmabuf's, re-exported where the player
/// always found them.
pub use zc_dmabuf::fds;
pub mod ipc;
pub mod missing_plugin;
pub mod osd;
pub mod playlist;
pub mod startup;
pub mod stats;
pub mod subpicture;
pub mod subtitles;
pub mod text;
pub mod tracks;
pub mod wakeup;
pub mod watch_later;
