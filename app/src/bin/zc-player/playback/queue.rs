//! The playlist on the pipeline: which entry plays, moving to another
//! (next, previous, one loaded through the control socket), the gapless
//! hand-over at the end of an entry (playbin3's about-to-finish), and
//! resuming where an entry stopped last time (--save-position-on-quit).

use std::time::Instant;

use gst::prelude::*;
use zc_app::lock;
use zc_app::player::playlist::Playlist;

use super::teardown::{self, SWITCH_LIMIT, Stopped};
use super::{Player, PlayerExit};
use crate::lifecycle::abandon;

/// How long the position stands still at the end of an entry before the
/// next one, with a video where it has none or none where it has one, is
/// started on its own (see [`Player::watch_hand_over`]).
const KIND_CHANGE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// How moving to another entry leaves the current one.
enum Leaving {
    /// Stopped, or left behind where it does not stop in time.
    Stop,
    /// Left as it is: its start is stuck (see [`teardown::leave_stuck`]).
    Stuck,
}

impl Player {
    pub fn playlist(&self) -> &Playlist {
        &self.playlist
    }

    /// Before the current entry prerolls: where it resumes, and the next
    /// entry queued for a gapless hand-over.
    pub(super) fn arm_entry(&mut self) {
        self.start_watch.arm(Instant::now());
        self.seek_watch.started();
        self.hand_over_position = None;
        self.hand_over_frames = None;
        self.kinds_change_to = None;
        let uri = self.playlist.current().to_owned();
        if let Some(later) = &self.watch_later {
            match later.load(&uri) {
                Ok(Some(seconds)) => {
                    eprintln!("zc-player: resuming {uri} at {seconds:.1} s");
                    self.start = Some(seconds);
                    // Resumed once, as mpv does: the next run starts over
                    // unless it saves again.
                    if let Err(e) = later.forget(&uri) {
                        eprintln!("zc-player: warning: {e}");
                    }
                }
                Ok(None) => {}
                Err(e) => eprintln!("zc-player: warning: {e}"),
            }
        }
        self.queue_gapless();
    }

    /// Offer the next entry to the about-to-finish handler (none while
    /// --loop repeats the current one).
    fn queue_gapless(&self) {
        let next = if self.looping {
            None
        } else {
            self.playlist.peek_next().map(str::to_owned)
        };
        lock(&self.gapless).next = next;
    }

    /// Stop the current entry and play the one at `index` (from where it
    /// stopped last time, if it did), in the state the user wants.
    pub(super) fn switch_to(&mut self, index: usize) -> Result<(), String> {
        self.move_to(index, Leaving::Stop)
    }

    /// [`Player::switch_to`], leaving the current entry as `leaving` says.
    fn move_to(&mut self, index: usize, leaving: Leaving) -> Result<(), String> {
        let Some(uri) = self.playlist.go_to(index).map(str::to_owned) else {
            return Err(format!("the playlist has no entry {index}"));
        };
        *lock(&self.gapless) = Default::default();
        self.step_after_seek = false;
        match leaving {
            Leaving::Stop => {
                let stopped = teardown::stop_within(&self.elements.pipeline, SWITCH_LIMIT)?;
                if stopped == Stopped::LeftBehind {
                    eprintln!(
                        "zc-player: GStreamer did not stop the current entry within {} s (its \
                         threads are stuck): leaving its pipeline behind and starting a new one",
                        SWITCH_LIMIT.as_secs()
                    );
                    self.replace_pipeline(&uri);
                }
            }
            Leaving::Stuck => {
                teardown::leave_stuck(&self.elements);
                self.replace_pipeline(&uri);
            }
        }
        // Messages numbered from here on are the new entry's.
        self.entry_seqnum = Some(gst::Seqnum::next());
        for (reply, _) in self.pending_seeks.drain(..) {
            let _ = reply.send(Err("the playlist moved to another entry".to_owned()));
        }
        self.elements.pipeline.set_property("uri", &uri);
        self.prerolled = false;
        self.at_eos = false;
        self.start = None;
        self.decoder = None;
        self.missing_plugin = None;
        self.tracks.forget_streams();
        self.forget_cover();
        self.arm_entry();
        eprintln!(
            "zc-player: playing {} of {}: {uri}",
            index + 1,
            self.playlist.len()
        );
        // on_async_done plays (or stays paused) once it prerolled.
        self.elements
            .pipeline
            .set_state(gst::State::Paused)
            .map(|_| ())
            .map_err(|_| format!("cannot start {uri}"))
    }

