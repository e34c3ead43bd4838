//! The dispatch thread: reads the compositor's events and runs their
//! handlers, flushes requests, polls release fences, and marks the
//! connection lost when it breaks.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use smallvec::SmallVec;
use wayland_client::{Connection, EventQueue, QueueHandle};

use super::frame_objects::FrameEvent;
use super::{Inner, Shared, State};
use crate::error::WaylandError;
use crate::{lock, sys};

/// How long the dispatch thread waits for events before looking again (a
/// timeout only bounds how late it notices nothing; every event wakes it).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// The running dispatch thread, and the eventfd that stops it.
pub(super) struct DispatchThread {
    stop: Arc<OwnedFd>,
    thread: Option<JoinHandle<()>>,
}

impl DispatchThread {
    pub(super) fn spawn(
        connection: Connection,
        queue: EventQueue<State>,
        state: State,
    ) -> Result<DispatchThread, WaylandError> {
        let stop = Arc::new(sys::eventfd()?);
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("zc-wayland".into())
                .spawn(move || dispatch_loop(connection, queue, state, stop))?
        };
        Ok(DispatchThread {
            stop,
            thread: Some(thread),
        })
    }

    /// Stop the thread and wait for it: no handler runs after this.
    pub(super) fn stop(&mut self) {
        sys::eventfd_signal(self.stop.as_fd());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The connection broke: every waiter learns it, and the frames the
/// compositor held go back (nothing will release them now).
pub(super) fn mark_lost(shared: &Shared, reason: &str) {
    let (next, busy) = {
        let mut inner = lock(&shared.inner);
        if inner.lost.is_none() {
            inner.lost = Some(reason.to_owned());
        }
        (inner.next.take(), std::mem::take(&mut inner.busy))
    };
    drop(next);
    // Nothing will be released by a compositor that is gone.
    for slot in busy.iter().filter_map(Weak::upgrade) {
        slot.release();
    }
    shared.changed.notify_all();
}

fn dispatch_loop(
    connection: Connection,
    mut queue: EventQueue<State>,
    mut state: State,
    stop: Arc<OwnedFd>,
) {
    let shared = state.shared.clone();
    let qh = queue.handle();
    loop {
        // Release points of commits made since (DRM syncobj): polled too.
        let new_releases = std::mem::take(&mut lock(&shared.inner).syncobj_releases);
        state.release_fences.extend(new_releases);
        // Events read at the end of the last pass are dispatched now: the
        // frame objects' dispatchers note theirs, wayland-rs's handlers run
        // (a round trip's end acts on the notes first), then the notes left
        // are acted on.
        if let Err(e) = queue.dispatch_pending(&mut state) {
            mark_lost(&shared, &e.to_string());
            return;
        }
        state.handle_frame_events(&qh);
        if let Err(e) = connection.flush()
            && !would_block(&e)
        {
            mark_lost(&shared, &e.to_string());
            return;
        }
        // While paced frames wait in the compositor's queue and nobody
        // needs its events yet, sleep through a batch of them first: they
        // are read together below, without waiting.
        let batch = may_batch(&lock(&shared.inner));
        if let Some(batch) = batch {
            let ready = match sys::poll_readable(&[stop.as_fd(), shared.urge.as_fd()], batch) {
                Ok(ready) => ready,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    mark_lost(&shared, &error.to_string());
                    return;
                }
            };
            lock(&shared.inner).stats.dispatch_wakeups += 1;
            if ready[0] {
                return;
            }
            sys::eventfd_drain(shared.urge.as_fd());
        }
        let Some(guard) = queue.prepare_read() else {
            continue;
        };
        // The connection, the stop signal, every release fence still to
        // signal, and the urge (a batch's end: read now).
        let fds: SmallVec<[BorrowedFd<'_>; sys::POLLED_ON_STACK]> =
            [guard.connection_fd(), stop.as_fd(), shared.urge.as_fd()]
                .into_iter()
                .chain(state.release_fences.iter().map(|(fence, _)| fence.as_fd()))
                .collect();
        // After a batch, only what is there already: the sleep was the
        // wakeup.
        let timeout = if batch.is_some() {
            Duration::ZERO
        } else {
            IDLE_POLL
        };
        let ready = match sys::poll_readable(&fds, timeout) {
            Ok(ready) => ready,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => {
                mark_lost(&shared, &error.to_string());
                return;
            }
        };
        drop(fds);
        if batch.is_none() {
            lock(&shared.inner).stats.dispatch_wakeups += 1;
        }
        if ready[1] {
            return;
        }
        if ready[2] {
            sys::eventfd_drain(shared.urge.as_fd());
        }
        // A signalled (or broken) fence: the compositor is done with that
        // commit's buffer.
        let signalled: SmallVec<[usize; sys::POLLED_ON_STACK]> = ready[3..]
            .iter()
            .enumerate()
            .filter(|(_, ready)| **ready)
            .map(|(i, _)| i)
            .collect();
        if !signalled.is_empty() {
            state.fences_signalled(&signalled);
        }
        if ready[0] {
            // Only read: the next pass's `dispatch_pending` dispatches
            // (`read` would dispatch libwayland's queue here, and that pass
            // once more).
            if let Err(e) = guard.read_without_dispatch()
                && !would_block(&e)
            {
                mark_lost(&shared, &e.to_string());
                return;
            }
        } else {
            drop(guard);
        }
    }
}

impl State {
    /// Act on what the frame objects reported while libwayland dispatched
    /// (their dispatchers only note it: see `frame_objects`).
    pub(super) fn handle_frame_events(&mut self, qh: &QueueHandle<State>) {
        let mut released = false;
        for event in self.shared.frame_objects.take_events() {
            match event {
                FrameEvent::Released { slot } => {
                    slot.buffer_released();
                    released = true;
                }
                FrameEvent::Done { window } => self.frame_done(window, qh),
                FrameEvent::Presented {
                    data,
                    presented_ns,
                    zero_copy,
                } => self.presentation_done(&data, Some((presented_ns, zero_copy)), qh),
                FrameEvent::Discarded { data } => self.presentation_done(&data, None, qh),
            }
        }
        if released {
            // Whoever waits for a buffer back. The lock first: a waiter
            // that checked the slot under it before the release is asleep
            // by now, not about to sleep through this.
            drop(lock(&self.shared.inner));
            self.shared.changed.notify_all();
        }
    }
}

/// How long the dispatch thread may sleep before reading the compositor's
/// events (None: read them as they come). Only while frames committed
/// ahead wait in the compositor's queue (their releases and presentations
/// can wait a little), no frame waits here to be committed, and no thread
/// waits on the compositor; each of those urges the thread awake.
fn may_batch(inner: &Inner) -> Option<Duration> {
    let paced = inner.window.as_ref().is_some_and(|w| w.pacer.is_some());
    let quiet = inner.next.is_none() && inner.waiters == 0 && inner.lost.is_none();
    (paced && quiet && inner.in_flight > 0 && !inner.event_batch.is_zero())
        .then_some(inner.event_batch)
}

/// Whether a connection error only means "not now": a full socket on a
/// flush, nothing to read yet on a read.
pub(super) fn would_block(error: &wayland_client::backend::WaylandError) -> bool {
    matches!(
        error,
        wayland_client::backend::WaylandError::Io(e) if e.kind() == std::io::ErrorKind::WouldBlock
    )
}
