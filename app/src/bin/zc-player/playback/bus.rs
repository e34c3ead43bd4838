//! The pipeline's messages on the main loop: errors and warnings, the
//! missing-plugin and snapshot messages, preroll (ASYNC_DONE) and the end
//! of the stream.

use std::path::Path;
use std::time::Instant;

use gst::prelude::*;
use zc_app::player::controls::SeekTarget;
use zc_app::player::missing_plugin;
use zc_app::player::tracks::TrackKind;

use super::tracks::describe;
use super::{AudioOutput, Player, PlayerExit};

/// What the pipeline's threads (its bus, the subtitle sink) and the cover
/// decoder send to the main loop.
pub enum BusEvent {
    Message(gst::Message),
    /// A subtitle to show, on the stream's clock.
    Subtitle(zc_app::player::subtitles::Cue),
    /// A cover decoded on its own thread (see `Player::on_cover_decoded`).
    Cover(super::cover::Decoded),
}

impl Player {
    /// A message from the bus (on the main loop). `Err` ends the player.
    pub fn handle_message(&mut self, message: &gst::Message) -> Result<(), PlayerExit> {
        use gst::MessageView;
        self.start_watch.progress(Instant::now());
        self.seek_watch.progress(Instant::now());
        match message.view() {
            MessageView::Error(e)
                if self
                    .entry_seqnum
                    .is_some_and(|first| message.seqnum() < first) =>
            {
                // Seen in CI: an audio-only entry skipped at its preroll,
                // then its demuxer's not-linked error taken for the next
                // entry's, which was skipped too.
                gst::info!(
                    crate::CAT,
                    "an error of the entry left behind, ignored: {}",
                    e.error()
                );
            }
            MessageView::Error(e) => {
                let source = message
                    .src()
                    .map(|s| s.name().to_string())
                    .unwrap_or_default();
                let text = match &self.missing_plugin {
                    Some(missing) => missing.clone(),
                    None => {
                        // The debug text's last line says why ("streaming
                        // stopped, reason error"); the first is a source path.
                        let debug = e.debug().unwrap_or_default();
                        let why = debug
                            .lines()
                            .map(str::trim)
                            .rfind(|l| !l.is_empty() && !l.starts_with("../"))
                            .unwrap_or("");
                        let error = e.error().to_string();
                        let error = error.trim_end_matches('.');
                        if why.is_empty() {
                            format!("{error} ({source})")
                        } else {
                            format!("{error} ({source}: {why})")
                        }
                    }
                };
                if self.prerolled && zc_app::lock(&self.gapless).read_ahead(message.seqnum()) {
                    // Posted after the hand-over, before the next entry's
                    // stream started: its start in this pipeline failed
                    // (1.26's playbin3: "not-linked" when it brings a kind
                    // of stream the current entry has no chain for).
                    return self.start_next_on_its_own(&text);
                }
                if self.prerolled {
                    return Err(PlayerExit::Failed(text));
                }
                return self.cannot_play(&text);
            }
            MessageView::Warning(w) => {
                // Each distinct warning once (QoS repeats itself on slow machines).
                let text = w.error().to_string();
                if self.warned.insert(text.clone()) {
                    eprintln!("zc-player: warning: {text}");
                }
            }
            MessageView::Element(e) => {
                let Some(s) = e.structure() else {
                    return Ok(());
                };
                match s.name().as_str() {
                    "missing-plugin" => {
                        // type: decoder, urisource, ...; detail: the caps
                        // (decoders) or a string; name: GStreamer's words.
                        let detail = s
                            .get::<gst::Caps>("detail")
                            .map(|caps| caps.to_string())
                            .or_else(|_| s.get::<String>("detail"))
                            .unwrap_or_default();
                        let kind = s.get::<&str>("type").unwrap_or_default();
                        let description = s
                            .get::<String>("name")
                            .unwrap_or_else(|_| format!("a {kind} for {detail}"));
                        self.missing_plugin.get_or_insert_with(|| {
                            missing_plugin::explain(
                                &description,
                                missing_plugin::package_for(kind, &detail),
                            )
                        });
                    }
                    "zc-thumbnail" => {
                        if let Ok(location) = s.get::<String>("location") {
                            self.snapshot_written(Path::new(&location));
                        }
                    }
                    _ => {}
                }
            }
            MessageView::AsyncDone(_) => self.on_async_done()?,
            // Not one of an entry moved away from, still on its way.
            MessageView::Tag(t)
                if self
                    .entry_seqnum
                    .is_none_or(|first| message.seqnum() >= first) =>
            {
                self.on_tags(t.tags().as_ref())
            }
            MessageView::StreamStart(s) => self.on_stream_start(s.group_id()),
            MessageView::StreamCollection(c) => {
                let collection = c.stream_collection();
                gst::info!(
                    crate::CAT,
                    "stream collection: {}",
                    describe(collection.iter())
                );
                self.on_stream_collection(collection, message.seqnum());
                let _ = self.restart_if_subtitles_unselected();
            }
            MessageView::StreamsSelected(s) => {
                gst::info!(crate::CAT, "streams selected: {}", describe(s.streams()));
                self.on_streams_selected(s.streams().collect(), message.seqnum());
                let _ = self.restart_if_subtitles_unselected();
            }
            MessageView::Eos(_) => {
                if self.looping {
                    let _ = self.seek_at(
                        gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
                        gst::ClockTime::ZERO,
                    );
                } else if self.advance_at_end() {
                    // The next entry prerolls; on_async_done plays it.
                } else if self.keep_open {
                    self.at_eos = true;
                } else {
                    return Err(PlayerExit::Done);
                }
                self.answer_seeks();
            }
            _ => {}
        }
        Ok(())
    }

