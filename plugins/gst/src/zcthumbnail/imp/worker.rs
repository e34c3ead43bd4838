//! The encoder thread: one job at a time, read inside brackets, encoded and
//! written off the streaming thread.

use std::os::fd::BorrowedFd;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::sync::{Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use gst::prelude::*;
use gst::subclass::prelude::*;
use zc_dmabuf::{Access, FdBracket};

use super::super::output::{self, ImageFormat};
use super::super::scale::{self, Colorimetry, PixelFormat, Rgb};
use super::super::settings::OnError;
use super::{CAT, ZcThumbnail};
use crate::frame::Frame;
use crate::lock;

/// One thumbnail for the worker.
pub(super) struct Job {
    /// A reference to the picked frame, dropped as soon as it has been read.
    pub(super) buffer: gst::Buffer,
    pub(super) info: gst_video::VideoInfo,
    pub(super) pixel: PixelFormat,
    pub(super) colour: Colorimetry,
    /// The size the frame is read at, before it is turned.
    pub(super) size: (u32, u32),
    /// How the thumbnail is turned once read (`rotate-method`).
    pub(super) orientation: crate::orientation::Orientation,
    pub(super) path: PathBuf,
    pub(super) pts: Option<gst::ClockTime>,
    pub(super) index: u64,
    pub(super) format: ImageFormat,
    pub(super) quality: u8,
    pub(super) on_error: OnError,
}

/// Whether the worker has a job; EOS waits on it.
#[derive(Default)]
pub(super) struct Busy {
    busy: Mutex<bool>,
    changed: Condvar,
}

impl Busy {
    pub(super) fn set(&self, value: bool) {
        *lock(&self.busy) = value;
        self.changed.notify_all();
    }

    pub(super) fn is_busy(&self) -> bool {
        *lock(&self.busy)
    }

    /// Wait until idle; false if `timeout` passed first.
    pub(super) fn wait_idle(&self, timeout: Duration) -> bool {
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

pub(super) struct Worker {
    pub(super) jobs: SyncSender<Job>,
    pub(super) thread: JoinHandle<()>,
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

impl ZcThumbnail {
    pub(super) fn start_worker(&self) -> Result<(), gst::ErrorMessage> {
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

    pub(super) fn stop_worker(&self) {
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
    pub(super) fn make_thumbnail(&self, job: Job) {
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
        let image = super::turn::turned(image, job.orientation);
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

    /// Read the frame's planes inside READ brackets and scale them.
    pub(super) fn read_frame(
        &self,
        buffer: &gst::BufferRef,
        info: &gst_video::VideoInfo,
        format: PixelFormat,
        colour: Colorimetry,
        size: (u32, u32),
    ) -> Result<Rgb, String> {
        // The plugin's frame model first: negative strides refused, planes
        // within the buffer, fd memories within their fds' real sizes, so the
        // maps below never reach past the end of an fd (SIGBUS). A short last
        // row is fine here: the scaler reads only each row's pixels.
        match Frame::from_buffer(buffer, info) {
            Ok(_) => {}
            Err(err) if err.is_copyable() => {}
            Err(err) => return Err(err.to_string()),
        }
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
            let end = offset
                .checked_add(1)
                .ok_or_else(|| format!("plane {plane} offset {offset} overflows"))?;
            let (range, skip) = buffer.find_memory(offset..end).ok_or_else(|| {
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

        // Brackets first, copies second: every map is released (inside
        // `copy_memory`) before its bracket ends, on every path out of here;
        // the scaling then reads only the copies, outside the brackets.
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
        // The frame is the producer's (a decoder's, a camera's dma-buf), which
        // it or a device may write while we read: it is copied out through a
        // raw map, never borrowed as a slice (see zc_dmabuf::CpuAccess).
        let mut maps = Vec::with_capacity(memories.len());
        for &idx in &memories {
            let bytes = copy_memory(buffer.peek_memory(idx))
                .ok_or_else(|| format!("cannot map memory {idx}"))?;
            maps.push((idx, bytes));
        }
        // The copies are ours: the producer's memory is done with.
        for bracket in brackets {
            if let Err(err) = bracket.end() {
                gst::warning!(CAT, imp = self, "ending a CPU access bracket: {err}");
            }
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
        scale::scale_to_rgb(&frame, size.0, size.1).map_err(|err| err.to_string())
    }
}

/// A memory's bytes, copied out through a raw `gst_memory_map` with volatile
/// reads: others may write a shared buffer meanwhile, so no `&[u8]` of it
/// is ever made. `None` when the memory cannot be mapped for reading.
fn copy_memory(memory: &gst::MemoryRef) -> Option<Vec<u8>> {
    let mut info = std::mem::MaybeUninit::<gst::ffi::GstMapInfo>::zeroed();
    // SAFETY: `memory` is a live GstMemory (borrowed from the buffer we hold)
    // and `info` is writable storage for gst to fill.
    let mapped = unsafe {
        gst::ffi::gst_memory_map(
            memory.as_mut_ptr(),
            info.as_mut_ptr(),
            gst::ffi::GST_MAP_READ,
        )
    };
    if mapped == gst::glib::ffi::GFALSE {
        return None;
    }
    // SAFETY: gst_memory_map succeeded, so it filled `info`.
    let mut info = unsafe { info.assume_init() };
    let mut bytes = vec![0u8; info.size];
    // SAFETY: a successful read map makes `info.data` valid for `info.size`
    // bytes until the unmap below; `bytes` is ours, so they do not overlap.
    unsafe { zc_dmabuf::copy_from_shared(info.data, &mut bytes) };
    // SAFETY: the map made above, on the same memory, unmapped exactly once.
    unsafe { gst::ffi::gst_memory_unmap(memory.as_mut_ptr(), &mut info) };
    Some(bytes)
}
