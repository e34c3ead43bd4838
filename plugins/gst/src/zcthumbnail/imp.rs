use std::os::fd::BorrowedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Condvar, LazyLock, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use zc_dmabuf::{Access, BracketCounter, FdBracket};

use super::output::{self, ImageFormat};
use super::scale::{self, Colour, Matrix, PixelFormat, Rgb};
use crate::lock;

pub(super) static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "zcthumbnail",
        gst::DebugColorFlags::empty(),
        Some("zc thumbnail encoder"),
    )
});

const DEFAULT_LOCATION: &str = "thumbnail-%05d.jpg";
const DEFAULT_QUALITY: u32 = 85;
const DEFAULT_WIDTH: u32 = 320;
const DEFAULT_HEIGHT: u32 = 180;
const DEFAULT_INTERVAL: u64 = 10 * gst::ClockTime::SECOND.nseconds();
/// How long EOS waits for the thumbnail being encoded.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The `format` property.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstZcThumbnailFormat")]
pub enum ThumbnailFormat {
    #[default]
    #[enum_value(name = "JPEG (baseline, `quality` applies)", nick = "jpeg")]
    Jpeg,
    #[enum_value(name = "PNG (lossless, 8-bit RGB)", nick = "png")]
    Png,
}

impl From<ThumbnailFormat> for ImageFormat {
    fn from(f: ThumbnailFormat) -> Self {
        match f {
            ThumbnailFormat::Jpeg => ImageFormat::Jpeg,
            ThumbnailFormat::Png => ImageFormat::Png,
        }
    }
}

/// The `on-error` property.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstZcThumbnailOnError")]
pub enum OnError {
    #[default]
    #[enum_value(
        name = "Stop: post an error naming the path and stop the stream",
        nick = "stop"
    )]
    Stop,
    #[enum_value(
        name = "Skip: post a warning naming the path, count it, and go on",
        nick = "skip"
    )]
    Skip,
}

#[derive(Debug, Clone)]
struct Settings {
    location: String,
    format: ThumbnailFormat,
    quality: u32,
    width: u32,
    height: u32,
    interval: u64,
    keyframes_only: bool,
    on_error: OnError,
    keep_last_frame: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            location: DEFAULT_LOCATION.to_owned(),
            format: ThumbnailFormat::default(),
            quality: DEFAULT_QUALITY,
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
            interval: DEFAULT_INTERVAL,
            keyframes_only: false,
            on_error: OnError::default(),
            keep_last_frame: false,
        }
    }
}

/// Per-stream state: what the caps say and when the next frame is due.
#[derive(Default)]
struct State {
    info: Option<gst_video::VideoInfo>,
    /// None: the format cannot be read, thumbnails are off.
    pixel: Option<PixelFormat>,
    colour: Colour,
    next_due: Option<gst::ClockTime>,
    next_index: u64,
    /// The frame that passed last, with `keep-last-frame`: a reference, so
    /// its memory stays valid (and unreused) until the next one replaces it.
    last_frame: Option<gst::Buffer>,
}

#[derive(Default)]
struct Counters {
    written: AtomicU64,
    skipped: AtomicU64,
    failed: AtomicU64,
}

/// One thumbnail for the worker.
struct Job {
    /// A reference to the picked frame, dropped as soon as it has been read.
    buffer: gst::Buffer,
    info: gst_video::VideoInfo,
    pixel: PixelFormat,
    colour: Colour,
    size: (u32, u32),
    path: PathBuf,
    pts: Option<gst::ClockTime>,
    index: u64,
    format: ImageFormat,
    quality: u8,
    on_error: OnError,
}

/// Whether the worker has a job; EOS waits on it.
#[derive(Default)]
struct Busy {
    busy: Mutex<bool>,
    changed: Condvar,
}

impl Busy {
    fn set(&self, value: bool) {
        *lock(&self.busy) = value;
        self.changed.notify_all();
    }

    fn is_busy(&self) -> bool {
        *lock(&self.busy)
    }

