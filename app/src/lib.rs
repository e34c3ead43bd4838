//! Code shared by zc's programs (`zc-player`, `zc-bench`, `zc-thumbnail`):
//! what they need besides the GStreamer plugin.

pub mod bench;
pub mod cli_docs;
pub mod files;
pub mod player;
pub mod weston;

/// Lock a mutex, ignoring poisoning: the data behind the player's locks
/// stays coherent if a thread panicked while holding one.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
