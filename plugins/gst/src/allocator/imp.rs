use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::subclass::prelude::*;
use gst_allocators::prelude::*;
use gst_allocators::subclass::prelude::*;
use zc_dmabuf::alloc;
use zc_dmabuf::{AllocatorOptions, Backend, BackendChoice, DmaBuf, FrameRequest};

use super::AllocatedFrame;
use crate::lock;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "zcdmabuf",
        gst::DebugColorFlags::empty(),
        Some("zc dma-buf allocator"),
    )
});

/// Name prefix of the plain fd allocator that wraps memfd memory.
pub(super) const MEMFD_WRAPPER_PREFIX: &str = "zcmemfd";

/// The `backend` property.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstZcBackend")]
pub enum BackendSetting {
    #[default]
    #[enum_value(
        name = "Auto: $ZC_BACKEND if set, else the first of heap, udmabuf, gbm, memfd that works",
        nick = "auto"
    )]
    Auto,
    #[enum_value(name = "DMA heap (/dev/dma_heap/<heap-name>)", nick = "heap")]
    Heap,
    #[enum_value(name = "udmabuf (/dev/udmabuf over sealed memfds)", nick = "udmabuf")]
    Udmabuf,
    #[enum_value(
        name = "GBM on a DRM node (the GPU driver's layouts and modifiers)",
        nick = "gbm"
    )]
    Gbm,
    #[enum_value(
        name = "memfd: shared memory, not a dma-buf (wl_shm, last resort)",
        nick = "memfd"
    )]
    Memfd,
}

impl BackendSetting {
    fn choice(self) -> Result<BackendChoice, zc_dmabuf::Error> {
        Ok(match self {
            BackendSetting::Auto => BackendChoice::from_env()?,
            BackendSetting::Heap => BackendChoice::Only(Backend::Heap),
            BackendSetting::Udmabuf => BackendChoice::Only(Backend::Udmabuf),
            BackendSetting::Gbm => BackendChoice::Only(Backend::Gbm),
            BackendSetting::Memfd => BackendChoice::Only(Backend::Memfd),
        })
    }
}

#[derive(Debug, Clone)]
struct Settings {
    backend: BackendSetting,
    heap_name: String,
    drm_node: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            backend: BackendSetting::Auto,
            heap_name: "system".to_owned(),
            drm_node: None,
        }
    }
}

/// The opened backend; re-opened when a property changes.
struct State {
    backend: Box<dyn alloc::Allocator>,
    /// memfd memory is wrapped by a plain fd allocator, so it is never taken
    /// for a dma-buf (our own class is a GstDmaBufAllocator).
    memfd_wrapper: gst_allocators::FdAllocator,
}

#[derive(Default)]
pub struct ZcDmaBufAllocator {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

impl ZcDmaBufAllocator {
    fn with_state<R>(
        &self,
        f: impl FnOnce(&State) -> Result<R, zc_dmabuf::Error>,
    ) -> Result<R, zc_dmabuf::Error> {
        let mut state = lock(&self.state);
        let opened = match state.take() {
            Some(opened) => opened,
            None => self.open_backend()?,
        };
        f(state.insert(opened))
    }

    /// Open the backend the settings ask for.
    fn open_backend(&self) -> Result<State, zc_dmabuf::Error> {
        let settings = lock(&self.settings).clone();
        let options = AllocatorOptions {
            heap_name: settings.heap_name.clone(),
            drm_node: settings.drm_node.as_ref().map(Into::into),
        };
        let choice = settings.backend.choice()?;
        let backend = alloc::open(choice, &options)?;
        gst::info!(
            CAT,
            imp = self,
            "using backend {} ({}), asked for {}",
            backend.backend(),
            backend.device(),
            choice
        );
        let memfd_wrapper: gst_allocators::FdAllocator = glib::Object::builder()
            .property(
                "name",
                format!("{MEMFD_WRAPPER_PREFIX}-{}", self.obj().name()),
            )
            .build();
        Ok(State {
            backend,
            memfd_wrapper,
        })
    }

    pub(super) fn backend(&self) -> Result<Backend, zc_dmabuf::Error> {
        self.with_state(|state| Ok(state.backend.backend()))
    }

    pub(super) fn device(&self) -> Result<String, zc_dmabuf::Error> {
        self.with_state(|state| Ok(state.backend.device()))
    }

    /// Turn a buffer into a GstMemory that owns its fd (GStreamer closes it).
    fn wrap(&self, state: &State, buffer: DmaBuf) -> Result<gst::Memory, zc_dmabuf::Error> {
        let size = usize::try_from(buffer.size()).map_err(|_| zc_dmabuf::Error::Unsupported {
            backend: state.backend.backend(),
            what: "buffer larger than the address space".to_owned(),
        })?;
        let is_dma_buf = buffer.is_dma_buf();
        let fd = buffer.into_fd();
        // KEEP_MAPPED: one mmap per buffer for its whole life (zc's rule), and
        // what lets a decoder write through a read lock (see pool::meta_map).
        let flags = gst_allocators::FdMemoryFlags::KEEP_MAPPED;
        let raw = std::os::fd::IntoRawFd::into_raw_fd(fd);
        let wrapped = if is_dma_buf {
            // SAFETY: `raw` is a dma-buf fd we own and give up here; the new
            // memory takes ownership of it and closes it when freed.
            unsafe { self.obj().alloc_dmabuf_with_flags(raw, size, flags) }
        } else {
            // SAFETY: `raw` is a memfd we own and give up here; the memory
            // closes it when freed (no DONT_CLOSE flag).
            unsafe { state.memfd_wrapper.alloc_fd(raw, size, flags) }
        };
        let mut memory = wrapped.map_err(|err| zc_dmabuf::Error::Unsupported {
            backend: state.backend.backend(),
            what: format!("wrapping the fd in a GstMemory failed: {err}"),
        })?;
        // Map read-write once now; later maps of any direction reuse it.
        if let Some(memory) = memory.get_mut() {
            let writable = memory.map_writable().is_ok();
            if !writable {
                gst::warning!(
                    CAT,
                    imp = self,
                    "cannot map new memory read-write (a read-only buffer?); it is flagged \
                     read-only and mapped for reading on demand"
                );
                // SAFETY: `memory` is a fresh GstMemory we hold exclusively
                // (get_mut succeeded); setting a flag bit is a plain write.
                // READONLY makes GStreamer (and pool::meta_map) refuse WRITE
                // maps instead of handing a writer a read-only mapping.
                unsafe {
                    (*memory.as_mut_ptr()).mini_object.flags |= gst::ffi::GST_MEMORY_FLAG_READONLY;
                }
            }
        }
        Ok(memory)
    }

