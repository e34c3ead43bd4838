//! A frame's `wl_buffer`, made once per frame storage and cached with it,
//! and the hold (e.g. a GstBuffer ref) kept until the compositor is done
//! with the storage: `wl_buffer.release`, and with explicit sync every
//! release of every commit.

use std::any::Any;
use std::sync::{Arc, Mutex};

use wayland_client::delegate_noop;
use wayland_client::protocol::wl_buffer::WlBuffer;

use super::frame_objects::{BufferProxy, FrameObjects};
use super::{Presenter, State};
use crate::error::WaylandError;
use crate::lock;

/// A `wl_buffer` for one frame's storage, created once and reused for as
/// long as that storage lives. Dropping it destroys the `wl_buffer`
/// (unless its presenter went first and did).
pub struct FrameBuffer {
    pub(super) buffer: BufferProxy,
    objects: Arc<FrameObjects>,
    pub(super) slot: Arc<Slot>,
    pub(super) presenter_id: u64,
    pub(super) kind: BufferKind,
    /// The wl_buffer's width and height.
    pub(super) size: (u32, u32),
    /// The visible width and height when the wl_buffer is taller than the
    /// picture (a decoder's padding rows): shown through the viewport's
    /// source rectangle.
    pub(super) crop: Option<(u32, u32)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferKind {
    DmaBuf,
    Shm,
}

impl FrameBuffer {
    /// The presenter that made it: a buffer from an earlier connection must
    /// be made again.
    pub fn presenter_id(&self) -> u64 {
        self.presenter_id
    }

    pub fn kind(&self) -> BufferKind {
        self.kind
    }

    /// Whether the compositor still holds it (attached and not released).
    pub fn is_busy(&self) -> bool {
        self.slot.is_busy()
    }
}

impl Drop for FrameBuffer {
    fn drop(&mut self) {
        self.objects.destroy_buffer(&self.buffer);
    }
}

/// Per-`wl_buffer` state shared with the dispatch thread: what the caller
/// handed in with the frame (e.g. a GstBuffer ref), kept until the
/// compositor is done with the buffer.
#[derive(Default)]
pub(super) struct Slot {
    state: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    /// The frame id and hold of the frame last committed in this buffer.
    hold: Option<(u64, Box<dyn Any + Send>)>,
    /// Attached and not yet given back with `wl_buffer.release`.
    attached: bool,
    /// Explicit-sync releases still to come or to signal: one per commit
    /// that asked for a `zwp_linux_buffer_release_v1`, until its
    /// `immediate_release`, or until the fence of its `fenced_release`
    /// signalled. (The compositor sends `wl_buffer.release` as well.)
    releases_pending: usize,
}

impl Slot {
    pub(super) fn is_busy(&self) -> bool {
        lock(&self.state).hold.is_some()
    }

    pub(super) fn holds_other_frame(&self, frame_id: u64) -> bool {
        lock(&self.state)
            .hold
            .as_ref()
            .is_some_and(|(held, _)| *held != frame_id)
    }

    /// A commit attached the buffer with `hold`; `release_requested` when it
    /// also asked for an explicit-sync release; `awaits_buffer_release`
    /// unless `wl_buffer.release` is undefined (DRM syncobj surfaces).
    /// Returns the previous hold of the same storage, for the caller to drop
    /// outside the lock.
    pub(super) fn attach(
        &self,
        frame_id: u64,
        hold: Box<dyn Any + Send>,
        release_requested: bool,
        awaits_buffer_release: bool,
    ) -> Option<(u64, Box<dyn Any + Send>)> {
        let mut state = lock(&self.state);
        state.attached = awaits_buffer_release;
        if release_requested {
            state.releases_pending += 1;
        }
        state.hold.replace((frame_id, hold))
    }

    /// `wl_buffer.release`.
    pub(super) fn buffer_released(&self) {
        let mut state = lock(&self.state);
        state.attached = false;
        let done = state.take_if_done();
        drop(state);
        drop(done);
    }

    /// One explicit-sync release completed (immediate, or its fence signalled).
    pub(super) fn release_completed(&self) {
        let mut state = lock(&self.state);
        state.releases_pending = state.releases_pending.saturating_sub(1);
        let done = state.take_if_done();
        drop(state);
        drop(done);
    }

    /// Give the frame back now: the compositor is gone, or so is the
    /// window and connection. Dropped outside the lock: dropping a
    /// GstBuffer can run a pool's release code.
    pub(super) fn release(&self) {
        let hold = {
            let mut state = lock(&self.state);
            state.attached = false;
            state.releases_pending = 0;
            state.hold.take()
        };
        drop(hold);
    }
}

impl SlotState {
    fn take_if_done(&mut self) -> Option<(u64, Box<dyn Any + Send>)> {
        if self.attached || self.releases_pending > 0 {
            None
        } else {
            self.hold.take()
        }
    }
}

impl Presenter {
    /// A frame's new `wl_buffer` (`make` gets where its releases go; None:
    /// libwayland made none) as a [`FrameBuffer`].
    pub(super) fn frame_buffer(
        &self,
        kind: BufferKind,
        size: (u32, u32),
        crop: Option<(u32, u32)>,
        make: impl FnOnce(&FrameObjects, Arc<Slot>) -> Option<BufferProxy>,
    ) -> Result<Arc<FrameBuffer>, WaylandError> {
        let objects = self.shared.frame_objects.clone();
        let slot = Arc::new(Slot::default());
        let buffer = make(&objects, slot.clone()).ok_or(WaylandError::ObjectNotMade {
            interface: "wl_buffer",
        })?;
        Ok(Arc::new(FrameBuffer {
            buffer,
            objects,
            slot,
            presenter_id: self.id,
            kind,
            size,
            crop,
        }))
    }
}

// Buffers that are not frames (the background, an overlay, decorations):
// their release says nothing zc waits for.
delegate_noop!(State: ignore WlBuffer);
