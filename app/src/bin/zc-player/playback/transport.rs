//! Play, pause, seek and volume, and the position they answer with.

use gst::prelude::*;
use zc_app::player::controls::{MAX_SEEK_SECONDS, SeekTarget, clock_time_from_seconds};
use zc_app::player::ipc::Reply;

use super::Player;

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
        self.pipeline
            .set_state(self.wanted)
            .map(|_| ())
            .map_err(|_| format!("cannot switch to {:?}", self.wanted))?;
        // PLAYING <-> PAUSED after preroll completes at once; wait so the
        // answer tells the truth.
        let _ = self.pipeline.state(gst::ClockTime::from_seconds(5));
        Ok(())
    }

    pub fn toggle_pause(&mut self) -> Result<(), String> {
        self.set_playing(self.wanted != gst::State::Playing)
    }

    /// Seek; `reply` is answered at ASYNC_DONE with the new position.
    pub fn seek(
        &mut self,
        target: SeekTarget,
        accurate: bool,
        reply: Option<std::sync::mpsc::Sender<Reply>>,
    ) -> Result<(), String> {
        let current = self.position().unwrap_or(0.0);
        let wanted = match target {
            SeekTarget::Absolute(s) => s,
            SeekTarget::Relative(delta) => current + delta,
        };
        if wanted.is_nan() {
            return Err("seek: the position is not a number".to_owned());
        }
        let mut seconds = wanted.clamp(0.0, MAX_SEEK_SECONDS);
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
        self.pipeline
            .seek_simple(flags, position)
            .map_err(|_| format!("the stream cannot seek to {seconds:.3} s"))?;
        self.at_eos = false;
        if let Some(reply) = reply {
            self.pending_seeks.push((reply, seconds));
        }
        Ok(())
    }

    pub fn toggle_mute(&self) -> bool {
        let muted = !self.pipeline.property::<bool>("mute");
        self.pipeline.set_property("mute", muted);
        muted
    }

    pub fn change_volume(&self, delta: f64) -> f64 {
        let volume = (self.pipeline.property::<f64>("volume") + delta).clamp(0.0, 1.0);
        self.pipeline.set_property("volume", volume);
        volume
    }

    pub fn position_reply(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut fields = serde_json::Map::new();
        fields.insert("state".into(), self.state_name().into());
        fields.insert("position-s".into(), self.position().into());
        fields.insert("duration-s".into(), self.duration().into());
        fields
    }
}