    /// Wait until idle; false if `timeout` passed first.
    fn wait_idle(&self, timeout: Duration) -> bool {
        let guard = lock(&self.busy);
        match self
            .changed
            .wait_timeout_while(guard, timeout, |busy| *busy)
        {
            Ok((_, result)) => !result.timed_out(),
            Err(poisoned) => !poisoned.into_inner().1.timed_out(),
        }
    }
}

struct Worker {
    jobs: SyncSender<Job>,
    thread: JoinHandle<()>,
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

/// Run the calling thread at nice 19: where CPUs are contended, the
/// thumbnail worker then yields to the streaming threads, so frames are not
/// delayed (thumbnails are skipped and counted instead).
fn lower_own_priority() {
    // SAFETY: gettid and setpriority take and return plain integers; `who`
    // is this thread's own id, so only this thread's nice value changes.
    let result = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19) };
    if result != 0 {
        gst::debug!(
            CAT,
            "cannot lower the encoder thread's priority: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn pixel_format(format: gst_video::VideoFormat) -> Option<PixelFormat> {
    use gst_video::VideoFormat as V;
    Some(match format {
        V::Nv12 => PixelFormat::Nv12,
        V::Nv21 => PixelFormat::Nv21,
        V::Nv16 => PixelFormat::Nv16,
        V::I420 => PixelFormat::I420,
        V::Yv12 => PixelFormat::Yv12,
        V::Yuy2 => PixelFormat::Yuy2,
        V::Uyvy => PixelFormat::Uyvy,
        V::P01010le => PixelFormat::P010,
        V::Bgrx => PixelFormat::Bgrx,
        V::Bgra => PixelFormat::Bgra,
        V::Rgbx => PixelFormat::Rgbx,
        V::Rgba => PixelFormat::Rgba,
        V::Rgb16 => PixelFormat::Rgb565,
        _ => return None,
    })
}

/// The caps' colorimetry (GStreamer fills in its defaults where the caps
/// say nothing): BT.709 and BT.2020 matrices are honoured, anything else is
/// read as BT.601; range 0-255 is full range, anything else limited.
fn colour_of(info: &gst_video::VideoInfo) -> Colour {
    let colorimetry = info.colorimetry();
    let matrix = match colorimetry.matrix() {
        gst_video::VideoColorMatrix::Bt709 => Matrix::Bt709,
        gst_video::VideoColorMatrix::Bt2020 => Matrix::Bt2020,
        _ => Matrix::Bt601,
    };
    Colour {
        matrix,
        full_range: colorimetry.range() == gst_video::VideoColorRange::Range0_255,
    }
}

impl ZcThumbnail {
    fn start_worker(&self) -> Result<(), gst::ErrorMessage> {
        let (jobs, rx) = std::sync::mpsc::sync_channel::<Job>(1);
        let weak = self.obj().downgrade();
        let busy = self.busy.clone();
        let thread = std::thread::Builder::new()
            .name("zcthumbnail".to_owned())
            .spawn(move || {
                lower_own_priority();
                while let Ok(job) = rx.recv() {
                    if let Some(obj) = weak.upgrade() {
                        obj.imp().make_thumbnail(job);
                    }
                    busy.set(false);
                }
            })
            .map_err(|err| {
                gst::error_msg!(
                    gst::CoreError::Failed,
                    ["cannot start the encoder thread: {err}"]
                )
            })?;
        *lock(&self.worker) = Some(Worker { jobs, thread });
        Ok(())
    }

    fn stop_worker(&self) {
        if let Some(worker) = lock(&self.worker).take() {
            // Closing the channel ends the thread after its current job.
            drop(worker.jobs);
            if worker.thread.thread().id() == std::thread::current().id() {
                // The worker dropped the last reference (the element was
                // released while running): it ends on its own once it returns.
                return;
            }
            if worker.thread.join().is_err() {
                gst::error!(CAT, imp = self, "the encoder thread panicked");
            }
        }
        self.busy.set(false);
    }

    /// On the worker thread.
    fn make_thumbnail(&self, job: Job) {
        let Job {
            buffer,
            info,
            pixel,
            colour,
            size,
            ..
        } = job;
        let started = std::time::Instant::now();
        let image = match self.read_frame(&buffer, &info, pixel, colour, size) {
            Ok(image) => image,
            Err(reason) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                gst::element_imp_warning!(
                    self,
                    gst::StreamError::Decode,
                    ("cannot read a frame for a thumbnail"),
                    ["{reason}"]
                );
                return;
            }
        };
        // The frame goes back to its owner (a pool, a driver) now, before the encode.
        drop(buffer);
        gst::debug!(
            CAT,
            imp = self,
            "read and scaled {:?} to {}x{} in {:?}",
            job.pts,
            size.0,
            size.1,
            started.elapsed()
        );
        let started = std::time::Instant::now();
        let result = output::encode(&image, job.format, job.quality)
            .and_then(|bytes| output::write_atomically(&job.path, &bytes).map(|()| bytes.len()));
        let path = job.path.display().to_string();
        match result {
            Ok(bytes) => {
                self.counters.written.fetch_add(1, Ordering::Relaxed);
                gst::debug!(
                    CAT,
                    imp = self,
                    "wrote {path} ({bytes} bytes) in {:?}",
                    started.elapsed()
                );
                let s = gst::Structure::builder("zc-thumbnail")
                    .field("location", &path)
                    .field_if_some("pts", job.pts)
                    .field("width", image.width)
                    .field("height", image.height)
                    .field("index", job.index)
                    .field("bytes", bytes as u64)
                    .build();
                let obj = self.obj();
                let _ = obj.post_message(gst::message::Element::builder(s).src(&*obj).build());
            }
            Err(err) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                match job.on_error {
                    OnError::Stop => {
                        self.failed.store(true, Ordering::Release);
                        gst::element_imp_error!(
                            self,
                            gst::ResourceError::Write,
                            ("cannot write thumbnail {path}"),
                            ["{err}"]
                        );
                    }
                    OnError::Skip => {
                        gst::element_imp_warning!(
                            self,
                            gst::ResourceError::Write,
                            ("cannot write thumbnail {path}; skipped"),
                            ["{err}"]
                        );
                    }
                }
            }
        }
    }

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

    /// Read the frame's planes inside READ brackets and scale them.
    fn read_frame(
        &self,
        buffer: &gst::BufferRef,
        info: &gst_video::VideoInfo,
        format: PixelFormat,
        colour: Colour,
        size: (u32, u32),
    ) -> Result<Rgb, String> {
        let planes = format.plane_count();
        let (offsets, strides): (Vec<usize>, Vec<usize>) =
            match buffer.meta::<gst_video::VideoMeta>() {
                Some(meta) => (
                    meta.offset().to_vec(),
                    meta.stride().iter().map(|s| (*s).max(0) as usize).collect(),
                ),
                None => (
                    info.offset().to_vec(),
                    info.stride().iter().map(|s| (*s).max(0) as usize).collect(),
                ),
            };
        // Which memory holds each plane, and where in it.
        let mut where_: Vec<(usize, usize)> = Vec::with_capacity(planes);
        for plane in 0..planes {
            let offset = *offsets
                .get(plane)
                .ok_or_else(|| format!("no offset for plane {plane}"))?;
            let (range, skip) = buffer.find_memory(offset..offset + 1).ok_or_else(|| {
                format!(
                    "plane {plane} at offset {offset} is outside the {}-byte buffer",
                    buffer.size()
                )
            })?;
            if range.len() != 1 {
                return Err(format!("plane {plane} spans {} memories", range.len()));
            }
            where_.push((range.start, skip));
        }
        let mut memories: Vec<usize> = where_.iter().map(|(idx, _)| *idx).collect();
        memories.sort_unstable();
        memories.dedup();

        // Brackets first, maps second: locals drop in reverse, so every map
        // is released before its bracket ends, on every path out of here.
        let mut brackets: Vec<FdBracket<'_>> = Vec::with_capacity(memories.len());
        for &idx in &memories {
            let memory = buffer.peek_memory(idx);
            if let Some(fd_memory) = memory.downcast_memory_ref::<gst_allocators::FdMemory>() {
                let is_dma_buf = memory.is_memory_type::<gst_allocators::DmaBufMemory>();
                // SAFETY: the fd belongs to the memory, which `buffer` holds
                // (and we hold `buffer`) for longer than the bracket lives.
                let fd = unsafe { BorrowedFd::borrow_raw(fd_memory.fd()) };
                let bracket = FdBracket::begin(fd, Access::Read, is_dma_buf, &self.brackets)
                    .map_err(|err| format!("cannot begin CPU access on memory {idx}: {err}"))?;
                brackets.push(bracket);
            }
        }
        let mut maps = Vec::with_capacity(memories.len());
        for &idx in &memories {
            let map = buffer
                .peek_memory(idx)
                .map_readable()
                .map_err(|_| format!("cannot map memory {idx}"))?;
            maps.push((idx, map));
        }
        let mut slices: Vec<&[u8]> = Vec::with_capacity(planes);
        for (idx, skip) in &where_ {
            let map = maps
                .iter()
                .find(|(i, _)| i == idx)
                .map(|(_, m)| m.as_slice())
                .unwrap_or(&[]);
            slices.push(map.get(*skip..).unwrap_or(&[]));
        }
        let frame = scale::Frame {
            format,
            width: info.width(),
            height: info.height(),
            planes: &slices,
            strides: &strides[..planes.min(strides.len())],
            colour,
        };
        let image = scale::scale_to_rgb(&frame, size.0, size.1).map_err(|err| err.to_string());
        drop(maps);
        for bracket in brackets {
            if let Err(err) = bracket.end() {
                gst::warning!(CAT, imp = self, "ending a CPU access bracket: {err}");
            }
        }
        image
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
        let (info, format, colour, index) = {
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
            (info, format, state.colour, index)
        };
        self.snapshot_pending.store(false, Ordering::Release);
        let par = info.par();
        let size = scale::fit(
            info.width(),
            info.height(),
            (par.numer().max(0) as u32, par.denom().max(0) as u32),
            settings.width,
            settings.height,
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
                    gst::LibraryError::Settings,
                    (
                        "cannot make a thumbnail of a {}x{} frame",
                        info.width(),
                        info.height()
                    ),
                    ["{reason}"]
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

    /// Settings that can never work are an error whatever `on-error` says.
    fn check_settings(settings: &Settings) -> Result<(), gst::ErrorMessage> {
        let settings_error =
            |reason: String| gst::error_msg!(gst::LibraryError::Settings, ["{reason}"]);
        output::expand_location(&settings.location, 0, Some(0))
            .map_err(|err| settings_error(format!("location {}: {err}", settings.location)))?;
        // With both given, width x height bounds every thumbnail.
        if settings.width > 0 && settings.height > 0 {
            output::check_size(settings.width, settings.height)
                .map_err(|reason| settings_error(format!("width and height: {reason}")))?;
        }
        Ok(())
    }

    fn check_location(&self, settings: &Settings) -> Result<(), gst::ErrorMessage> {
        Self::check_settings(settings)?;
        let first = output::expand_location(&settings.location, 0, Some(0))
            .map_err(|err| gst::error_msg!(gst::LibraryError::Settings, ["{err}"]))?;
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
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let counter = |name: &'static str, nick: &'static str, blurb: &'static str| {
                glib::ParamSpecUInt64::builder(name)
                    .nick(nick)
                    .blurb(blurb)
                    .read_only()
                    .build()
            };
            vec![
                glib::ParamSpecString::builder("location")
                    .nick("Location")
                    .blurb(
                        "Where thumbnails go: %d or %0Nd is the thumbnail's index (from 0), %t or %0Nt the \
                         frame's timestamp in milliseconds (N at most 32), %% a percent sign. Each file is \
                         written to a new temporary file beside it (created exclusively, never through a \
                         symlink) and renamed over <name>: an existing file or symlink there is replaced",
                    )
                    .default_value(Some(DEFAULT_LOCATION))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder::<ThumbnailFormat>("format")
                    .nick("Format")
                    .blurb("Image format of the files written")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("quality")
                    .nick("JPEG quality")
                    .blurb("JPEG quality, 1 (smallest) to 100 (best); ignored for PNG")
                    .minimum(1)
                    .maximum(100)
                    .default_value(DEFAULT_QUALITY)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("width")
                    .nick("Width")
                    .blurb(
                        "Thumbnail width in pixels, at most; the aspect ratio is kept. 0 follows `height`; \
                         0 for both is the frame's own size (a full-size snapshot). A thumbnail has at \
                         most 67108864 pixels (8192x8192): larger sizes stop the stream with an error",
                    )
                    .maximum(65535)
                    .default_value(DEFAULT_WIDTH)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("height")
                    .nick("Height")
                    .blurb(
                        "Thumbnail height in pixels, at most; the aspect ratio is kept. 0 follows `width`; \
                         0 for both is the frame's own size (a full-size snapshot). A thumbnail has at \
                         most 67108864 pixels (8192x8192): larger sizes stop the stream with an error",
                    )
                    .maximum(65535)
                    .default_value(DEFAULT_HEIGHT)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt64::builder("interval")
                    .nick("Interval")
                    .blurb(
                        "Stream time in nanoseconds between thumbnails: the first frame with a timestamp is \
                         taken, then the first at least this much later. 0 turns time-based picking off \
                         (then only keyframes-only and the snapshot signal pick frames)",
                    )
                    .default_value(DEFAULT_INTERVAL)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("keyframes-only")
                    .nick("Keyframes only")
                    .blurb(
                        "Consider only keyframes (buffers without the DELTA_UNIT flag); with interval 0, \
                         every keyframe makes a thumbnail",
                    )
                    .default_value(false)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder::<OnError>("on-error")
                    .nick("On error")
                    .blurb(
                        "What a missing or unwritable folder, or a thumbnail that cannot be encoded or \
                         written, does: an error that stops the stream, or a warning and a skip",
                    )
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("keep-last-frame")
                    .nick("Keep last frame")
                    .blurb(
                        "Keep a reference to the frame that passed last, so the snapshot-last action can take \
                         it at once (a paused pipeline sends no next frame). It holds one buffer of the \
                         upstream pool, usually the one the sink shows anyway",
                    )
                    .default_value(false)
                    .mutable_playing()
                    .build(),
                counter("thumbnails-written", "Thumbnails written", "Files written and renamed into place"),
                counter(
                    "frames-skipped",
                    "Frames skipped",
                    "Frames picked for a thumbnail but skipped because the encoder was still busy",
                ),
                counter(
                    "thumbnails-failed",
                    "Thumbnails failed",
                    "Picked frames that could not be read, encoded or written",
                ),
                counter(
                    "cpu-brackets",
                    "CPU brackets",
                    "CPU-access brackets completed (begin and end), one per fd-backed memory read; \
                     DMA_BUF_IOCTL_SYNC START/END on dma-bufs",
                ),
                counter(
                    "cpu-brackets-begun",
                    "CPU brackets begun",
                    "CPU-access brackets begun; equals cpu-brackets whenever no frame is being read",
                ),
            ]
        });
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
                    .unwrap_or_else(|| DEFAULT_LOCATION.to_owned())
            }
            "format" => settings.format = value.get().unwrap_or_default(),
            "quality" => settings.quality = value.get().unwrap_or(DEFAULT_QUALITY),
            "width" => settings.width = value.get().unwrap_or(DEFAULT_WIDTH),
            "height" => settings.height = value.get().unwrap_or(DEFAULT_HEIGHT),
            "interval" => {
                settings.interval = value.get().unwrap_or(DEFAULT_INTERVAL);
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
        let info = gst_video::VideoInfo::from_caps(incaps)
            .map_err(|_| gst::loggable_error!(CAT, "{incaps} are not raw video caps"))?;
        let pixel = pixel_format(info.format());
        if pixel.is_none() {
            gst::element_imp_warning!(
                self,
                gst::StreamError::Format,
                ("thumbnails are off for format {}", info.format().to_str()),
                [
                    "zcthumbnail reads {}; frames in {} pass through untouched",
                    crate::caps::supported_list(),
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
        state.pixel = pixel;
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
