//! Building the pipeline: `playbin3` with the video bin
//! `videoconvert ! zcexport ! [zcvulkanconvert] ! zcthumbnail ! <sink>`
//! (see [`super::conversion`]), the audio sink where a device is there, and
//! the bus's sync handler that embeds the sink.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use gst::prelude::*;
use zc_app::player::startup::QuietWatch;

use super::conversion::Conversion;
use super::embed::{Layout, WindowHandles, sync_handler};
use super::subtitles::text_sink;
use super::{BusEvent, Gapless, PathPreference, Player, PlayerOptions, has_property, make};

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

/// What building a pipeline takes, kept so that one left behind (see
/// [`super::teardown`]) is replaced by another like it.
pub(super) struct PipelineSpec {
    subtitle_uri: Option<String>,
    backend: super::BackendSetting,
    path: PathPreference,
    audio: bool,
    snapshot_dir: PathBuf,
    handles: WindowHandles,
    layout: Arc<Mutex<Layout>>,
    events: Arc<dyn Fn(BusEvent) + Send + Sync>,
    /// Shared with every pipeline's about-to-finish handler.
    gapless: Arc<Mutex<Gapless>>,
}

/// One pipeline's elements that the player drives.
pub(super) struct Elements {
    /// Cleared when the pipeline is left behind: its about-to-finish
    /// handler and subtitle sink then leave the player alone.
    pub live: Arc<AtomicBool>,
    /// Where the streams enter the player's own elements (the video bin's
    /// first pad, the audio sink's), which exist before playbin3 links
    /// them: blocked when the pipeline is left stuck.
    pub entries: Vec<gst::Pad>,
    pub pipeline: gst::Element,
    pub sink: gst::Element,
    pub export: gst::Element,
    pub conversion: Conversion,
    pub snapshot: gst::Element,
}

impl PipelineSpec {
    /// Where an event for the main loop is sent from another thread.
    pub(super) fn events(&self) -> Arc<dyn Fn(BusEvent) + Send + Sync> {
        self.events.clone()
    }