    /// Start the current entry again, at `start` (or where it resumes),
    /// with the tracks chosen for it: GStreamer left it unable to go on.
    /// Seeks waiting for an answer wait for the new start (they are where
    /// it starts), not answered as moved away from.
    pub(super) fn restart_entry(&mut self, start: Option<f64>) {
        let waiting = std::mem::take(&mut self.pending_seeks);
        let chosen = self.tracks.chosen();
        match self.switch_to(self.playlist.position()) {
            Ok(()) => {
                self.start = start.or(self.start);
                self.tracks.choose_again(chosen);
                self.pending_seeks = waiting;
            }
            Err(e) => {
                eprintln!("zc-player: {e}");
                for (reply, _) in waiting {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }

    /// The entry being started is stuck (`why`, from
    /// [`Player::stuck_at_start`]): in a playlist with an entry after it,
    /// its pipeline is left as it is ([`teardown::leave_stuck`]) and that
    /// entry plays in a new one, as mpv skips an entry that times out. Else
    /// the player gives up.
    pub fn skip_stuck_entry(&mut self, why: String) -> Result<(), PlayerExit> {
        let after = self.starting_index() + 1;
        if after >= self.playlist.len() {
            return Err(PlayerExit::Stuck(why));
        }
        eprintln!("zc-player: {why}; skipping it, its pipeline left as it is");
        self.move_to(after, Leaving::Stuck)
            .map_err(PlayerExit::Failed)
    }

    /// The current pipeline was left behind (see [`teardown`]): a new one
    /// like it, for `uri`, with the volume and mute set. Without one the
    /// player cannot go on: it ends at once with status 1 (the old
    /// pipeline is not its to stop any more).
    fn replace_pipeline(&mut self, uri: &str) {
        let elements = match self.spec.build(uri, self.volume) {
            Ok(elements) => elements,
            Err(e) => abandon(
                &(1, None),
                Some(&format!("cannot build a new pipeline for {uri}: {e:#}")),
            ),
        };
        // Snapshots asked of the old pipeline's frames never come.
        self.fail_snapshots("the entry was left behind before the snapshot");
        self.elements
            .live
            .store(false, std::sync::atomic::Ordering::Release);
        self.elements = elements;
        self.apply_mute();
        self.last_rendered = None;
    }

    pub fn next_entry(&mut self) -> Result<(), String> {
        if self.playlist.peek_next().is_none() {
            return Err(format!(
                "this is the last entry of the playlist ({} of {})",
                self.playlist.position() + 1,
                self.playlist.len()
            ));
        }
        self.switch_to(self.playlist.position() + 1)
    }

    pub fn prev_entry(&mut self) -> Result<(), String> {
        match self.playlist.position().checked_sub(1) {
            Some(index) => self.switch_to(index),
            None => Err("this is the first entry of the playlist".to_owned()),
        }
    }

    /// Play `uri` now instead of the playlist, or add it at the end.
    pub fn load(&mut self, uri: String, append: bool) -> Result<(), String> {
        if append {
            self.playlist.append(uri);
            self.queue_gapless();
            return Ok(());
        }
        self.playlist.replace(uri);
        self.switch_to(0)
    }

    /// The current entry ended: on to the next one; false at the end.
    pub(super) fn advance_at_end(&mut self) -> bool {
        if self.playlist.peek_next().is_none() {
            return false;
        }
        match self.next_entry() {
            Ok(()) => true,
            Err(e) => {
                eprintln!("zc-player: {e}");
                false
            }
        }
    }

    /// A stream started (`group`: its stream group, where it has one):
    /// if it is the next entry handed over gaplessly, the playlist moves on
    /// with it (see [`Gapless`](super::Gapless)).
    pub(super) fn on_stream_start(&mut self, group: Option<gst::GroupId>) {
        {
            let mut gapless = lock(&self.gapless);
            if !gapless.entry_started {
                gapless.entry_started = true;
                gapless.group = group;
                return;
            }
            let same_group = group.is_some() && group == gapless.group;
            if same_group || gapless.handed_over.is_none() {
                return;
            }
            gapless.handed_over = None;
            gapless.group = group;
        }
        // A new stream started: the hand-over is watched until its first
        // frame shows (see `watch_hand_over`).
        self.hand_over_frames = Some(self.sink_counters().0);
        self.hand_over_position = None;
        let kinds_change_to = self.kinds_change_to.take();
        // Its tracks, read ahead (whichever entry playbin3 went on to).
        self.tracks_handed_over();
        // The URI the about-to-finish handler gave it, unless playbin3
        // says another. (1.26's says none at times, at a hand-over where
        // a sound goes: seen in CI. It was handed the next entry's.)
        let current = self
            .elements
            .pipeline
            .property::<Option<String>>("current-uri");
        if let Some(current) = current
            && Some(current.as_str()) != self.playlist.peek_next()
        {
            eprintln!(
                "zc-player: warning: playbin3 went on to {current}, not the next entry {:?}",
                self.playlist.peek_next()
            );
            return;
        }
        self.playlist.advance();
        self.seek_watch.started();
        self.decoder = None;
        self.forget_cover();
        eprintln!(
            "zc-player: playing {} of {} (gapless): {}",
            self.playlist.position() + 1,
            self.playlist.len(),
            self.playlist.current()
        );
        if let Some(kinds) = kinds_change_to {
            // It links another kind of stream than the one before: not
            // gapless in playbin3 (see `kinds`).
            eprintln!(
                "zc-player: this entry has {}, unlike the one before: starting it afresh",
                kinds.in_words()
            );
            self.restart_entry(None);
            return;
        }
        self.queue_gapless();
        // The entry handed over starts at speed 1: seek it to its start
        // at the speed asked for.
        if self.speed != 1.0
            && self
                .seek_at(
                    gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
                    gst::ClockTime::ZERO,
                )
                .is_err()
        {
            eprintln!(
                "zc-player: cannot keep the speed {} for this entry",
                self.speed
            );
        }
    }

    /// Called on the tick. From the moment playbin3 has taken the next
    /// entry until that entry shows its first frame, its start is watched
    /// as any start is (`--start-timeout`): a source that stalls, or
    /// GStreamer 1.22's decodebin3 deadlock, would otherwise leave the
    /// window on the last frame for good. The current entry playing out
    /// what it still holds (the position moving), a pause and the end of
    /// the stream count as progress. An entry without a video has started
    /// once its position moves on. The tracks --aid/--sid pick for it are
    /// selected once it started.
    pub fn watch_hand_over(&mut self) {
        let watching = self.hand_over_frames.is_some() || lock(&self.gapless).handed_over.is_some();
        if !watching {
            return;
        }
        let position = self.position();
        if let Some(before) = self.hand_over_frames {
            let audio_moving = self.audio_only()
                && matches!((position, self.hand_over_position), (Some(now), Some(then)) if now > then);
            if self.sink_counters().0 > before || audio_moving {
                self.start_watch.started();
                self.hand_over_frames = None;
                self.hand_over_position = None;
                self.send_pending_selection();
                return;
            }
        }
        let now = Instant::now();
        if self.hand_over_frames.is_none()
            && let Some(kinds) = self.kinds_change_to
            && self.prerolled
            && self.wanted == gst::State::Playing
            && !self.seek_watch.watching()
            && position.is_some()
            && position == self.hand_over_position
            && self
                .start_watch
                .quiet_for(now)
                .is_some_and(|quiet| quiet >= KIND_CHANGE_WAIT)
        {
            // Where playbin3 stalls at such a hand-over (its STREAM_START
            // never comes; see `kinds`): once this entry played out (the
            // position stands still), the next starts on its own.
            let why = format!("it has {}, unlike this one", kinds.in_words());
            if let Err(PlayerExit::Failed(e)) = self.start_next_on_its_own(&why) {
                eprintln!("zc-player: {e}");
            }
            return;
        }
        if !self.start_watch.watching() {
            self.start_watch.arm(now);
        } else if self.wanted != gst::State::Playing
            || self.at_eos
            || position != self.hand_over_position
        {
            self.start_watch.progress(now);
        }
        self.hand_over_position = position;
    }

    /// The entry whose start is watched: the next one while a gapless
    /// hand-over waits for it (after the current one showed its frames: a
    /// short file is read whole, and handed over, before its own preroll).
    pub(super) fn starting_entry(&self) -> &str {
        self.playlist
            .entries()
            .get(self.starting_index())
            .map_or(self.playlist.current(), String::as_str)
    }

    /// The playlist index of [`Player::starting_entry`].
    fn starting_index(&self) -> usize {
        let pending = self.prerolled && lock(&self.gapless).handed_over.is_some();
        let position = self.playlist.position();
        if pending && self.playlist.peek_next().is_some() {
            position + 1
        } else {
            position
        }
    }

    /// The next entry cannot follow the current one gaplessly (`why`):
    /// it starts in the pipeline stopped and started again, as one moved
    /// to does.
    pub(super) fn start_next_on_its_own(&mut self, why: &str) -> Result<(), PlayerExit> {
        eprintln!(
            "zc-player: the next entry cannot follow gaplessly ({why}): starting it on its own"
        );
        self.switch_to(self.playlist.position() + 1)
            .map_err(PlayerExit::Failed)
    }

    /// Keep where the current entry is for the next run (--save-position-on-quit).
    pub fn save_position(&self) {
        let Some(later) = &self.watch_later else {
            eprintln!(
                "zc-player: cannot save the position: neither XDG_STATE_HOME nor HOME is set"
            );
            return;
        };
        let uri = self.playlist.current();
        let position = self.position().filter(|_| !self.at_eos);
        match position {
            Some(seconds) => match later.save(uri, seconds) {
                Ok(path) => eprintln!(
                    "zc-player: saved the position {seconds:.1} s in {}",
                    path.display()
                ),
                Err(e) => eprintln!("zc-player: cannot save the position: {e}"),
            },
            // At the end: the next run starts from the beginning.
            None => {
                if let Err(e) = later.forget(uri) {
                    eprintln!("zc-player: warning: {e}");
                }
            }
        }
    }
}