    fn on_async_done(&mut self) -> Result<(), PlayerExit> {
        self.seek_watch.started();
        if !self.prerolled {
            // One from before the entry was started again (see
            // `restart_if_subtitles_unselected`): its own preroll is still under way.
            let (_, current, pending) = self.elements.pipeline.state(gst::ClockTime::ZERO);
            if pending != gst::State::VoidPending || current < gst::State::Paused {
                return Ok(());
            }
            if self
                .elements
                .sink
                .static_pad("sink")
                .is_some_and(|p| !p.is_linked())
                || self.video_size().is_none()
            {
                // GStreamer 1.22's playbin3, started again after it left
                // `--sub FILE`'s track unselected (see
                // `restart_if_subtitles_unselected`), now and then prerolls
                // on the subtitle file's stream alone: its collection and
                // selection had only that (natively, 6 starts in 60 under
                // two busy loops). The input's streams come next, and their
                // preroll ends with an ASYNC_DONE of its own: wait for it
                // (the start watchdog ends a wait that never ends).
                if self.input_streams_to_come() {
                    gst::info!(
                        crate::CAT,
                        "prerolled on the subtitle file alone: waiting for the input's streams"
                    );
                    return Ok(());
                }
                if self.tracks.has_video() != Some(false) {
                    // Its video's decoder is missing (the audio alone
                    // prerolled), or its video reached no sink.
                    let why = self.missing_plugin.clone().unwrap_or_else(|| {
                        "its video stream reached no video sink (not selected, or not linked)"
                            .to_owned()
                    });
                    return self.cannot_play(&why);
                }
                if self.tracks.count(TrackKind::Audio) == 0 {
                    return self.cannot_play("it has no video or audio stream that can be played");
                }
                if !self.audio.plays() {
                    return self.cannot_play(&format!(
                        "it has audio but no video stream, and no audio output ({})",
                        self.audio.why_silent()
                    ));
                }
                // Audio only, as mpv plays it: the window shows its cover
                // art, if it has one, and the OSD.
                eprintln!(
                    "zc-player: {} has no video stream: playing its audio",
                    self.playlist.current()
                );
                self.fail_snapshots(super::snapshot::NO_VIDEO);
            }
            self.prerolled = true;
            self.decode_cover_if_shown();
            self.start_watch.started();
            self.send_pending_selection();
            if self.restart_if_subtitles_unselected() {
                return Ok(());
            }
            if self.sink_name() != "zcwaylandsink" && self.warned.insert("no-overlay".to_owned()) {
                eprintln!(
                    "zc-player: this zcwaylandsink cannot be embedded in a window (no GstVideoOverlay); \
                     showing the video with GStreamer's {} instead",
                    self.sink_name()
                );
            }
            if self.audio == AudioOutput::NoDevice && self.warned.insert("no-audio".to_owned()) {
                eprintln!("zc-player: no audio device: playing the video only");
            }
            let mut start = self.start.take().unwrap_or(0.0);
            if let Some(duration) = self.duration() {
                // Seeks asked for before the first frame, past the end:
                // the end, as any seek.
                start = start.min(duration);
                for (_, target) in &mut self.pending_seeks {
                    *target = target.min(duration);
                }
            }
            // A start position (--start, a resumed entry, a seek asked for
            // before the first frame), or another speed: a seek (at the
            // speed) does both.
            let seeking = (start > 0.0 || self.speed != 1.0)
                && match self.seek(SeekTarget::Absolute(start), start > 0.0, None) {
                    Ok(()) => true,
                    Err(e) => {
                        for (reply, _) in self.pending_seeks.drain(..) {
                            let _ = reply.send(Err(e.clone()));
                        }
                        false
                    }
                };
            self.elements
                .pipeline
                .set_state(self.wanted)
                .map_err(|_| PlayerExit::Failed("cannot start playing".to_owned()))?;
            if seeking {
                // Seeks asked for before the first frame are answered when
                // that seek is done (its ASYNC_DONE).
                return Ok(());
            }
        }
        if std::mem::take(&mut self.step_after_seek)
            && let Err(e) = self.step_one()
        {
            eprintln!("zc-player: {e}");
        }
        self.answer_seeks();
        Ok(())
    }