    /// A pipeline for `uri`, at `volume` (where there is audio; the mute
    /// is the player's to set, see `Player::apply_mute`).
    pub(super) fn build(&self, uri: &str, volume: f64) -> Result<Elements> {
        let playbin = make("playbin3", "player")?;
        playbin.set_property("uri", uri);
        if let Some(sub) = &self.subtitle_uri {
            playbin.set_property("suburi", sub);
        }
        let live = Arc::new(AtomicBool::new(true));
        // Subtitles come as text to the window (drawn above the video),
        // never blended into the frames.
        let (events, cues_live) = (self.events.clone(), live.clone());
        playbin.set_property(
            "text-sink",
            text_sink(Arc::new(move |event| {
                if cues_live.load(Ordering::Acquire) {
                    events(event);
                }
            }))?,
        );

        let export = make("zcexport", "export")?;
        export.set_property("backend", self.backend);
        let snapshot = make("zcthumbnail", "snapshot")?;
        snapshot.set_property(
            "location",
            self.snapshot_dir
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
        // A phone's portrait video, stored sideways and tagged, is turned
        // by the compositor (zcwaylandsink and waylandsink both can).
        // Snapshots are turned as the video is shown: as the tag says where
        // the sink follows it, else as the frames are.
        if has_property(&sink, "rotate-method") {
            sink.set_property_from_str("rotate-method", "auto");
        } else {
            snapshot.set_property_from_str("rotate-method", "identity");
        }
        if self.path != PathPreference::Auto {
            if !has_property(&sink, "path-preference") {
                bail!(
                    "--path {} needs zcwaylandsink's `path-preference` property, which the sink in use \
                     ({}) does not have; use --path auto",
                    zc_app::cli::nick(self.path),
                    sink.factory()
                        .map(|f| f.name().to_string())
                        .unwrap_or_default()
                );
            }
            sink.set_property("path-preference", self.path);
        }
        // videoconvert ! zcexport ! [zcvulkanconvert] ! zcthumbnail ! sink:
        // the converters pass frames the sink takes on untouched.
        let conversion = Conversion::new()?;
        let mut chain = vec![conversion.cpu(), &export];
        chain.extend(conversion.gpu());
        chain.extend([&snapshot, &sink]);
        let bin = gst::Bin::with_name("video-out");
        bin.add_many(chain.iter().copied())?;
        gst::Element::link_many(chain.iter().copied())?;
        let bin_sink = conversion
            .cpu()
            .static_pad("sink")
            .context("videoconvert has no sink pad")?;
        bin.add_pad(&gst::GhostPad::with_target(&bin_sink)?)?;
        playbin.set_property("video-sink", &bin);
        let mut entries = vec![bin_sink];

        let audio = self.audio;
        if audio {
            let audio_sink = make("autoaudiosink", "audio")?;
            entries.extend(audio_sink.static_pad("sink"));
            playbin.set_property("audio-sink", audio_sink);
            // Other speeds keep the audio's pitch (scaletempo passes audio
            // through untouched at speed 1).
            match make("scaletempo", "tempo") {
                Ok(tempo) => playbin.set_property("audio-filter", tempo),
                Err(_) => eprintln!(
                    "zc-player: scaletempo is missing (gstreamer1.0-plugins-good): \
                     other speeds change the audio's pitch"
                ),
            }
            playbin.set_property("volume", volume);
        }
        // native-video: no converters of playsink's in front of our bin
        // (it has its own, which pass on what the sink takes); text: the
        // subtitles, to the text sink (no overlay element: nothing blended).
        playbin.set_property_from_str(
            "flags",
            if audio {
                "video+audio+text+soft-volume+native-video"
            } else {
                "video+text+native-video"
            },
        );

        // Gapless: when the current entry's data is all read, the next one
        // (if the main loop queued it) follows without stopping.
        let (queued, handing_live) = (self.gapless.clone(), live.clone());
        playbin.connect("about-to-finish", false, move |values| {
            if !handing_live.load(Ordering::Acquire) {
                return None;
            }
            let next = {
                let mut gapless = zc_app::lock(&queued);
                let next = gapless.next.take();
                // Only the main loop clears it (an entry's own
                // about-to-finish may come before it handled its start).
                if next.is_some() {
                    gapless.handed_over = Some(gst::Seqnum::next());
                }
                next
            };
            if let (Some(uri), Some(playbin)) = (next, values.first())
                && let Ok(playbin) = playbin.get::<gst::Element>()
            {
                playbin.set_property("uri", uri);
            }
            None
        });

        let bus = playbin.bus().context("playbin3 has no bus")?;
        let (handles, layout, events) = (self.handles, self.layout.clone(), self.events.clone());
        bus.set_sync_handler(move |_bus, message| {
            sync_handler(message, handles, &layout, &|event| events(event))
        });
        Ok(Elements {
            live,
            entries,
            pipeline: playbin,
            sink,
            export,
            conversion,
            snapshot,
        })
    }
}

impl Player {
    pub fn new(
        options: &PlayerOptions,
        handles: WindowHandles,
        layout: Arc<Mutex<Layout>>,
        events: impl Fn(BusEvent) + Send + Sync + 'static,
    ) -> Result<Player> {
        let snapshot_dir = options.snapshot_dir.clone();
        std::fs::create_dir(&snapshot_dir)
            .with_context(|| format!("creating {}", snapshot_dir.display()))?;
        let gapless = Arc::new(Mutex::new(Gapless::default()));
        let spec = PipelineSpec {
            subtitle_uri: options.subtitle_uri.clone(),
            backend: options.backend,
            path: options.path,
            audio: options.audio.plays(),
            snapshot_dir: snapshot_dir.clone(),
            handles,
            layout,
            events: Arc::new(events),
            gapless: gapless.clone(),
        };
        let tracks = super::tracks::Tracks::new(options.aid.clone(), options.sid.clone());
        let elements = spec.build(options.playlist.current(), options.volume)?;

        let player = Player {
            elements,
            snapshot_dir,
            snapshots: VecDeque::new(),
            next_snapshot: 0,
            audio: options.audio,
            muted: options.mute,
            volume: options.volume,
            looping: options.looping,
            keep_open: options.keep_open,
            start: options.start,
            playlist: options.playlist.clone(),
            gapless,
            watch_later: options.watch_later.clone(),
            speed: options.speed,
            tracks,
            wanted: gst::State::Playing,
            prerolled: false,
            at_eos: false,
            step_after_seek: false,
            pending_seeks: Vec::new(),
            missing_plugin: None,
            decoder: None,
            fps: 0.0,
            last_rendered: None,
            warned: Default::default(),
            subtitle_restarts: Default::default(),
            start_watch: QuietWatch::new(options.start_timeout),
            hand_over_position: None,
            hand_over_frames: None,
            kinds_change_to: None,
            entry_seqnum: None,
            spec,
            seek_watch: QuietWatch::new(super::transport::seek_limit(options.start_timeout)),
            seek_target: 0.0,
            cover: Default::default(),
            cover_generation: 0,
            cover_thread: None,
        };
        player.apply_mute();
        Ok(player)
    }
}
