//! Play, pause, seek, speed, frame steps and volume, and the position
//! they answer with.

use std::time::{Duration, Instant};

use gst::prelude::*;
use zc_app::player::controls::{
    MAX_SEEK_SECONDS, SeekTarget, SpeedChange, changed_speed, clock_time_from_seconds, seconds_of,
};
use zc_app::player::ipc::Reply;

use super::Player;

/// How long a seek may go unanswered, with nothing said on the bus,
/// before the entry is started again at its target ([`Player::watch_seek`]).
/// A seek takes well under a second, a few under software emulation.
pub(super) const SEEK_LIMIT: Duration = Duration::from_secs(10);

/// The seek watch's limit under `--start-timeout`: [`SEEK_LIMIT`], or
/// less where that is less; zero (wait forever) turns it off too.
pub(super) fn seek_limit(start_timeout: Duration) -> Duration {
    start_timeout.min(SEEK_LIMIT)
}

impl Player {
    pub fn set_playing(&mut self, playing: bool) -> Result<(), String> {
        self.wanted = if playing {
            gst::State::Playing
        } else {
            gst::State::Paused
        };
        if !self.prerolled {
            // on_async_done applies it.
            return Ok(());
        }
        self.elements
            .pipeline
            .set_state(self.wanted)
            .map(|_| ())
            .map_err(|_| format!("cannot switch to {:?}", self.wanted))?;
        // PLAYING <-> PAUSED after preroll completes at once; wait so the
        // answer tells the truth.
        let _ = self
            .elements
            .pipeline
            .state(gst::ClockTime::from_seconds(5));
        Ok(())
    }

    pub fn toggle_pause(&mut self) -> Result<(), String> {
        self.set_playing(self.wanted != gst::State::Playing)
    }

    /// Seek to `target`, answering `reply` once the frame there is shown.
    /// Before the entry's first frame the seek waits: it becomes where the
    /// entry starts, which `on_async_done` seeks to. Sent at once it could
    /// block this thread for good in GStreamer 1.22's decodebin3 start-up
    /// deadlock, where a flushing seek waits on the stuck stream locks, and
    /// the start watch (on this thread too) would never end the wait.
    pub fn seek(
        &mut self,
        target: SeekTarget,
        accurate: bool,
        reply: Option<std::sync::mpsc::Sender<Reply>>,
    ) -> Result<(), String> {
        let current = if self.prerolled {
            self.position().unwrap_or(0.0)
        } else {
            self.start.unwrap_or(0.0)
        };
        let wanted = match target {
            SeekTarget::Absolute(s) => s,
            SeekTarget::Relative(delta) => current + delta,
        };
        if wanted.is_nan() {
            return Err("seek: the position is not a number".to_owned());
        }
        let mut seconds = wanted.clamp(0.0, MAX_SEEK_SECONDS);
        if !self.prerolled {
            gst::debug!(
                crate::CAT,
                "seek to {seconds:.3} s before the first frame: the entry starts there"
            );
            self.start = Some(seconds);
            if let Some(reply) = reply {
                self.pending_seeks.push((reply, seconds));
            }
            return Ok(());
        }
        if let Some(duration) = self.duration() {
            // Past the end: the end, where EOS follows.
            seconds = seconds.min(duration);
        }
        let mut flags = gst::SeekFlags::FLUSH;
        flags |= if accurate {
            gst::SeekFlags::ACCURATE
        } else {
            gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE
        };
        let position = clock_time_from_seconds(seconds);
        self.seek_at(flags, position)
            .map_err(|_| format!("the stream cannot seek to {seconds:.3} s"))?;
        self.at_eos = false;
        if let Some(reply) = reply {
            self.pending_seeks.push((reply, seconds));
        }
        Ok(())
    }

    /// A seek GStreamer never finished (no ASYNC_DONE, and nothing on the
    /// bus for [`SEEK_LIMIT`]; seen with 1.22's playbin3 now and then, its
    /// streaming threads all idle): the entry starts again where the seek
    /// went, and the requests waiting for it are answered from there.
    pub fn watch_seek(&mut self) {
        let Some(quiet) = self.seek_watch.stuck(Instant::now()) else {
            return;
        };
        self.seek_watch.started();
        let target = self.seek_target;
        eprintln!(
            "zc-player: the seek to {target:.3} s got no answer from GStreamer for {:.0} s: \
             starting the entry again there",
            quiet.as_secs_f64()
        );
        self.restart_entry(Some(target));
    }

    /// Seek to `position` at the current speed (every seek goes through
    /// here, so none falls back to speed 1); each is watched until its
    /// ASYNC_DONE (see `watch_seek`).
    pub(super) fn seek_at(
        &mut self,
        flags: gst::SeekFlags,
        position: gst::ClockTime,
    ) -> Result<(), gst::glib::BoolError> {
        self.elements.pipeline.seek(
            self.speed,
            flags,
            gst::SeekType::Set,
            position,
            gst::SeekType::None,
            gst::ClockTime::NONE,
        )?;
        self.seek_watch.arm(Instant::now());
        self.seek_target = seconds_of(position);
        Ok(())
    }

