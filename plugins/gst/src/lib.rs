//! `zerocopy`: zc's GStreamer plugin. GStreamer glue only: caps become frame
//! layouts, buffers become frames, and `zc-dmabuf` does the rest.

use gst::glib;

pub mod allocator;

/// Lock a mutex, ignoring poisoning: a panic elsewhere (caught at a pad
/// function's boundary) leaves the settings and state coherent.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub mod caps;
pub mod colorimetry;
mod core_log;
mod counters;
pub mod dialect;
pub mod frame;
mod main_device;
mod memory_cache;
pub mod orientation;
pub mod pool;
mod pool_proposal;
pub mod zcexport;
pub mod zcthumbnail;
pub mod zcvulkanconvert;
pub mod zcwaylandsink;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    core_log::install();
    allocator::register();
    zcexport::register(plugin)?;
    zcthumbnail::register(plugin)?;
    zcwaylandsink::register(plugin)?;
    zcvulkanconvert::register(plugin)?;
    Ok(())
}

gst::plugin_define!(
    zerocopy,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
