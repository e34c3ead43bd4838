//! The pipeline: `playbin3` with the video going through
//! `videoconvert ! zcexport ! [zcvulkanconvert] ! zcthumbnail ! <sink>`
//! (zcexport proposes zc's dma-buf pool to the decoder; the converters
//! pass on untouched what the sink takes and convert the rest, on the GPU
//! where one is there; zcthumbnail passes frames on untouched and reads
//! one only for a snapshot), the sink embedded in the player's window through
//! GstVideoOverlay, and audio to `autoaudiosink` where there is a device.
//!
//! This file holds the [`Player`] and what it reports about itself; its
//! jobs are in the modules below: [`options`] (the CLI's choices),
//! [`pipeline`] (building it), [`conversion`] (the fallbacks for formats
//! the compositor cannot show), [`embed`] (handing the sink our window),
//! [`bus`] (the pipeline's messages), [`transport`] (play, pause, seek,
//! speed, frame step, volume), [`queue`] (the playlist: which entry
//! plays, gapless hand-over, resume), [`teardown`] (leaving an entry
//! whose pipeline will not stop), [`tracks`] (audio and subtitle
//! streams), [`snapshot`], [`stats`], [`subtitles`] (cues for the
//! window, never blended into the video) and [`cover`] (the picture of an
//! entry with no video).

mod bus;
mod conversion;
mod cover;
mod embed;
mod kinds;
mod options;
mod pipeline;
mod queue;
mod snapshot;
mod stats;
mod subtitles;
mod teardown;
mod tracks;
mod transport;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use gst::prelude::*;
use zc_app::player::controls::seconds_of;
use zc_app::player::ipc::Reply;
use zc_app::player::playlist::Playlist;
use zc_app::player::startup::QuietWatch;
use zc_app::player::watch_later::WatchLater;

pub use bus::BusEvent;
pub use embed::{Layout, WindowHandles};
pub use options::{AudioOutput, BackendSetting, PathPreference, PlayerOptions};
pub use pipeline::audio_device_available;
pub use teardown::pipelines_left_behind;

use embed::display_size;
use snapshot::PendingSnapshot;

/// The gapless hand-over. The about-to-finish handler (a streaming
/// thread) takes `next` and sets `handed_over`; the main loop clears it
/// when the entry handed over starts: the first STREAM_START of a new
/// stream group after the current entry's own. Groups and a flag, not
/// playbin3's `current-uri` against the entry's URI, so that a file listed
/// twice in a row plays twice, and a STREAM_START the main loop handles
/// only after about-to-finish (a short file read whole while it prerolls)
/// is not taken for the next entry's.
#[derive(Debug, Default)]
pub(super) struct Gapless {
    /// The next entry's URI while it may be handed over.
    pub next: Option<String>,
    /// Set at the hand-over to the first message sequence number after
    /// it (the next entry's collection and selection, read ahead, come
    /// from then on); cleared when that entry's stream starts, or the
    /// playlist moves.
    pub handed_over: Option<gst::Seqnum>,
    /// Whether the current entry's own STREAM_START came, and its group.
    pub entry_started: bool,
    pub group: Option<gst::GroupId>,
}

impl Gapless {
    /// Whether a message numbered `seqnum` is the next entry's, read
    /// ahead: posted after the hand-over, handled before that entry's
    /// stream started. (A message the current entry posted before the
    /// hand-over may still be waiting on the bus.)
    pub fn read_ahead(&self, seqnum: gst::Seqnum) -> bool {
        self.handed_over.is_some_and(|at| seqnum >= at)
    }
}

