//! The dispatch thread: reads the compositor's events and runs their
//! handlers, flushes requests, polls release fences, and marks the
//! connection lost when it breaks.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Weak};

use wayland_client::{Connection, EventQueue};

use super::{Shared, State, lock};
use crate::error::WaylandError;

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

pub(super) fn dispatch_loop(
    connection: Connection,
    mut queue: EventQueue<State>,
    mut state: State,
    stop: Arc<OwnedFd>,
) {
    let shared = state.shared.clone();
    loop {
        if let Err(e) = queue.dispatch_pending(&mut state) {
            mark_lost(&shared, &e.to_string());
            return;
        }
        match connection.flush() {
            Ok(()) => {}
            Err(wayland_client::backend::WaylandError::Io(e))
                if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => {
                mark_lost(&shared, &e.to_string());
                return;
            }
        }
        let Some(guard) = queue.prepare_read() else {
            continue;
        };
        // The connection, the stop signal, and every release fence still to
        // signal.
        let mut fds: Vec<libc::pollfd> = [guard.connection_fd().as_raw_fd(), stop.as_raw_fd()]
            .into_iter()
            .chain(
                state
                    .release_fences
                    .iter()
                    .map(|(fence, _)| fence.as_raw_fd()),
            )
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a valid array of `fds.len()` pollfds for the
        // call's duration.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 1000) };
        if ready < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            mark_lost(&shared, &error.to_string());
            return;
        }
        if fds[1].revents != 0 {
            return;
        }
        // A signalled (or broken) fence: the compositor is done with that
        // commit's buffer.
        let signalled: Vec<usize> = fds[2..]
            .iter()
            .enumerate()
            .filter(|(_, p)| p.revents != 0)
            .map(|(i, _)| i)
            .collect();
        if !signalled.is_empty() {
            let mut index = 0;
            let mut done = Vec::new();
            state.release_fences.retain(|entry| {
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
            shared.changed.notify_all();
        }
        if fds[0].revents != 0 {
            if let Err(e) = guard.read() {
                match e {
                    wayland_client::backend::WaylandError::Io(io)
                        if io.kind() == std::io::ErrorKind::WouldBlock => {}
                    other => {
                        mark_lost(&shared, &other.to_string());
                        return;
                    }
                }
            }
        } else {
            drop(guard);
        }
    }
}

pub(super) fn eventfd() -> Result<OwnedFd, WaylandError> {
    // SAFETY: plain syscall with valid flags; the fd is new and ours alone.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: `raw` was just returned by eventfd and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}