    /// Change the speed: a flushing seek to where we are at the new rate
    /// (the audio filter, scaletempo, keeps the pitch). Before preroll,
    /// `on_async_done` applies it.
    pub fn change_speed(&mut self, change: SpeedChange) -> Result<f64, String> {
        let speed = changed_speed(self.speed, change);
        let before = self.speed;
        self.speed = speed;
        if !self.prerolled || (speed - before).abs() < f64::EPSILON {
            return Ok(speed);
        }
        let position = self.frame_pts().or_else(|| self.position()).unwrap_or(0.0);
        if let Err(e) = self.seek_at(
            gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
            clock_time_from_seconds(position),
        ) {
            self.speed = before;
            return Err(format!(
                "the stream cannot change its speed to {speed}: {e}"
            ));
        }
        self.at_eos = false;
        Ok(speed)
    }

    /// Pause and show the next frame, or (`backward`) the one before the
    /// frame on screen, as mpv's `.` and `,` do.
    pub fn frame_step(&mut self, backward: bool) -> Result<(), String> {
        if !self.prerolled {
            return Err("no frame is shown yet".to_owned());
        }
        if self.audio_only() {
            return Err("this entry has no video to step through".to_owned());
        }
        if self.wanted == gst::State::Playing {
            self.set_playing(false)?;
        }
        if !backward {
            return self.step_one();
        }
        let shown = self
            .frame_pts()
            .ok_or_else(|| "no frame is shown yet".to_owned())?;
        let frame = self.frame_duration().unwrap_or(1.0 / 30.0);
        if shown < frame * 0.5 {
            return Err("this is the first frame".to_owned());
        }
        // An accurate seek lands on the frame holding its target but
        // reports the target as that frame's time (the decoder clips it):
        // seek into the middle of the frame two back, then step one, so
        // the frame shown is the previous one with its own timestamp.
        let two_back = shown - frame * 1.5;
        let flags = gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE;
        self.seek_at(flags, clock_time_from_seconds(two_back.max(0.0)))
            .map_err(|_| "the stream cannot step back".to_owned())?;
        // Stepping back to the first frame: the seek to 0 is enough.
        self.step_after_seek = two_back > 0.0;
        self.at_eos = false;
        Ok(())
    }

    /// The sink skips the frame it holds and prerolls on the next (as
    /// gst-play's frame step does).
    pub(super) fn step_one(&self) -> Result<(), String> {
        let step = gst::event::Step::new(gst::format::Buffers::ONE, 1.0, true, false);
        if self.elements.pipeline.send_event(step) {
            Ok(())
        } else {
            Err("the pipeline refused the frame step".to_owned())
        }
    }

    /// The stream time of the frame on screen (the sink's last sample).
    pub fn frame_pts(&self) -> Option<f64> {
        let sample = self
            .elements
            .sink
            .property::<Option<gst::Sample>>("last-sample")?;
        let pts = sample.buffer()?.pts()?;
        let segment = sample.segment()?.downcast_ref::<gst::ClockTime>()?;
        segment.to_stream_time(pts).map(seconds_of)
    }

    /// One frame's duration, from the negotiated frame rate.
    fn frame_duration(&self) -> Option<f64> {
        let caps = self.elements.sink.static_pad("sink")?.current_caps()?;
        let rate = caps.structure(0)?.get::<gst::Fraction>("framerate").ok()?;
        (rate.numer() > 0 && rate.denom() > 0)
            .then(|| f64::from(rate.denom()) / f64::from(rate.numer()))
    }

    /// The volume (1.0: 100 %) and whether it is muted; 0 and not muted
    /// without an audio output.
    pub fn volume(&self) -> (f64, bool) {
        if !self.audio.plays() {
            return (0.0, false);
        }
        (self.volume, self.muted)
    }

    /// Mute or unmute (the user's mute: the audio also stays silent while
    /// its track is off).
    pub fn toggle_mute(&mut self) -> bool {
        self.muted = !self.muted;
        self.apply_mute();
        self.muted
    }

    /// Whether playbin3 is to be muted: the user's mute, or the audio
    /// track off.
    pub(super) fn silenced(&self) -> bool {
        self.muted || self.audio_off()
    }

    pub(super) fn apply_mute(&self) {
        self.elements.pipeline.set_property("mute", self.silenced());
    }

    pub fn change_volume(&mut self, delta: f64) -> f64 {
        self.volume = (self.volume + delta).clamp(0.0, 1.0);
        self.elements.pipeline.set_property("volume", self.volume);
        self.volume
    }

    pub fn position_reply(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut fields = serde_json::Map::new();
        fields.insert("state".into(), self.state_name().into());
        fields.insert("position-s".into(), self.position().into());
        fields.insert("duration-s".into(), self.duration().into());
        fields
    }
}