    pub(super) fn allocate_frame(
        &self,
        request: &FrameRequest,
    ) -> Result<AllocatedFrame, zc_dmabuf::Error> {
        self.with_state(|state| {
            let frame = state.backend.allocate(request)?;
            let memories = frame
                .buffers
                .into_iter()
                .map(|buffer| self.wrap(state, buffer))
                .collect::<Result<Vec<_>, _>>()?;
            gst::trace!(CAT, imp = self, "allocated {:?}", frame.layout);
            Ok(AllocatedFrame {
                layout: frame.layout,
                memories,
            })
        })
    }
}

#[glib::object_subclass]
impl ObjectSubclass for ZcDmaBufAllocator {
    const NAME: &'static str = "GstZcDmaBufAllocator";
    type Type = super::ZcDmaBufAllocator;
    type ParentType = gst_allocators::DmaBufAllocator;
}

impl ObjectImpl for ZcDmaBufAllocator {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecEnum::builder::<BackendSetting>("backend")
                    .nick("Backend")
                    .blurb("Where dma-buf memory comes from; `auto` honours $ZC_BACKEND, then tries heap, udmabuf, gbm and memfd in that order")
                    .build(),
                glib::ParamSpecString::builder("heap-name")
                    .nick("Heap name")
                    .blurb("DMA heap under /dev/dma_heap for the heap backend, e.g. `system` or `linux,cma` for physically contiguous memory")
                    .default_value(Some("system"))
                    .build(),
                glib::ParamSpecString::builder("drm-node")
                    .nick("DRM node")
                    .blurb("DRM device for the gbm backend, e.g. /dev/dri/renderD128; unset searches /dev/dri, render nodes first")
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = lock(&self.settings);
        match pspec.name() {
            "backend" => settings.backend = value.get().unwrap_or_default(),
            "heap-name" => {
                settings.heap_name = value
                    .get::<Option<String>>()
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| "system".to_owned())
            }
            "drm-node" => {
                settings.drm_node = value
                    .get::<Option<String>>()
                    .ok()
                    .flatten()
                    .filter(|s| !s.is_empty())
            }
            other => gst::warning!(CAT, imp = self, "no property {other}"),
        }
        gst::debug!(
            CAT,
            imp = self,
            "settings now {settings:?}; the backend re-opens on the next allocation"
        );
        drop(settings);
        *lock(&self.state) = None;
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = lock(&self.settings);
        match pspec.name() {
            "backend" => settings.backend.to_value(),
            "heap-name" => settings.heap_name.to_value(),
            "drm-node" => settings.drm_node.to_value(),
            _ => glib::Value::from_type(pspec.value_type()),
        }
    }
}

impl GstObjectImpl for ZcDmaBufAllocator {}

// SAFETY: `alloc` returns either null or a new GstMemory (full ownership)
// made by gst_dmabuf_allocator_alloc / gst_fd_allocator_alloc, and `free` is
// left to the parent class (GstFdAllocator closes the fd), matching what the
// GstAllocator vfuncs require.
unsafe impl AllocatorImpl for ZcDmaBufAllocator {
    unsafe fn alloc(
        &self,
        size: usize,
        params: &gst::AllocationParams,
    ) -> *mut gst::ffi::GstMemory {
        let (prefix, padding) = (params.prefix(), params.padding());
        let Some(total) = size
            .checked_add(prefix)
            .and_then(|s| s.checked_add(padding))
        else {
            gst::error!(
                CAT,
                imp = self,
                "{size} + {prefix} + {padding} bytes overflows"
            );
            return std::ptr::null_mut();
        };
        let name = format!("zc {size} bytes");
        let memory = self.with_state(|state| {
            let buffer = state.backend.allocate_bytes(total as u64, &name)?;
            self.wrap(state, buffer)
        });
        match memory {
            Ok(mut memory) => {
                // The buffer is page-rounded: show exactly what was asked for,
                // after the prefix, with the padding (and rounding) behind it.
                memory.make_mut().resize(prefix..prefix + size);
                glib::translate::IntoGlibPtr::into_glib_ptr(memory)
            }
            Err(err) => {
                gst::error!(CAT, imp = self, "allocating {total} bytes: {err}");
                std::ptr::null_mut()
            }
        }
    }
}

impl FdAllocatorImpl for ZcDmaBufAllocator {}
impl DmaBufAllocatorImpl for ZcDmaBufAllocator {}
