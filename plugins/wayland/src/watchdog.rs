//! A deadline on a connection's set-up.
//!
//! wayland-client's round trips (`registry_queue_init`, `EventQueue::roundtrip`)
//! block until the compositor answers: a socket whose owner accepts but never
//! answers (a hung or stopped compositor) would hang the caller forever. The
//! watchdog shuts the socket down when the deadline passes, which wakes the
//! blocked read with an error; the caller then reports the timeout. The
//! socket is shut down, never closed, so no fd number changes hands.

use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Armed on a connection's socket until [`Watchdog::disarm`].
pub(crate) struct Watchdog {
    done: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<bool>>,
}

impl Watchdog {
    /// Shut `socket` (a dup of the connection's) down unless disarmed
    /// within `timeout`.
    pub(crate) fn arm(socket: UnixStream, timeout: Duration) -> std::io::Result<Watchdog> {
        let (done, wait) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("zc-wl-connect".into())
            .spawn(move || match wait.recv_timeout(timeout) {
                Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => false,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(e) = socket.shutdown(Shutdown::Both) {
                        log::warn!("shutting down the unanswered Wayland socket: {e}");
                    }
                    true
                }
            })?;
        Ok(Watchdog {
            done: Some(done),
            thread: Some(thread),
        })
    }

    /// Stop the watchdog and wait for its thread (which closes its dup of
    /// the socket). True if the deadline had passed: the socket is then shut
    /// down and the connection unusable.
    pub(crate) fn disarm(mut self) -> bool {
        self.stop()
    }

    fn stop(&mut self) -> bool {
        if let Some(done) = self.done.take() {
            // A send fails only when the thread already ended (it fired).
            let _ = done.send(());
        }
        // A panicking watchdog thread counts as fired: the socket's state is
        // then unknown.
        self.thread.take().is_some_and(|t| t.join().unwrap_or(true))
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::time::Instant;

    #[test]
    fn fires_after_the_deadline_and_wakes_a_blocked_read() {
        let (mut ours, _peer) = UnixStream::pair().expect("socketpair");
        let started = Instant::now();
        let watchdog =
            Watchdog::arm(ours.try_clone().expect("dup"), Duration::from_millis(100)).expect("arm");
        // Blocks until the watchdog shuts the socket down: then EOF.
        let mut byte = [0u8; 1];
        assert_eq!(ours.read(&mut byte).expect("read"), 0);
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert!(watchdog.disarm(), "the deadline passed");
    }

    #[test]
    fn disarmed_in_time_leaves_the_socket_alone() {
        let (ours, _peer) = UnixStream::pair().expect("socketpair");
        let watchdog =
            Watchdog::arm(ours.try_clone().expect("dup"), Duration::from_secs(30)).expect("arm");
        let started = Instant::now();
        assert!(!watchdog.disarm());
        assert!(started.elapsed() < Duration::from_secs(5), "disarm waited");
        ours.set_nonblocking(true).expect("nonblocking");
        let mut byte = [0u8; 1];
        let e = (&ours)
            .read(&mut byte)
            .expect_err("nothing to read, not EOF");
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    }
}
