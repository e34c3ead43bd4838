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
    /// Whether the next window uses explicit sync
    /// (`zwp_linux_explicit_synchronization_v1`) for dma-buf frames when the
    /// compositor offers it: acquire fences from [`Presenter::present`], and
    /// frames held until the compositor's release fence signalled. On by
    /// default; off, the dma-bufs' implicit fences do the job.
    pub fn set_explicit_sync(&self, enabled: bool) {
        lock(&self.shared.inner).explicit_sync = enabled;
    }

    /// Whether the current window uses explicit sync.
    pub fn uses_explicit_sync(&self) -> bool {
        lock(&self.shared.inner)
            .window
            .as_ref()
            .is_some_and(|w| w.video_sync.is_some())
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