pub struct Player {
    /// The current pipeline's elements (replaced where one is left behind).
    elements: pipeline::Elements,
    snapshot_dir: PathBuf,
    snapshots: VecDeque<PendingSnapshot>,
    next_snapshot: u64,
    pub audio: AudioOutput,
    /// The user's mute (m, --mute); the audio is also silent while its
    /// track is off (see `tracks`).
    muted: bool,
    /// The volume set (--volume, the keys): kept here, so that a new
    /// pipeline starts with it and a stuck one is never asked.
    volume: f64,
    pub looping: bool,
    pub keep_open: bool,
    start: Option<f64>,
    /// What plays, in which order, and where in it.
    playlist: Playlist,
    /// The gapless hand-over, shared with the about-to-finish handler (a
    /// streaming thread).
    gapless: Arc<Mutex<Gapless>>,
    /// The state files of --save-position-on-quit (None without a state folder).
    watch_later: Option<WatchLater>,
    /// The playback rate; every seek keeps it.
    pub speed: f64,
    tracks: tracks::Tracks,
    /// The state the user wants (Playing or Paused).
    pub wanted: gst::State,
    /// Whether the first frame reached the sink (preroll done): errors
    /// before it are bad input.
    pub prerolled: bool,
    pub at_eos: bool,
    /// A backward frame step waits for its seek to finish, then steps one
    /// frame forward.
    step_after_seek: bool,
    /// Seeks waiting for their ASYNC_DONE to answer with the new position,
    /// each with the position it asked for (the answer when the pipeline
    /// cannot say yet: a seek to the end may already be at EOS, looping).
    pending_seeks: Vec<(std::sync::mpsc::Sender<Reply>, f64)>,
    /// The error to end with when a stream needs a plugin that is not
    /// installed (its first missing-plugin message, with the package).
    missing_plugin: Option<String>,
    decoder: Option<String>,
    fps: f64,
    last_rendered: Option<(Instant, u64)>,
    warned: std::collections::HashSet<String>,
    /// The entry started again because playbin3 left its subtitles
    /// unselected, and how often (see `restart_if_subtitles_unselected`).
    subtitle_restarts: (String, u32),
    /// Whether the entry being started has gone quiet for too long.
    start_watch: QuietWatch,
    /// The position at the last tick while a gapless hand-over waits for
    /// the next entry (see `watch_hand_over`).
    hand_over_position: Option<f64>,
    /// Once the entry handed over started its stream: the sink's rendered
    /// count then; its first frame is one more.
    hand_over_frames: Option<u64>,
    /// The kinds of stream of the entry handed over, where what they link
    /// differs from the current one's (see `kinds`).
    kinds_change_to: Option<kinds::Kinds>,
    /// The first message sequence number of the entry switched to (None:
    /// the first entry): an error posted before it is the entry left
    /// behind's, still on its way through the bus.
    entry_seqnum: Option<gst::Seqnum>,
    /// How to build another pipeline where one is left behind.
    spec: pipeline::PipelineSpec,
    /// Whether the last seek has gone unanswered for too long, and where
    /// it went (see `watch_seek`).
    seek_watch: QuietWatch,
    seek_target: f64,
    /// The entry's cover art (see `cover`): a number for each decode
    /// started, which a picture shown keeps, and the thread decoding (or
    /// that decoded) the last one started.
    cover: cover::Cover,
    cover_generation: u64,
    cover_thread: Option<std::thread::JoinHandle<()>>,
}

fn make(factory: &str, name: &str) -> Result<gst::Element> {
    gst::ElementFactory::make(factory)
        .name(name)
        .build()
        .with_context(|| format!("the GStreamer element `{factory}` is missing"))
}

fn has_property(element: &gst::Element, name: &str) -> bool {
    element.find_property(name).is_some()
}

impl Player {
    /// Preroll first; `on_async_done` then seeks to `--start` and plays.
    pub fn start(&mut self) -> Result<()> {
        self.arm_entry();
        self.elements
            .pipeline
            .set_state(gst::State::Paused)
            .map(|_| ())
            .map_err(|_| anyhow!("the pipeline refused to start"))
    }

    pub fn sink_name(&self) -> String {
        self.elements
            .sink
            .factory()
            .map(|f| f.name().to_string())
            .unwrap_or_default()
    }

    pub fn overlay(&self) -> Option<&gst_video::VideoOverlay> {
        self.elements
            .sink
            .dynamic_cast_ref::<gst_video::VideoOverlay>()
    }

