//! The pipeline: `playbin3` with the video going through
//! `zcexport ! zcthumbnail ! <sink>` (zcexport proposes zc's dma-buf pool
//! to the decoder; zcthumbnail passes frames on untouched and reads one only
//! for a snapshot), the sink embedded in the player's window through
//! GstVideoOverlay, and audio to `autoaudiosink` where there is a device.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use gst::prelude::*;
use gst_video::prelude::*;
use zc_app::files::move_into_place;
use zc_app::player::controls::{MAX_SEEK_SECONDS, SeekTarget, clock_time_from_seconds};
use zc_app::player::fds::open_fds;
use zc_app::player::ipc::Reply;
use zc_app::player::stats::Stats;

/// The context types a Wayland sink asks for the application's
/// `wl_display*` with: GStreamer's documented name, and the one 1.22's
/// wayland library actually uses.
pub const DISPLAY_CONTEXT_TYPES: [&str; 2] = [
    "GstWaylandDisplayHandleContextType",
    "GstWlDisplayHandleContextType",
];

/// `--path`: how the sink should hand frames to the compositor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PathPreference {
    Auto,
    Dmabuf,
    Shm,
    Copy,
}

impl PathPreference {
    pub fn nick(self) -> &'static str {
        match self {
            PathPreference::Auto => "auto",
            PathPreference::Dmabuf => "dmabuf",
            PathPreference::Shm => "shm",
            PathPreference::Copy => "copy",
        }
    }
}

/// `--backend`: where zcexport's pool allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    Auto,
    Heap,
    Udmabuf,
    Gbm,
    Memfd,
}

impl BackendChoice {
    pub fn nick(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Heap => "heap",
            BackendChoice::Udmabuf => "udmabuf",
            BackendChoice::Gbm => "gbm",
            BackendChoice::Memfd => "memfd",
        }
    }
}

/// Where the video goes in the window, shared with the bus's sync handler
/// (which runs on a streaming thread when the sink asks for its window).
#[derive(Clone, Copy, Debug, Default)]
pub struct Layout {
    /// The window's video area: (x, y, width, height) in surface pixels.
    pub area: (i32, i32, i32, i32),
    /// The video's display size (pixel aspect ratio applied), once known.
    pub video: Option<(i32, i32)>,
}

impl Layout {
    /// The render rectangle: the video fitted into the area, aspect kept.
    pub fn render_rectangle(&self) -> (i32, i32, i32, i32) {
        let (ax, ay, aw, ah) = self.area;
        match self.video {
            Some(video) => {
                let (x, y, w, h) = zc_wayland::fit((aw, ah), video);
                (ax.saturating_add(x), ay.saturating_add(y), w, h)
            }
            None => self.area,
        }
    }
}

/// The raw Wayland handles the sink is given: they stay valid while the
/// player's connection and window live, which outlive the pipeline.
#[derive(Clone, Copy, Debug)]
pub struct WindowHandles {
    pub display: usize,
    pub surface: usize,
}

/// What the bus sends to the main loop.
pub enum BusEvent {
    Message(gst::Message),
}

/// A snapshot asked for and not yet written.
struct PendingSnapshot {
    path: PathBuf,
    reply: Option<std::sync::mpsc::Sender<Reply>>,
    asked: Instant,
    /// When the paused frame was last sent again for it.
    refreshed: Instant,
}

/// How long a snapshot may wait for its frame.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a snapshot waits, paused, before the paused frame is asked
/// for again (the encoder may have been busy; a seek may bring nothing).
const SNAPSHOT_REFRESH: Duration = Duration::from_secs(5);

pub struct PlayerOptions {
    pub uri: String,
    pub path: PathPreference,
    pub backend: BackendChoice,
    pub looping: bool,
    pub keep_open: bool,
    pub start: Option<f64>,
    /// From [`audio_device_available`], probed before playback's fds are counted.
    pub audio: bool,
    /// A folder of the player's own (inside its private 0700 folder) where
    /// zcthumbnail writes snapshots before they are moved into place.
    pub snapshot_dir: PathBuf,
}

