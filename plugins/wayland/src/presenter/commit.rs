//! Showing frames at the compositor's pace: a frame is committed when the
//! compositor asked for one (its frame callback), otherwise it waits, and a
//! newer one replaces it. A frame with a target time on a window paced by
//! the compositor (`pacing`) is committed at once instead.

use std::any::Any;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use wayland_client::QueueHandle;

use super::buffer::{BufferKind, FrameBuffer};
use super::color_management;
use super::connection::Globals;
use super::drm_syncobj;
use super::explicit_sync::ReleaseData;
use super::frame_objects::FrameObjects;
use super::orientation;
use super::pacing::MAX_IN_FLIGHT;
use super::representation::{self, Representation};
use super::stats::PresentationData;
use super::surface_requests;
use super::{Inner, Presenter, State, deadline_after};
use crate::error::WaylandError;
use crate::{lock, sys};

/// A frame waiting for the compositor's frame callback.
pub(super) struct PendingFrame {
    pub(super) buffer: Arc<FrameBuffer>,
    pub(super) frame_id: u64,
    pub(super) hold: Box<dyn Any + Send>,
    /// The producer's fence (a sync_file): the compositor waits for it
    /// before reading the buffer. Closed if the frame is replaced.
    pub(super) acquire_fence: Option<OwnedFd>,
    /// How its samples become RGB, stated with its commit (None: not).
    pub(super) representation: Option<Representation>,
    /// When it is meant to be shown, on the presentation clock.
    pub(super) target_ns: Option<u64>,
}

impl Presenter {
    /// Show a frame. `hold` (e.g. a GstBuffer ref) is kept until the
    /// compositor released the buffer (and, with explicit sync, until its
    /// release fence signalled), so its storage is not reused while the
    /// compositor may still read it. When the compositor has not asked for a
    /// new frame yet, the frame waits; a newer one replaces it.
    ///
    /// `frame_id` tells a new frame from the same frame shown again (a
    /// re-rendered preroll frame): a new frame arriving in a buffer the
    /// compositor still holds is counted in
    /// [`PresentStats::buffers_reused_while_held`].
    ///
    /// `acquire_fence`: the producer's sync_file for a dma-buf frame, which
    /// the compositor waits for before reading it when the window uses
    /// explicit sync; otherwise (or for wl_shm buffers, which take no
    /// fences) it is closed unused.
    ///
    /// `target_ns`: when the frame is meant to be shown, on the presentation
    /// clock ([`Presenter::presentation_clock_now_ns`]). On a window paced
    /// by the compositor the frame is committed at once with it (a frame
    /// still waiting for a frame callback is replaced); presentation
    /// feedback measures how close each frame landed (`jitter_ns_total`).
    pub fn present(
        &self,
        buffer: &Arc<FrameBuffer>,
        frame_id: u64,
        hold: Box<dyn Any + Send>,
        acquire_fence: Option<OwnedFd>,
        target_ns: Option<u64>,
    ) -> Result<(), WaylandError> {
        let replaced;
        let previous;
        {
            if buffer.presenter_id != self.id {
                return Err(WaylandError::ForeignBuffer);
            }
            let mut inner = lock(&self.shared.inner);
            inner.check_lost()?;
            if inner.closed {
                return Err(WaylandError::WindowClosed);
            }
            inner.stats.frames_submitted += 1;
            if buffer.slot.holds_other_frame(frame_id) {
                // The producer had this storage back and wrote a new frame
                // into it while the compositor could still read the old one.
                inner.stats.buffers_reused_while_held += 1;
                log::error!("a frame arrived in a buffer the compositor still holds");
            }
            let frame = PendingFrame {
                buffer: buffer.clone(),
                frame_id,
                hold,
                acquire_fence,
                representation: inner.representation,
                target_ns,
            };
            let timed =
                target_ns.is_some() && inner.window.as_ref().is_some_and(|w| w.pacer.is_some());
            // A frame waits for a frame callback, or (paced by the
            // compositor) while enough frames are queued there; a newer one
            // replaces it.
            let waits = if timed {
                inner.in_flight >= MAX_IN_FLIGHT
            } else {
                inner.frame_pending
            };
            if waits {
                previous = None;
                replaced = inner.next.replace(frame);
                if timed {
                    // The dispatch thread commits it once the compositor
                    // has room: no batching of events until then.
                    self.shared.urge();
                }
            } else {
                replaced = inner.next.take();
                previous = commit_frame(
                    &mut inner,
                    &self.globals,
                    &self.shared.frame_objects,
                    &self.queue_handle,
                    frame,
                );
            }
            if replaced.is_some() {
                inner.stats.frames_replaced += 1;
            }
        }
        // Holds given up are dropped here, outside the lock.
        drop(replaced);
        drop(previous);
        self.flush()
    }

