//! The core crates' `log` records reach GStreamer's debug log, each
//! crate's in its own category, once the plugin is registered.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

mod common;

#[test]
fn core_crates_log_records_reach_their_debug_categories() {
    common::init();
    let seen: Arc<Mutex<Vec<(String, gst::DebugLevel, String)>>> = Arc::default();
    let sink = seen.clone();
    let function = gst::log::add_log_function(
        move |category, level, _file, _function, _line, _object, message| {
            if category.name().starts_with("zc-") {
                let text = message.get().map(|m| m.to_string()).unwrap_or_default();
                sink.lock()
                    .unwrap()
                    .push((category.name().to_owned(), level, text));
            }
        },
    );
    for name in ["zc-dmabuf", "zc-wayland", "zc-vulkan"] {
        gst::DebugCategory::get(name)
            .unwrap_or_else(|| panic!("no {name} category"))
            .set_threshold(gst::DebugLevel::Debug);
    }

    // What zc-dmabuf's `log::debug!` in its alloc module emits: the target
    // is the module path.
    log::debug!(target: "zc_dmabuf::alloc", "zc-core-log-test: from zc-dmabuf");
    log::warn!(target: "zc_wayland", "zc-core-log-test: from zc-wayland");
    // Below the threshold, and another crate's: neither is forwarded.
    log::trace!(target: "zc_vulkan::convert", "zc-core-log-test: too detailed");
    log::error!(target: "zc_dmabufx", "zc-core-log-test: not a core crate");

    gst::log::remove_log_function(function);
    let seen: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, _, text)| text.starts_with("zc-core-log-test"))
        .cloned()
        .collect();
    assert_eq!(
        seen,
        [
            (
                "zc-dmabuf".to_owned(),
                gst::DebugLevel::Debug,
                "zc-core-log-test: from zc-dmabuf".to_owned()
            ),
            (
                "zc-wayland".to_owned(),
                gst::DebugLevel::Warning,
                "zc-core-log-test: from zc-wayland".to_owned()
            ),
        ]
    );
}
