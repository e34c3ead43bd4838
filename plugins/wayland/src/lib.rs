//! zc's Wayland layer: dma-buf frames on a `wl_surface` without copying.
//!
//! [`Presenter`] connects to a compositor, learns what it imports
//! (linux-dmabuf v3 events or v4/v5 feedback, wl_shm formats), makes one
//! `wl_buffer` per frame storage, commits at the compositor's pace (frame
//! callbacks) and keeps each frame's storage alive until the compositor
//! releases it. No GStreamer here: the sink element and the player build on it.
//!
//! [`headless`] starts a compositor of our own (headless Weston) for the
//! player without a desktop, the benchmark and the tests.

mod error;
pub mod feedback;
pub mod headless;
mod presenter;
mod sys;
mod watchdog;

pub use error::WaylandError;
pub use feedback::{Feedback, FormatModifier, FormatTable, Tranche, drm_nodes_for};
pub use presenter::{
    ASSUMED_WITHOUT_PROTOCOL, BufferKind, CONNECT_TIMEOUT, Capabilities, ColorManagementSupport,
    DEFAULT_EVENT_BATCH, DisplayTarget, FrameBuffer, Interlacing, Orientation, OverlayImage,
    PRESENTATIONS_KEPT, PreferredDescription, PresentStats, Presentation, Presenter,
    Representation, RepresentationSupport, WindowTarget, fit,
};

/// A mutex's guard, also when a thread panicked while holding it: the data
/// under these locks stays consistent between statements, and a panicking
/// handler must not take the presenter's teardown down with it.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
