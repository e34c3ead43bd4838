//! The core crates' `log` records in GStreamer's debug log: zc-dmabuf,
//! zc-wayland and zc-vulkan log with the `log` crate, which GStreamer never
//! sees; the plugin installs a `log` logger that hands each crate's records
//! to a debug category of its own (`zc-dmabuf`, `zc-wayland`, `zc-vulkan`),
//! so `GST_DEBUG=zc*:5` shows their fallbacks next to the elements'.
//! Records of other crates are not forwarded.
//!
//! `log` takes one logger per process: where the application installed its
//! own first, it keeps it (the core crates' records go there), and the
//! categories say so at debug level.

use std::sync::{LazyLock, Once};

use gst::DebugCategoryLogger;
use log::Log;

/// A core crate: its `log` target (its module path's first segment) and
/// its debug category.
struct Forwarded {
    target: &'static str,
    category: gst::DebugCategory,
    logger: DebugCategoryLogger,
}

impl Forwarded {
    fn new(target: &'static str, name: &str, description: &str) -> Forwarded {
        let category =
            gst::DebugCategory::new(name, gst::DebugColorFlags::empty(), Some(description));
        Forwarded {
            target,
            category,
            logger: DebugCategoryLogger::new(category),
        }
    }

    /// Whether a record with `target` comes from this crate (its root
    /// module or one below it).
    fn takes(&self, target: &str) -> bool {
        target
            .strip_prefix(self.target)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    }
}

/// The `log` logger: each core crate's records to its category.
struct CoreLogger {
    crates: Vec<Forwarded>,
}

impl CoreLogger {
    fn route(&self, target: &str) -> Option<&Forwarded> {
        self.crates.iter().find(|c| c.takes(target))
    }
}

impl Log for CoreLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        self.route(metadata.target())
            .is_some_and(|c| c.logger.enabled(metadata))
    }

    fn log(&self, record: &log::Record) {
        if let Some(c) = self.route(record.target()) {
            c.logger.log(record);
        }
    }

    fn flush(&self) {}
}

static LOGGER: LazyLock<CoreLogger> = LazyLock::new(|| CoreLogger {
    crates: vec![
        Forwarded::new(
            "zc_dmabuf",
            "zc-dmabuf",
            "zc's dma-buf core: the zc-dmabuf crate's log records",
        ),
        Forwarded::new(
            "zc_wayland",
            "zc-wayland",
            "zc's Wayland presenter: the zc-wayland crate's log records",
        ),
        Forwarded::new(
            "zc_vulkan",
            "zc-vulkan",
            "zc's Vulkan importer: the zc-vulkan crate's log records",
        ),
    ],
});

/// Install the logger (at plugin init; once per process).
pub(crate) fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| match log::set_logger(&*LOGGER) {
        // Each record's level is then checked against its category's
        // threshold, which GST_DEBUG may change at any time.
        Ok(()) => log::set_max_level(log::LevelFilter::Trace),
        Err(_) => {
            for c in &LOGGER.crates {
                gst::debug!(
                    c.category,
                    "the application installed its own `log` logger: {}'s records go there, \
                     not to this category",
                    c.target
                );
            }
        }
    });
}
