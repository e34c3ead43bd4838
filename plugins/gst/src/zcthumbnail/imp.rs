use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::TrySendError;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use zc_dmabuf::{BracketCounter, Modifier};

use super::output;
use super::scale::{Colorimetry, PixelFormat};
use super::settings::{self, OnError, Settings};
use super::turn;
use crate::lock;

mod worker;
use worker::{Busy, Job, Worker};

pub(super) static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "zcthumbnail",
        gst::DebugColorFlags::empty(),
        Some("zc thumbnail encoder"),
    )
});

/// How long EOS waits for the thumbnail being encoded.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Per-stream state: what the caps say and when the next frame is due.
#[derive(Default)]
struct State {
    info: Option<gst_video::VideoInfo>,
    /// None: the format cannot be read, thumbnails are off.
    pixel: Option<PixelFormat>,
    colour: Colorimetry,
    next_due: Option<gst::ClockTime>,
    next_index: u64,
    /// The frame that passed last, with `keep-last-frame`: a reference, so
    /// its memory stays valid (and unreused) until the next one replaces it.
    last_frame: Option<gst::Buffer>,
    /// The stream's `image-orientation`, for `rotate-method=auto`.
    tagged: Option<gst_video::VideoOrientationMethod>,
}

#[derive(Default)]
struct Counters {
    written: AtomicU64,
    skipped: AtomicU64,
    failed: AtomicU64,
}

pub struct ZcThumbnail {
    settings: Mutex<Settings>,
    state: Mutex<State>,
    counters: Counters,
    brackets: BracketCounter,
    busy: Arc<Busy>,
    worker: Mutex<Option<Worker>>,
    snapshot_pending: AtomicBool,
    /// Set by the worker after an error with `on-error=stop`.
    failed: AtomicBool,
}

impl Default for ZcThumbnail {
    fn default() -> Self {
        Self {
            settings: Mutex::default(),
            state: Mutex::default(),
            counters: Counters::default(),
            brackets: BracketCounter::new(),
            busy: Arc::default(),
            worker: Mutex::default(),
            snapshot_pending: AtomicBool::new(false),
            failed: AtomicBool::new(false),
        }
    }
}

fn pixel_format(format: gst_video::VideoFormat) -> Option<PixelFormat> {
    crate::caps::fourcc_for(format).and_then(PixelFormat::from_fourcc)
}