pub struct Player {
    pub pipeline: gst::Element,
    pub sink: gst::Element,
    export: gst::Element,
    snapshot: gst::Element,
    snapshot_dir: PathBuf,
    snapshots: VecDeque<PendingSnapshot>,
    next_snapshot: u64,
    pub audio: bool,
    pub looping: bool,
    pub keep_open: bool,
    start: Option<f64>,
    /// The state the user wants (Playing or Paused).
    pub wanted: gst::State,
    /// Whether the first frame reached the sink (preroll done): errors
    /// before it are bad input.
    pub prerolled: bool,
    pub at_eos: bool,
    /// Seeks waiting for their ASYNC_DONE to answer with the new position.
    pending_seeks: Vec<std::sync::mpsc::Sender<Reply>>,
    missing_plugin: Option<String>,
    decoder: Option<String>,
    fps: f64,
    last_rendered: Option<(Instant, u64)>,
    warned: std::collections::HashSet<String>,
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

/// Whether an audio device is there: a sound server's socket or an ALSA
/// playback device, and then `autoaudiosink` picking a real sink (it falls
/// back to a fake one when none works). Checking the devices first keeps
/// the audio libraries from printing their errors on machines without any.
pub fn audio_device_available() -> bool {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    let sound_server = runtime
        .is_some_and(|dir| dir.join("pulse/native").exists() || dir.join("pipewire-0").exists());
    let alsa = std::fs::read_dir("/dev/snd").is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with("pcm"))
    });
    if !sound_server && !alsa {
        return false;
    }
    let Ok(sink) = gst::ElementFactory::make("autoaudiosink").build() else {
        return false;
    };
    let ok = sink.set_state(gst::State::Ready).is_ok()
        && sink
            .downcast_ref::<gst::Bin>()
            .map(|bin| {
                bin.iterate_elements().into_iter().flatten().any(|child| {
                    child
                        .factory()
                        .is_some_and(|f| !f.name().starts_with("fake"))
                })
            })
            .unwrap_or(false);
    let _ = sink.set_state(gst::State::Null);
    ok
}

/// The video sink for embedding: zcwaylandsink once it implements
/// GstVideoOverlay, else GStreamer's waylandsink (same embedding contract).
fn video_sink() -> Result<gst::Element> {
    let overlay = |factory: &str| {
        gst::ElementFactory::find(factory).is_some_and(|f| f.has_interface("GstVideoOverlay"))
    };
    if overlay("zcwaylandsink") {
        return make("zcwaylandsink", "sink");
    }
    if overlay("waylandsink") {
        return make("waylandsink", "sink");
    }
    bail!(
        "no Wayland video sink that can be embedded: zcwaylandsink lacks GstVideoOverlay and \
         waylandsink is not installed (package gstreamer1.0-plugins-bad)"
    )
}

impl Player {
    pub fn new(
        options: &PlayerOptions,
        handles: WindowHandles,
        layout: Arc<Mutex<Layout>>,
        events: impl Fn(BusEvent) + Send + Sync + 'static,
    ) -> Result<Player> {
        let playbin = make("playbin3", "player")?;
        playbin.set_property("uri", &options.uri);

        let export = make("zcexport", "export")?;
        export.set_property_from_str("backend", options.backend.nick());
        let snapshot_dir = options.snapshot_dir.clone();
        std::fs::create_dir(&snapshot_dir)
            .with_context(|| format!("creating {}", snapshot_dir.display()))?;
        let snapshot = make("zcthumbnail", "snapshot")?;
        snapshot.set_property(
            "location",
            snapshot_dir
                .join("snapshot-%05d")
                .to_string_lossy()
                .as_ref(),
        );
        // Only the snapshot signal picks frames, at the video's own size.
        snapshot.set_property("interval", 0u64);
        snapshot.set_property("width", 0u32);
        snapshot.set_property("height", 0u32);
        snapshot.set_property_from_str("format", "png");
        snapshot.set_property_from_str("on-error", "skip");
        // So a snapshot while paused takes the frame on screen at once.
        snapshot.set_property("keep-last-frame", true);
        let sink = video_sink()?;
        if options.path != PathPreference::Auto {
            if !has_property(&sink, "path-preference") {
                bail!(
                    "--path {} needs zcwaylandsink's `path-preference` property, which the sink in use \
                     ({}) does not have; use --path auto",
                    options.path.nick(),
                    sink.factory()
                        .map(|f| f.name().to_string())
                        .unwrap_or_default()
                );
            }
            sink.set_property_from_str("path-preference", options.path.nick());
        }
        let bin = gst::Bin::with_name("video-out");
        bin.add_many([&export, &snapshot, &sink])?;
        gst::Element::link_many([&export, &snapshot, &sink])?;
        let export_sink = export
            .static_pad("sink")
            .context("zcexport has no sink pad")?;
        bin.add_pad(&gst::GhostPad::with_target(&export_sink)?)?;
        playbin.set_property("video-sink", &bin);

        let audio = options.audio;
        if audio {
            playbin.set_property("audio-sink", make("autoaudiosink", "audio")?);
        }
        // native-video: no converters in front of our sink (they would copy);
        // no subtitle overlay or deinterlacer for the same reason.
        playbin.set_property_from_str(
            "flags",
            if audio {
                "video+audio+soft-volume+native-video"
            } else {
                "video+native-video"
            },
        );

        let bus = playbin.bus().context("playbin3 has no bus")?;
        bus.set_sync_handler(move |_bus, message| sync_handler(message, handles, &layout, &events));

        Ok(Player {
            pipeline: playbin,
            sink,
            export,
            snapshot,
            snapshot_dir,
            snapshots: VecDeque::new(),
            next_snapshot: 0,
            audio,
            looping: options.looping,
            keep_open: options.keep_open,
            start: options.start,
            wanted: gst::State::Playing,
            prerolled: false,
            at_eos: false,
            pending_seeks: Vec::new(),
            missing_plugin: None,
            decoder: None,
            fps: 0.0,
            last_rendered: None,
            warned: Default::default(),
        })
    }

