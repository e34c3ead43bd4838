//! The headless Weston the player, the benchmark and the tests start:
//! zc-wayland's, re-exported where the programs always found it.

pub use zc_wayland::headless::*;