/// "NV12, NV21, ..., BGR10A2_LE, ...": the formats of the running
/// GStreamer that thumbnails are made of, for the warning that says what
/// would be right.
fn readable_formats() -> String {
    crate::caps::formats()
        .iter()
        .filter(|(_, fourcc)| PixelFormat::from_fourcc(*fourcc).is_some())
        .map(|(format, _)| format.to_str().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The caps' colorimetry (GStreamer fills in its defaults where the caps
/// say nothing), as `crate::colorimetry` maps it for both converters.
fn colour_of(info: &gst_video::VideoInfo) -> Colorimetry {
    crate::colorimetry::from_info(info).0
}

impl ZcThumbnail {
    /// Whether this frame makes a thumbnail, updating the schedule.
    fn picks(&self, buffer: &gst::BufferRef, settings: &Settings, state: &mut State) -> bool {
        if self.snapshot_pending.load(Ordering::Acquire) {
            return true;
        }
        if settings.keyframes_only && buffer.flags().contains(gst::BufferFlags::DELTA_UNIT) {
            return false;
        }
        if settings.interval == 0 {
            return settings.keyframes_only;
        }
        let Some(pts) = buffer.pts() else {
            return false;
        };
        match state.next_due {
            Some(due) if pts < due => false,
            _ => {
                // Saturating: an interval near u64::MAX means "not again".
                let due = pts
                    .nseconds()
                    .saturating_add(settings.interval)
                    .min(gst::ClockTime::MAX.nseconds());
                state.next_due = Some(gst::ClockTime::from_nseconds(due));
                true
            }
        }
    }

    /// The `snapshot-last` action: a snapshot of the kept last frame, now.
    /// False (and a snapshot of the next frame instead) when no frame is
    /// kept or the encoder is still busy with another thumbnail.
    fn snapshot_last(&self) -> bool {
        let last = lock(&self.state).last_frame.clone();
        self.snapshot_pending.store(true, Ordering::Release);
        let Some(buffer) = last else {
            gst::debug!(
                CAT,
                imp = self,
                "snapshot-last: no frame kept; taking the next one"
            );
            return false;
        };
        gst::debug!(CAT, imp = self, "snapshot-last: taking {:?}", buffer.pts());
        // Written like any picked frame (same brackets, worker, message);
        // a stopped or failed element leaves the snapshot pending.
        let _ = self.handle_frame(&buffer);
        !self.snapshot_pending.load(Ordering::Acquire)
    }

    fn handle_frame(&self, buffer: &gst::Buffer) -> Result<(), gst::FlowError> {
        if self.failed.load(Ordering::Acquire) {
            return Err(gst::FlowError::Error);
        }
        let settings = lock(&self.settings).clone();
        let (info, format, colour, index, tagged) = {
            let mut state = lock(&self.state);
            if settings.keep_last_frame {
                state.last_frame = Some(buffer.clone());
            }
            let (Some(info), Some(format)) = (state.info.clone(), state.pixel) else {
                return Ok(());
            };
            if !self.picks(buffer, &settings, &mut state) {
                return Ok(());
            }
            if self.busy.is_busy() {
                if self.snapshot_pending.load(Ordering::Acquire) {
                    // A snapshot waits for the encoder instead of being lost.
                    return Ok(());
                }
                self.counters.skipped.fetch_add(1, Ordering::Relaxed);
                gst::debug!(CAT, imp = self, "encoder busy: skipping {:?}", buffer.pts());
                return Ok(());
            }
            let index = state.next_index;
            state.next_index += 1;
            (info, format, state.colour, index, state.tagged)
        };
        self.snapshot_pending.store(false, Ordering::Release);
        let orientation = crate::orientation::shown(settings.rotate_method, tagged);
        let par = info.par();
        let size = turn::read_size(
            (info.width(), info.height()),
            (par.numer().max(0) as u32, par.denom().max(0) as u32),
            orientation,
            (settings.width, settings.height),
        );
        let pts = buffer.pts();
        let path = output::expand_location(&settings.location, index, pts.map(|p| p.nseconds()))
            .map_err(|err| err.to_string())
            .and_then(|path| output::check_size(size.0, size.1).map(|()| PathBuf::from(path)));
        let path = match path {
            Ok(path) => path,
            Err(reason) => {
                // Settings that can never work: no on-error policy makes them useful.
                self.failed.store(true, Ordering::Release);
                gst::element_imp_error!(
                    self,
                    gst::ResourceError::Settings,
                    (
                        "cannot make a thumbnail of a {}x{} frame: {reason}",
                        info.width(),
                        info.height()
                    )
                );
                return Err(gst::FlowError::Error);
            }
        };
        let job = Job {
            buffer: buffer.clone(),
            info,
            pixel: format,
            colour,
            size,
            orientation,
            path,
            pts,
            index,
            format: settings.format.into(),
            quality: settings.quality.clamp(1, 100) as u8,
            on_error: settings.on_error,
        };
        let worker = lock(&self.worker);
        let Some(worker) = worker.as_ref() else {
            return Ok(());
        };
        self.busy.set(true);
        match worker.jobs.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                // Cannot happen while `busy` guards sending; counted if it does.
                self.busy.set(false);
                self.counters.skipped.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => {
                self.busy.set(false);
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Failed,
                    ("the encoder thread is gone")
                );
                Err(gst::FlowError::Error)
            }
        }
    }

    fn check_location(&self, settings: &Settings) -> Result<(), gst::ErrorMessage> {
        settings.check()?;
        let first = output::expand_location(&settings.location, 0, Some(0))
            .map_err(|err| gst::error_msg!(gst::ResourceError::Settings, ("{err}")))?;
        let folder = output::folder_of(&first);
        let Err(reason) = output::check_folder(&folder) else {
            return Ok(());
        };
        match settings.on_error {
            OnError::Stop => Err(gst::error_msg!(
                gst::ResourceError::OpenWrite,
                ["cannot write thumbnails to {}: {reason}", settings.location]
            )),
            OnError::Skip => {
                gst::element_imp_warning!(
                    self,
                    gst::ResourceError::OpenWrite,
                    [
                        "cannot write thumbnails to {}: {reason}; every thumbnail will be skipped",
                        settings.location
                    ]
                );
                Ok(())
            }
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for ZcThumbnail {
    const NAME: &'static str = "GstZcThumbnail";
    type Type = super::ZcThumbnail;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for ZcThumbnail {
    fn constructed(&self) {
        self.parent_constructed();
        self.obj().set_passthrough(true);
    }

    fn dispose(&self) {
        self.stop_worker();
    }

    fn signals() -> &'static [glib::subclass::Signal] {
        static SIGNALS: LazyLock<Vec<glib::subclass::Signal>> = LazyLock::new(|| {
            vec![
                glib::subclass::Signal::builder("snapshot")
                    .action()
                    .class_handler(|args| {
                        if let Some(Ok(obj)) = args.first().map(|v| v.get::<super::ZcThumbnail>()) {
                            gst::debug!(CAT, obj = obj, "snapshot requested");
                            obj.imp().snapshot_pending.store(true, Ordering::Release);
                        }
                        None
                    })
                    .build(),
                // Paused, no next frame comes: take the one that passed
                // last. (Seeking to show it again is no substitute: the
                // sink may preroll on a GAP event and hold the streaming
                // thread before the frame reaches this element.)
                glib::subclass::Signal::builder("snapshot-last")
                    .action()
                    .return_type::<bool>()
                    .class_handler(|args| {
                        // A bool signal must answer; without its element, false.
                        let taken = args
                            .first()
                            .and_then(|v| v.get::<super::ZcThumbnail>().ok())
                            .is_some_and(|obj| obj.imp().snapshot_last());
                        Some(taken.to_value())
                    })
                    .build(),
            ]
        });
        SIGNALS.as_ref()
    }

    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(settings::param_specs);
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = lock(&self.settings);
        match pspec.name() {
            "location" => {
                settings.location = value
                    .get::<Option<String>>()
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| settings::DEFAULT_LOCATION.to_owned())
            }
            "format" => settings.format = value.get().unwrap_or_default(),
            "quality" => settings.quality = value.get().unwrap_or(settings::DEFAULT_QUALITY),
            "width" => settings.width = value.get().unwrap_or(settings::DEFAULT_WIDTH),
            "height" => settings.height = value.get().unwrap_or(settings::DEFAULT_HEIGHT),
            "interval" => {
                settings.interval = value.get().unwrap_or(settings::DEFAULT_INTERVAL);
                // A new interval starts counting from the next frame.
                lock(&self.state).next_due = None;
            }
            "keyframes-only" => settings.keyframes_only = value.get().unwrap_or(false),
            "on-error" => settings.on_error = value.get().unwrap_or_default(),
            "keep-last-frame" => {
                settings.keep_last_frame = value.get().unwrap_or(false);
                if !settings.keep_last_frame {
                    lock(&self.state).last_frame = None;
                }
            }
            "rotate-method" => {
                settings.rotate_method = value.get().unwrap_or(settings::DEFAULT_ROTATE_METHOD)
            }
            other => gst::warning!(CAT, imp = self, "no property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let c = &self.counters;
        let s = lock(&self.settings);
        match pspec.name() {
            "location" => s.location.to_value(),
            "format" => s.format.to_value(),
            "quality" => s.quality.to_value(),
            "width" => s.width.to_value(),
            "height" => s.height.to_value(),
            "interval" => s.interval.to_value(),
            "keyframes-only" => s.keyframes_only.to_value(),
            "on-error" => s.on_error.to_value(),
            "keep-last-frame" => s.keep_last_frame.to_value(),
            "rotate-method" => s.rotate_method.to_value(),
            "thumbnails-written" => c.written.load(Ordering::Relaxed).to_value(),
            "frames-skipped" => c.skipped.load(Ordering::Relaxed).to_value(),
            "thumbnails-failed" => c.failed.load(Ordering::Relaxed).to_value(),
            "cpu-brackets" => self.brackets.stats().ended.to_value(),
            "cpu-brackets-begun" => self.brackets.stats().begun.to_value(),
            _ => glib::Value::from_type(pspec.value_type()),
        }
    }
}

impl GstObjectImpl for ZcThumbnail {}

impl ElementImpl for ZcThumbnail {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "zc thumbnail encoder",
                "Filter/Video",
                "Passes frames on untouched and writes JPEG or PNG thumbnails of some of them, reading \
                 dma-bufs (anyone's), fd memory or system memory inside CPU-access brackets. The `snapshot` \
                 action signal takes the next frame whatever the interval (width=0 height=0: full size); \
                 with keep-last-frame, `snapshot-last` takes the frame that passed last (a paused one)",
                "zc developers",
            )
        });
        Some(&*METADATA)
    }

    #[allow(clippy::expect_used)] // ok: templates from static caps
    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            // Any raw video in any memory: what cannot be read still passes.
            let mut caps = gst::Caps::builder("video/x-raw").build();
            caps.merge(
                gst::Caps::builder("video/x-raw")
                    .features(["memory:DMABuf"])
                    .build(),
            );
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &caps,
                )
                .expect("valid sink template"), // ok: static caps
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &caps,
                )
                .expect("valid src template"), // ok: static caps
            ]
        });
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for ZcThumbnail {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = true;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        self.check_location(&settings)?;
        for counter in [
            &self.counters.written,
            &self.counters.skipped,
            &self.counters.failed,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        self.brackets.reset();
        self.failed.store(false, Ordering::Release);
        *lock(&self.state) = State::default();
        self.start_worker()
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        self.stop_worker();
        *lock(&self.state) = State::default();
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, _outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        // Either dialect: 1.24's DMA_DRM caps become the equivalent
        // VideoInfo (any raw format otherwise: zcthumbnail reads formats zc
        // does not lay out).
        let parsed = if crate::dialect::is_dma_drm(incaps) {
            crate::dialect::video_info(incaps)
                .map(|(info, drm)| (info, drm.modifier))
                .map_err(|e| e.to_string())
        } else {
            gst_video::VideoInfo::from_caps(incaps)
                .map(|info| (info, Modifier::LINEAR))
                .map_err(|_| format!("{incaps} are not raw video caps"))
        };
        let (info, modifier) = match parsed {
            Ok(parsed) => parsed,
            Err(err) => {
                gst::element_imp_warning!(
                    self,
                    gst::StreamError::Format,
                    ("thumbnails are off for {incaps}"),
                    ["{err}; frames pass through untouched"]
                );
                let mut state = lock(&self.state);
                state.pixel = None;
                state.info = None;
                state.last_frame = None;
                return Ok(());
            }
        };
        let pixel = pixel_format(info.format());
        if modifier != Modifier::LINEAR {
            gst::element_imp_warning!(
                self,
                gst::StreamError::Format,
                (
                    "thumbnails are off for {} with modifier {modifier}",
                    info.format().to_str()
                ),
                [
                    "a tiled layout only the GPU that made it can read; frames pass through untouched"
                ]
            );
        } else if pixel.is_none() {
            gst::element_imp_warning!(
                self,
                gst::StreamError::Format,
                ("thumbnails are off for format {}", info.format().to_str()),
                [
                    "zcthumbnail reads {}; frames in {} pass through untouched",
                    readable_formats(),
                    info.format().to_str()
                ]
            );
        }
        gst::info!(
            CAT,
            imp = self,
            "caps {incaps}: {}",
            if pixel.is_some() {
                "thumbnails on"
            } else {
                "thumbnails off"
            }
        );
        let mut state = lock(&self.state);
        state.colour = colour_of(&info);
        state.pixel = pixel.filter(|_| modifier == Modifier::LINEAR);
        state.info = Some(info);
        // A kept frame of the old caps cannot be read with the new ones.
        state.last_frame = None;
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Eos(_) => {
                // The last thumbnail lands (and its message is posted) before EOS goes on.
                let drained = self.busy.wait_idle(DRAIN_TIMEOUT);
                if !drained {
                    gst::warning!(
                        CAT,
                        imp = self,
                        "the encoder is still busy after {DRAIN_TIMEOUT:?}; EOS goes on"
                    );
                }
            }
            gst::EventView::FlushStop(_) | gst::EventView::Segment(_) => {
                lock(&self.state).next_due = None;
            }
            // A new stream: the last one's tag no longer holds.
            gst::EventView::StreamStart(_) => lock(&self.state).tagged = None,
            gst::EventView::Tag(tag) => {
                if let Some(method) = gst_video::VideoOrientationMethod::from_tag(tag.tag()) {
                    gst::debug!(CAT, imp = self, "the stream is tagged {method:?}");
                    lock(&self.state).tagged = Some(method);
                }
            }
            _ => {}
        }
        self.parent_sink_event(event)
    }

    fn transform_ip_passthrough(
        &self,
        buf: &gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        self.handle_frame(buf)?;
        Ok(gst::FlowSuccess::Ok)
    }
}
