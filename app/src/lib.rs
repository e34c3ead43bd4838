//! Code shared by zc's programs (`zc-player`, `zc-bench`, `zc-thumbnail`):
//! what they need besides the GStreamer plugin.

pub mod bench;
pub mod cli;
pub mod cli_docs;
pub mod files;
pub mod player;
pub mod weston;

/// Lock a mutex, ignoring poisoning: the data behind the programs' locks
/// (the player's layout and control connections, the benchmark's counters
/// and samples) stays coherent if a thread panicked while holding one.
pub fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