    /// Wait until the compositor released every buffer (or `timeout`).
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = deadline_after(timeout);
        let mut inner = lock(&self.shared.inner);
        inner.waiters += 1;
        self.shared.urge();
        let idle = loop {
            inner
                .busy
                .retain(|slot| slot.upgrade().is_some_and(|s| s.is_busy()));
            if inner.busy.is_empty() && inner.next.is_none() || inner.lost.is_some() {
                break true;
            }
            let now = Instant::now();
            if now >= deadline {
                break false;
            }
            inner = self
                .shared
                .changed
                .wait_timeout(inner, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        };
        inner.waiters -= 1;
        idle
    }
}

/// Attach and commit a frame. Returns the hold the buffer had before (the
/// same storage shown again), for the caller to drop outside the lock.
pub(super) fn commit_frame(
    inner: &mut Inner,
    globals: &Globals,
    objects: &FrameObjects,
    qh: &QueueHandle<State>,
    frame: PendingFrame,
) -> Option<(u64, Box<dyn Any + Send>)> {
    let PendingFrame {
        buffer,
        frame_id,
        hold,
        acquire_fence,
        representation,
        target_ns,
    } = frame;
    let window = inner.window.as_mut()?;
    orientation::apply(window, buffer.size, buffer.crop);
    representation::apply(window, globals, qh, representation);
    color_management::apply(
        window,
        globals.color_manager.as_ref(),
        inner.described.as_ref(),
        qh,
    );
    let syncobj_release = drm_syncobj::before_commit(
        window,
        buffer.kind == BufferKind::DmaBuf,
        acquire_fence.as_ref(),
    );
    let syncobj = syncobj_release.is_some();
    if let Some(released) = syncobj_release {
        if acquire_fence.is_some() {
            inner.stats.acquire_fences += 1;
        }
        inner.stats.fenced_releases += 1;
        inner.syncobj_releases.push((released, buffer.slot.clone()));
    }
    let window = inner.window.as_ref()?;
    let video = window.video.clone();
    // wl_shm buffers take neither fences nor release objects (the
    // compositor raises unsupported_buffer).
    let sync = window
        .video_sync
        .clone()
        .filter(|_| buffer.kind == BufferKind::DmaBuf);
    inner.busy.retain(|slot| slot.strong_count() > 0);
    if !inner
        .busy
        .iter()
        .any(|slot| std::ptr::eq(slot.as_ptr(), Arc::as_ptr(&buffer.slot)))
    {
        inner.busy.push(Arc::downgrade(&buffer.slot));
    }
    surface_requests::attach_and_damage(&video, &buffer.buffer);
    if let Some(sync) = &sync {
        if let Some(fence) = &acquire_fence {
            sync.set_acquire_fence(fence.as_fd());
            inner.stats.acquire_fences += 1;
        }
        sync.get_release(
            qh,
            ReleaseData {
                slot: buffer.slot.clone(),
            },
        );
    }
    // The fd was dup'ed into the request; ours closes now.
    drop(acquire_fence);
    // With syncobjs wl_buffer.release is undefined: the release point says it.
    let previous = buffer
        .slot
        .attach(frame_id, hold, sync.is_some() || syncobj, !syncobj);
    // Paced by the compositor: the frame waits there for its time, and no
    // frame callback is needed. Otherwise the next frame waits for one.
    let pacer = window.pacer.as_ref().zip(target_ns);
    let generation = window.generation;
    match pacer {
        Some((pacer, target_ns)) => pacer.constrain(target_ns),
        None => inner.frame_pending = objects.request_callback(&video, generation),
    }
    let wants_feedback = inner.presentation_feedback || pacer.is_some();
    let mut fed_back = false;
    if let Some(presentation) = globals.presentation.as_ref().filter(|_| wants_feedback) {
        let data = PresentationData {
            committed_ns: sys::clock_ns(inner.presentation_clock),
            target_ns,
            ahead: pacer.is_some(),
            window: generation,
        };
        fed_back = objects.request_feedback(presentation, &video, data);
    }
    surface_requests::commit(&video);
    inner.stats.frames_committed += 1;
    if pacer.is_some() {
        inner.stats.frames_committed_ahead += 1;
        // Out of the compositor's queue once its feedback says so (a frame
        // without feedback would be counted there for ever).
        if fed_back {
            inner.in_flight += 1;
        }
    }
    previous
}

impl State {
    /// The frame callback of window `window` (its generation) came: the
    /// frame waiting for it (if any) goes now. One of a window since
    /// destroyed is ignored.
    pub(super) fn frame_done(&mut self, window: u64, qh: &QueueHandle<State>) {
        let mut inner = lock(&self.shared.inner);
        if inner.window.as_ref().map(|w| w.generation) != Some(window) {
            return;
        }
        inner.frame_pending = false;
        self.commit_waiting(inner, qh);
    }

    /// Commit the frame waiting here, if any, and wake whoever waits on
    /// the compositor; the hold it replaced is dropped outside the lock.
    pub(super) fn commit_waiting(&self, mut inner: MutexGuard<'_, Inner>, qh: &QueueHandle<State>) {
        let previous = inner.next.take().and_then(|frame| {
            commit_frame(
                &mut inner,
                &self.globals,
                &self.shared.frame_objects,
                qh,
                frame,
            )
        });
        drop(inner);
        drop(previous);
        self.shared.changed.notify_all();
    }
}