    /// The video's display size from the sink's caps (pixel aspect
    /// applied), turned as the sink shows it: a stream tagged to be turned
    /// a quarter (a phone's portrait video) is as tall as it is wide.
    pub fn video_size(&self) -> Option<(i32, i32)> {
        let pad = self.elements.sink.static_pad("sink")?;
        let caps = pad.current_caps()?;
        let (width, height) = display_size(&caps)?;
        // Only a sink that turns it (it has rotate-method, set to auto).
        let turned = has_property(&self.elements.sink, "rotate-method")
            && embed::turned_a_quarter(&self.elements.sink, &pad);
        Some(if turned {
            (height, width)
        } else {
            (width, height)
        })
    }

    /// Whether the entry plays without a video: it prerolled on its audio
    /// alone (see `on_async_done`), or its streams have none.
    pub(super) fn audio_only(&self) -> bool {
        self.prerolled && (self.tracks.has_video() == Some(false) || self.video_size().is_none())
    }

    /// The video frame's size in its pixels (before the pixel aspect
    /// ratio): what DVD subtitle pictures are placed in.
    pub fn frame_size(&self) -> Option<(u32, u32)> {
        let caps = self.elements.sink.static_pad("sink")?.current_caps()?;
        let (width, height) = embed::frame_size(&caps)?;
        Some((u32::try_from(width).ok()?, u32::try_from(height).ok()?))
    }

    pub fn position(&self) -> Option<f64> {
        self.elements
            .pipeline
            .query_position::<gst::ClockTime>()
            .map(seconds_of)
    }

    /// Where the video is, in seconds of stream time: what subtitles are
    /// timed against. The pipeline's position is the furthest of its
    /// sinks', and while a seek prerolls, the subtitle sink's is the cue it
    /// holds: a cue then looked due at its own start, flashed on screen,
    /// and went again when playing began (seen in the VM at every --loop).
    /// Once the video has ended (its sink at EOS, its position standing on
    /// the last frame) while audio plays on, or where there is no video,
    /// the pipeline's.
    pub fn video_position(&self) -> Option<f64> {
        let video_ended = self
            .elements
            .sink
            .static_pad("sink")
            .is_some_and(|pad| pad.pad_flags().contains(gst::PadFlags::EOS));
        if video_ended || self.audio_only() {
            return self.position();
        }
        self.elements
            .sink
            .query_position::<gst::ClockTime>()
            .map(seconds_of)
    }

    pub fn duration(&self) -> Option<f64> {
        self.elements
            .pipeline
            .query_duration::<gst::ClockTime>()
            .map(seconds_of)
    }

    pub fn state_name(&self) -> &'static str {
        if self.at_eos {
            return "eos";
        }
        // Mid-change (after a flushing seek): the state it is going to.
        let (_, current, pending) = self.elements.pipeline.state(gst::ClockTime::ZERO);
        let state = if pending == gst::State::VoidPending {
            current
        } else {
            pending
        };
        match state {
            gst::State::Playing => "playing",
            gst::State::Paused => "paused",
            _ => "stopped",
        }
    }

    /// Stop the pipeline and give every frame back.
    pub fn shutdown(&mut self) {
        let _ = self.elements.pipeline.set_state(gst::State::Null);
        self.end_cover_decode();
        self.fail_snapshots("the player quit before the snapshot");
        for (reply, _) in self.pending_seeks.drain(..) {
            let _ = reply.send(Err("the player quit during the seek".to_owned()));
        }
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.shutdown();
        if let Some(bus) = self.elements.pipeline.bus() {
            bus.unset_sync_handler();
        }
        let _ = std::fs::remove_dir_all(&self.snapshot_dir);
    }
}

/// Why the player stops.
#[derive(Debug)]
pub enum PlayerExit {
    /// End of stream without --loop/--keep-open, or quit.
    Done,
    /// The input cannot be played (exit code 2).
    BadInput(String),
    /// Something broke while playing (exit code 1).
    Failed(String),
    /// The start is stuck (exit code 1): the pipeline is left as it is,
    /// never stopped ([`crate::lifecycle::abandon`]).
    Stuck(String),
}