    /// Preroll first; `on_async_done` then seeks to `--start` and plays.
    pub fn start(&self) -> Result<()> {
        self.pipeline
            .set_state(gst::State::Paused)
            .map(|_| ())
            .map_err(|_| anyhow!("the pipeline refused to start"))
    }

    pub fn sink_name(&self) -> String {
        self.sink
            .factory()
            .map(|f| f.name().to_string())
            .unwrap_or_default()
    }

    pub fn overlay(&self) -> Option<&gst_video::VideoOverlay> {
        self.sink.dynamic_cast_ref::<gst_video::VideoOverlay>()
    }

    /// The video's display size from the sink's caps (pixel aspect applied).
    pub fn video_size(&self) -> Option<(i32, i32)> {
        let caps = self.sink.static_pad("sink")?.current_caps()?;
        display_size(&caps)
    }

    pub fn position(&self) -> Option<f64> {
        self.pipeline
            .query_position::<gst::ClockTime>()
            .map(|t| t.nseconds() as f64 / 1e9)
    }

    pub fn duration(&self) -> Option<f64> {
        self.pipeline
            .query_duration::<gst::ClockTime>()
            .map(|t| t.nseconds() as f64 / 1e9)
    }

    pub fn state_name(&self) -> &'static str {
        if self.at_eos {
            return "eos";
        }
        // Mid-change (after a flushing seek): the state it is going to.
        let (_, current, pending) = self.pipeline.state(gst::ClockTime::ZERO);
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
            self.pending_seeks.push(reply);
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

    /// Ask zcthumbnail for the next frame at full size; the file lands in
    /// `path` (or `zc-snapshot-N.png` here) once written.
    pub fn snapshot(
        &mut self,
        path: Option<PathBuf>,
        reply: Option<std::sync::mpsc::Sender<Reply>>,
    ) -> Result<(), String> {
        let path = match path {
            Some(p) => p,
            None => {
                self.next_snapshot += 1;
                PathBuf::from(format!(
                    "zc-snapshot-{}-{}.png",
                    std::process::id(),
                    self.next_snapshot
                ))
            }
        };
        let jpeg = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"));
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.is_dir()
        {
            return Err(format!(
                "cannot write a snapshot to {}: the folder {} does not exist",
                path.display(),
                parent.display()
            ));
        }
        self.snapshot
            .set_property_from_str("format", if jpeg { "jpeg" } else { "png" });
        let now = Instant::now();
        self.snapshots.push_back(PendingSnapshot {
            path,
            reply,
            asked: now,
            refreshed: now,
        });
        if self.prerolled && self.wanted != gst::State::Playing {
            self.take_paused_frame();
        } else {
            // Playing: the next frame comes at once.
            self.snapshot.emit_by_name::<()>("snapshot", &[]);
        }
        Ok(())
    }

