//! zcexport's settings: the `DEFAULT_*` values, the [`CopyMode`] enum, and
//! the writable properties that set them.

use gst::glib;
use gst::prelude::*;

use crate::allocator::BackendSetting;

pub(super) const DEFAULT_COPY_MODE: CopyMode = CopyMode::Allow;
/// `auto` honours $ZC_BACKEND, then tries heap, udmabuf, gbm, memfd.
pub(super) const DEFAULT_BACKEND: BackendSetting = BackendSetting::Auto;

/// What to do with a frame that arrives in system memory.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstZcExportCopyMode")]
pub enum CopyMode {
    #[default]
    #[enum_value(name = "Allow: copy it into a pooled dma-buf", nick = "allow")]
    Allow,
    #[enum_value(
        name = "Warn: copy it, and post a warning naming the upstream element (once)",
        nick = "warn"
    )]
    Warn,
    #[enum_value(
        name = "Forbid: fail with an error naming the upstream element that ignored the pool",
        nick = "forbid"
    )]
    Forbid,
}

#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub copy_mode: CopyMode,
    pub backend: BackendSetting,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            copy_mode: DEFAULT_COPY_MODE,
            backend: DEFAULT_BACKEND,
        }
    }
}

/// The properties [`Settings`] holds.
pub(super) fn properties() -> Vec<glib::ParamSpec> {
    vec![
        glib::ParamSpecEnum::builder_with_default("copy-mode", DEFAULT_COPY_MODE)
            .nick("Copy mode")
            .blurb("What to do with a frame that arrives in system memory instead of a dma-buf")
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("backend", DEFAULT_BACKEND)
            .nick("Backend")
            .blurb("Where the proposed pool's dma-bufs come from; `auto` honours $ZC_BACKEND, then tries heap, udmabuf, gbm, memfd")
            .mutable_ready()
            .build(),
    ]
}

impl Settings {
    /// Set the property `name` from `value`; false when it is not one of
    /// [`properties`].
    pub(super) fn set(&mut self, name: &str, value: &glib::Value) -> bool {
        match name {
            "copy-mode" => self.copy_mode = value.get().unwrap_or(DEFAULT_COPY_MODE),
            "backend" => self.backend = value.get().unwrap_or(DEFAULT_BACKEND),
            _ => return false,
        }
        true
    }

    /// The value of the property `name`, when it is one of [`properties`].
    pub(super) fn get(&self, name: &str) -> Option<glib::Value> {
        Some(match name {
            "copy-mode" => self.copy_mode.to_value(),
            "backend" => self.backend.to_value(),
            _ => return None,
        })
    }
}
