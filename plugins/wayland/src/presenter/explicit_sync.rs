//! Explicit sync (`zwp_linux_explicit_synchronization_v1`): whether a
//! window uses it, and the release events of each commit. Acquire fences
//! go out with the commit (`commit`); release fences are polled by the
//! dispatch thread (`dispatch`).

use std::sync::Arc;

use wayland_client::{Connection, Dispatch, QueueHandle};
use wayland_protocols::wp::linux_explicit_synchronization::zv1::client::zwp_linux_buffer_release_v1::{
    self, ZwpLinuxBufferReleaseV1,
};

use super::buffer::Slot;
use super::{Presenter, State};
use crate::lock;

/// The explicit-sync release of one commit of one buffer.
pub(super) struct ReleaseData {
    pub(super) slot: Arc<Slot>,
}

impl Presenter {
    /// Whether the next window uses explicit sync for dma-buf frames when
    /// the compositor offers it (`wp_linux_drm_syncobj_v1`, preferred, or
    /// `zwp_linux_explicit_synchronization_v1`): acquire fences from [`Presenter::present`], and
    /// frames held until the compositor's release fence signalled. On by
    /// default; off, the dma-bufs' implicit fences do the job.
    pub fn set_explicit_sync(&self, enabled: bool) {
        lock(&self.shared.inner).explicit_sync = enabled;
    }

    /// Whether the current window uses explicit sync (either protocol).
    pub fn uses_explicit_sync(&self) -> bool {
        self.sync_protocol().is_some()
    }

    /// The explicit-sync protocol the current window uses, if any.
    pub fn sync_protocol(&self) -> Option<&'static str> {
        let inner = lock(&self.shared.inner);
        let window = inner.window.as_ref()?;
        if window.video_syncobj.is_some() {
            Some("wp_linux_drm_syncobj_v1")
        } else if window.video_sync.is_some() {
            Some("zwp_linux_explicit_synchronization_v1")
        } else {
            None
        }
    }
}

impl Dispatch<ZwpLinuxBufferReleaseV1, ReleaseData> for State {
    fn event(
        state: &mut Self,
        _: &ZwpLinuxBufferReleaseV1,
        event: zwp_linux_buffer_release_v1::Event,
        data: &ReleaseData,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwp_linux_buffer_release_v1::Event::FencedRelease { fence } => {
                lock(&state.shared.inner).stats.fenced_releases += 1;
                // The dispatch loop polls it; the frame goes back once it
                // signalled.
                state.release_fences.push((fence, data.slot.clone()));
            }
            zwp_linux_buffer_release_v1::Event::ImmediateRelease => {
                lock(&state.shared.inner).stats.immediate_releases += 1;
                data.slot.release_completed();
                state.shared.changed.notify_all();
            }
            _ => {}
        }
    }
}

impl State {
    /// The release fences at `signalled` (indices into `release_fences`)
    /// signalled, or broke: the compositor is done with those commits'
    /// buffers.
    pub(super) fn fences_signalled(&mut self, signalled: &[usize]) {
        let mut index = 0;
        let mut done = Vec::new();
        self.release_fences.retain(|entry| {
            let keep = !signalled.contains(&index);
            index += 1;
            if !keep {
                done.push(entry.1.clone());
            }
            keep
        });
        for slot in done {
            slot.release_completed();
        }
        self.shared.changed.notify_all();
    }
}