    /// Paused, no new frame would come: zcthumbnail takes the frame that
    /// passed it last (the one on screen). If it has none (or is busy),
    /// seek to where we are, which sends a frame again. That is only a
    /// fallback: the sink may preroll on a GAP event and hold the
    /// streaming thread before the frame reaches zcthumbnail.
    fn take_paused_frame(&self) {
        if self.snapshot.emit_by_name::<bool>("snapshot-last", &[]) {
            return;
        }
        let seeked = self
            .pipeline
            .query_position::<gst::ClockTime>()
            .is_some_and(|position| {
                self.pipeline
                    .seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE, position)
                    .is_ok()
            });
        if !seeked {
            eprintln!(
                "zc-player: snapshot: cannot seek to the paused frame; the next frame will be taken"
            );
        }
    }

    /// A `zc-thumbnail` message: move the file where it was asked for.
    fn snapshot_written(&mut self, location: &Path) {
        let Some(pending) = self.snapshots.pop_front() else {
            let _ = std::fs::remove_file(location);
            return;
        };
        // Never through a link planted at the path: it is replaced.
        let result = move_into_place(location, &pending.path)
            .map_err(|e| format!("cannot write {}: {e}", pending.path.display()));
        let _ = std::fs::remove_file(location);
        match &result {
            Ok(()) => eprintln!("zc-player: snapshot written to {}", pending.path.display()),
            Err(e) => eprintln!("zc-player: {e}"),
        }
        if let Some(reply) = pending.reply {
            let _ = reply.send(result.map(|()| {
                let mut fields = serde_json::Map::new();
                fields.insert(
                    "path".into(),
                    pending.path.to_string_lossy().into_owned().into(),
                );
                fields
            }));
        }
    }

    /// Fail snapshots that waited too long (e.g. asked for after EOS), and
    /// send the paused frame again for one that waits.
    pub fn expire_snapshots(&mut self) {
        let paused = self.prerolled && self.wanted != gst::State::Playing;
        let waiting = self.snapshots.front().filter(|pending| {
            pending.refreshed.elapsed() > SNAPSHOT_REFRESH
                && pending.asked.elapsed() < SNAPSHOT_TIMEOUT
        });
        if let Some(pending) = waiting
            && paused
        {
            eprintln!(
                "zc-player: snapshot {}: no frame after {} s ({}); asking for the paused frame again",
                pending.path.display(),
                pending.asked.elapsed().as_secs(),
                self.describe_state()
            );
            self.take_paused_frame();
            if let Some(pending) = self.snapshots.front_mut() {
                pending.refreshed = Instant::now();
            }
        }
        while self
            .snapshots
            .front()
            .is_some_and(|p| p.asked.elapsed() > SNAPSHOT_TIMEOUT)
        {
            if let Some(pending) = self.snapshots.pop_front() {
                let message = format!(
                    "no frame reached the snapshot element within {} s (at the end of the stream?; {})",
                    SNAPSHOT_TIMEOUT.as_secs(),
                    self.describe_state()
                );
                eprintln!("zc-player: snapshot {}: {message}", pending.path.display());
                if let Some(reply) = pending.reply {
                    let _ = reply.send(Err(message));
                }
            }
        }
    }

    /// The pipeline's state and pending state, and the state change's
    /// last result, for messages about a stuck request.
    fn describe_state(&self) -> String {
        let (result, current, pending) = self.pipeline.state(gst::ClockTime::ZERO);
        format!("pipeline {current:?}, pending {pending:?}, last change {result:?}")
    }

    /// Measure the frame rate since the last call.
    pub fn sample_fps(&mut self) {
        let rendered = self.sink_counters().0;
        let now = Instant::now();
        if let Some((then, before)) = self.last_rendered {
            let seconds = now.duration_since(then).as_secs_f64();
            if seconds > 0.0 {
                self.fps = rendered.saturating_sub(before) as f64 / seconds;
            }
        }
        self.last_rendered = Some((now, rendered));
    }

    /// GstBaseSink's rendered and dropped counters.
    fn sink_counters(&self) -> (u64, u64) {
        let stats = self.sink.property::<gst::Structure>("stats");
        (
            stats.get::<u64>("rendered").unwrap_or(0),
            stats.get::<u64>("dropped").unwrap_or(0),
        )
    }

    fn decoder_name(&mut self) -> Option<String> {
        if self.decoder.is_none() {
            let bin = self.pipeline.downcast_ref::<gst::Bin>()?;
            self.decoder = bin
                .iterate_recurse()
                .into_iter()
                .flatten()
                .filter_map(|e| e.factory())
                .find(|f| {
                    let klass = f.metadata(gst::ELEMENT_METADATA_KLASS).unwrap_or_default();
                    klass.contains("Decoder") && klass.contains("Video")
                })
                .map(|f| f.name().to_string());
        }
        self.decoder.clone()
    }

    pub fn stats(&mut self) -> Stats {
        let u64_of = |element: &gst::Element, name: &str| {
            if has_property(element, name) {
                element.property::<u64>(name)
            } else {
                0
            }
        };
        let (rendered, dropped) = self.sink_counters();
        let path = if has_property(&self.sink, "path") {
            self.sink
                .property::<Option<String>>("path")
                .unwrap_or_default()
        } else {
            "unknown".to_owned()
        };
        let video = self
            .sink
            .static_pad("sink")
            .and_then(|p| p.current_caps())
            .and_then(|caps| describe_caps(&caps));
        let fds = open_fds();
        let mut stats = Stats {
            state: self.state_name().to_owned(),
            position_s: self.position(),
            duration_s: self.duration(),
            fps: self.fps,
            frames_rendered: rendered,
            frames_dropped: dropped,
            path,
            sink: self.sink_name(),
            decoder: self.decoder_name(),
            video,
            export_frames_in: u64_of(&self.export, "frames-in"),
            export_frames_zero_copy: u64_of(&self.export, "frames-zero-copy"),
            export_frames_copied: u64_of(&self.export, "frames-copied"),
            export_bytes_copied: u64_of(&self.export, "bytes-copied"),
            sink_frames_copied: u64_of(&self.sink, "frames-copied"),
            sink_bytes_copied: u64_of(&self.sink, "bytes-copied"),
            copies_per_frame: 0.0,
            bytes_copied_per_frame: 0.0,
            fds: fds.len(),
            dmabuf_fds: fds.iter().filter(|f| f.is_dmabuf()).count(),
            memfd_fds: fds.iter().filter(|f| f.is_memfd()).count(),
            audio: self.audio,
            muted: self.audio && self.pipeline.property::<bool>("mute"),
            volume: if self.audio {
                self.pipeline.property::<f64>("volume")
            } else {
                0.0
            },
        };
        stats.compute_ratios();
        stats
    }

    pub fn position_reply(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut fields = serde_json::Map::new();
        fields.insert("state".into(), self.state_name().into());
        fields.insert("position-s".into(), self.position().into());
        fields.insert("duration-s".into(), self.duration().into());
        fields
    }

    /// A message from the bus (on the main loop). `Err` ends the player.
    pub fn handle_message(&mut self, message: &gst::Message) -> Result<(), PlayerExit> {
        use gst::MessageView;
        match message.view() {
            MessageView::Error(e) => {
                let source = message
                    .src()
                    .map(|s| s.name().to_string())
                    .unwrap_or_default();
                let text = match &self.missing_plugin {
                    Some(missing) => format!(
                        "this stream needs {missing}, which is not installed \
                         (gstreamer1.0-libav or gstreamer1.0-plugins-* provide decoders)"
                    ),
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
                return Err(if self.prerolled {
                    PlayerExit::Failed(text)
                } else {
                    PlayerExit::BadInput(text)
                });
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
                        let name = s
                            .get::<String>("name")
                            .or_else(|_| s.get::<String>("detail"))
                            .unwrap_or_else(|_| "a plugin".to_owned());
                        self.missing_plugin.get_or_insert(name);
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
            MessageView::Eos(_) => {
                if self.looping {
                    let _ = self.pipeline.seek_simple(
                        gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
                        gst::ClockTime::ZERO,
                    );
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
        if !self.prerolled {
            if self.sink.static_pad("sink").is_some_and(|p| !p.is_linked())
                || self.video_size().is_none()
            {
                return Err(PlayerExit::BadInput(
                    "the stream has no video that can be shown".to_owned(),
                ));
            }
            self.prerolled = true;
            if self.sink_name() != "zcwaylandsink" {
                eprintln!(
                    "zc-player: this zcwaylandsink cannot be embedded in a window (no GstVideoOverlay); \
                     showing the video with GStreamer's {} instead",
                    self.sink_name()
                );
            }
            if !self.audio {
                eprintln!("zc-player: no audio device: playing the video only");
            }
            if let Some(start) = self.start.take()
                && start > 0.0
            {
                let _ = self.seek(SeekTarget::Absolute(start), false, None);
            }
            self.pipeline
                .set_state(self.wanted)
                .map_err(|_| PlayerExit::Failed("cannot start playing".to_owned()))?;
        }
        self.answer_seeks();
        Ok(())
    }

    fn answer_seeks(&mut self) {
        let fields = self.position_reply();
        for reply in self.pending_seeks.drain(..) {
            let _ = reply.send(Ok(fields.clone()));
        }
    }

    /// Stop the pipeline and give every frame back.
    pub fn shutdown(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
        for pending in self.snapshots.drain(..) {
            if let Some(reply) = pending.reply {
                let _ = reply.send(Err("the player quit before the snapshot".to_owned()));
            }
        }
        for reply in self.pending_seeks.drain(..) {
            let _ = reply.send(Err("the player quit during the seek".to_owned()));
        }
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.shutdown();
        if let Some(bus) = self.pipeline.bus() {
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
}

fn display_size(caps: &gst::CapsRef) -> Option<(i32, i32)> {
    let s = caps.structure(0)?;
    let (w, h) = (s.get::<i32>("width").ok()?, s.get::<i32>("height").ok()?);
    let par = s
        .get::<gst::Fraction>("pixel-aspect-ratio")
        .unwrap_or(gst::Fraction::new(1, 1));
    let (n, d) = (par.numer().max(1) as i64, par.denom().max(1) as i64);
    let width = i32::try_from(w as i64 * n / d).unwrap_or(i32::MAX);
    Some((width, h))
}

fn describe_caps(caps: &gst::CapsRef) -> Option<String> {
    let s = caps.structure(0)?;
    let format = s.get::<&str>("format").unwrap_or("?");
    let (w, h) = (s.get::<i32>("width").ok()?, s.get::<i32>("height").ok()?);
    let memory = caps
        .features(0)
        .filter(|f| !f.is_any() && f.size() > 0)
        .map(|f| format!(" ({f})"))
        .unwrap_or_default();
    Some(format!("{format} {w}x{h}{memory}"))
}

/// On a streaming thread: hand the sink our display and surface, pass the
/// rest to the main loop.
fn sync_handler(
    message: &gst::Message,
    handles: WindowHandles,
    layout: &Mutex<Layout>,
    events: &(impl Fn(BusEvent) + Send + Sync),
) -> gst::BusSyncReply {
    if let gst::MessageView::NeedContext(need) = message.view()
        && DISPLAY_CONTEXT_TYPES.contains(&need.context_type())
    {
        let mut context = gst::Context::new(need.context_type(), true);
        if let Some(context_mut) = context.get_mut() {
            let display = (handles.display as glib::Pointer).to_value();
            // SAFETY: a G_TYPE_POINTER value is a plain address; the display
            // it points to is thread-safe (libwayland) and outlives the pipeline.
            let display = unsafe { display.into_send_value() };
            context_mut.structure_mut().set_value("display", display);
        }
        if let Some(element) = message.src().and_then(|s| s.downcast_ref::<gst::Element>()) {
            element.set_context(&context);
        }
        return gst::BusSyncReply::Drop;
    }
    if gst_video::is_video_overlay_prepare_window_handle_message(message) {
        if let Some(overlay) = message
            .src()
            .and_then(|s| s.dynamic_cast_ref::<gst_video::VideoOverlay>())
        {
            let mut layout = crate::lock(layout);
            if let Some(size) = overlay
                .dynamic_cast_ref::<gst::Element>()
                .and_then(|e| e.static_pad("sink"))
                .and_then(|p| p.current_caps())
                .and_then(|c| display_size(&c))
            {
                layout.video = Some(size);
            }
            let (x, y, w, h) = layout.render_rectangle();
            // SAFETY: `surface` is the player window's live wl_surface on the
            // connection whose wl_display the sink got through the context;
            // the window outlives the pipeline (it is stopped first).
            unsafe { overlay.set_window_handle(handles.surface) };
            let _ = overlay.set_render_rectangle(x, y, w, h);
        }
        return gst::BusSyncReply::Drop;
    }
    events(BusEvent::Message(message.clone()));
    gst::BusSyncReply::Drop
}

use gst::glib;
