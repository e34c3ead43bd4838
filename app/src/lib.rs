//! Code shared by zc's programs (`zc-player`, `zc-bench`, `zc-thumbnail`):
//! what they need besides the GStreamer plugin.

pub mod bench;
pub mod weston;