    /// Why the entry being started counts as stuck, once it does (see
    /// [`zc_app::player::startup`]); the player then skips it or gives up
    /// ([`Player::skip_stuck_entry`]).
    pub fn stuck_at_start(&self) -> Option<String> {
        let quiet = self.start_watch.stuck(Instant::now())?;
        let (major, minor, ..) = gst::version();
        let known = if (major, minor) == (1, 22) {
            "; GStreamer 1.22's decodebin3 is known to deadlock at the start of \
             some files with several tracks, and starting again may play it"
        } else {
            ""
        };
        Some(format!(
            "{}: no frame to show, and nothing from GStreamer for {:.1} s \
             (the source stalled or the pipeline is stuck{known}); \
             --start-timeout sets how long to wait",
            self.starting_entry(),
            quiet.as_secs_f64()
        ))
    }

    /// The current entry cannot play (before its first frame): a playlist
    /// skips it, as mpv does; else the player ends with status 2.
    fn cannot_play(&mut self, why: &str) -> Result<(), PlayerExit> {
        let entry = self.playlist.current().to_owned();
        if self.playlist.peek_next().is_some() {
            eprintln!("zc-player: cannot play {entry}: {why}; skipping it");
            if self.next_entry().is_ok() {
                return Ok(());
            }
        }
        Err(PlayerExit::BadInput(format!("{entry}: {why}")))
    }

    fn answer_seeks(&mut self) {
        let fields = self.position_reply();
        for (reply, target) in self.pending_seeks.drain(..) {
            let mut fields = fields.clone();
            if fields
                .get("position-s")
                .is_none_or(serde_json::Value::is_null)
            {
                // No position yet (a seek to the end may be at EOS and
                // looping already): where the seek went.
                fields.insert("position-s".into(), target.into());
            }
            let _ = reply.send(Ok(fields));
        }
    }
}
