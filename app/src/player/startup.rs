//! When an entry that is starting counts as stuck: it has shown no frame,
//! and its pipeline has said nothing on the bus for `--start-timeout`.
//! GStreamer 1.22's decodebin3 can deadlock at the start of a file with
//! several tracks (its multiqueue threads wait on each other's pad locks),
//! and a source can stall for good (a pipe nobody writes to); without this
//! the player would wait forever with an empty window. Any message on the
//! pipeline's bus counts as progress, so a slow start that keeps talking
//! (buffering, streams found, elements changing state) is never cut short.
//! A gapless hand-over is watched the same way, from the moment playbin3
//! takes the next entry until that entry's stream starts; the player
//! counts the current entry playing on (its position moving) as progress.
//! The same watch, with its own limit, follows each seek until GStreamer
//! answers it: a quiet spell is what a stuck start and a stuck seek have
//! in common.

use std::time::{Duration, Instant};

/// The default `--start-timeout`: as long as mpv's `--network-timeout`.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);

/// The quiet spell of what is being watched (an entry's start, a seek), if
/// anything is.
#[derive(Clone, Debug)]
pub struct QuietWatch {
    /// `None`: wait forever (`--start-timeout 0`).
    limit: Option<Duration>,
    /// Since when the pipeline has been quiet; `None` once what is
    /// watched is done (the entry showed a frame, the seek was answered) or
    /// before anything started.
    quiet_since: Option<Instant>,
}

impl QuietWatch {
    /// A zero limit waits forever.
    pub fn new(limit: Duration) -> QuietWatch {
        QuietWatch {
            limit: (!limit.is_zero()).then_some(limit),
            quiet_since: None,
        }
    }

    /// An entry starts (again) at `now`.
    pub fn arm(&mut self, now: Instant) {
        self.quiet_since = Some(now);
    }

    /// The pipeline said something at `now`: the quiet spell starts over.
    pub fn progress(&mut self, now: Instant) {
        if self.quiet_since.is_some() {
            self.quiet_since = Some(now);
        }
    }

    /// Whether an entry's start is being watched.
    pub fn watching(&self) -> bool {
        self.quiet_since.is_some()
    }

    /// The entry showed its first frame: nothing to watch until the next.
    pub fn started(&mut self) {
        self.quiet_since = None;
    }

    /// How long what is watched has been quiet (None: nothing is).
    pub fn quiet_for(&self, now: Instant) -> Option<Duration> {
        Some(now.saturating_duration_since(self.quiet_since?))
    }

    /// How long the starting entry has been quiet, once that reached the
    /// limit.
    pub fn stuck(&self, now: Instant) -> Option<Duration> {
        let quiet = now.saturating_duration_since(self.quiet_since?);
        (quiet >= self.limit?).then_some(quiet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_secs(60);

    #[test]
    fn a_quiet_start_is_stuck_at_the_limit_and_not_before() {
        let t0 = Instant::now();
        let mut watch = QuietWatch::new(LIMIT);
        assert_eq!(watch.stuck(t0 + LIMIT * 2), None, "nothing started yet");
        watch.arm(t0);
        assert_eq!(watch.stuck(t0 + LIMIT - Duration::from_millis(1)), None);
        assert_eq!(watch.stuck(t0 + LIMIT), Some(LIMIT));
    }

    #[test]
    fn the_quiet_spell_is_measured_from_the_last_progress_whatever_the_limit() {
        let t0 = Instant::now();
        let mut watch = QuietWatch::new(Duration::ZERO);
        assert_eq!(watch.quiet_for(t0), None, "nothing watched");
        watch.arm(t0);
        watch.progress(t0 + Duration::from_secs(2));
        assert_eq!(
            watch.quiet_for(t0 + Duration::from_secs(3)),
            Some(Duration::from_secs(1))
        );
        watch.started();
        assert_eq!(watch.quiet_for(t0 + Duration::from_secs(9)), None);
    }

    #[test]
    fn each_message_starts_the_quiet_spell_over() {
        let t0 = Instant::now();
        let mut watch = QuietWatch::new(LIMIT);
        watch.arm(t0);
        watch.progress(t0 + Duration::from_secs(50));
        assert_eq!(watch.stuck(t0 + Duration::from_secs(100)), None);
        assert_eq!(
            watch.stuck(t0 + Duration::from_secs(111)),
            Some(Duration::from_secs(61))
        );
    }

    #[test]
    fn a_started_entry_and_messages_after_it_are_not_watched() {
        let t0 = Instant::now();
        let mut watch = QuietWatch::new(LIMIT);
        watch.arm(t0);
        watch.started();
        // Messages during playback do not arm it again.
        watch.progress(t0 + Duration::from_secs(1));
        assert_eq!(watch.stuck(t0 + LIMIT * 3), None);
        assert!(!watch.watching());
        // The next entry does.
        watch.arm(t0 + LIMIT * 3);
        assert!(watch.watching());
        assert!(watch.stuck(t0 + LIMIT * 4).is_some());
    }

    #[test]
    fn zero_waits_forever() {
        let t0 = Instant::now();
        let mut watch = QuietWatch::new(Duration::ZERO);
        watch.arm(t0);
        assert_eq!(watch.stuck(t0 + Duration::from_secs(86_400)), None);
    }
}
