//! GBM on a DRM node: buffers laid out by the GPU driver itself, with the
//! modifiers it prefers. libgbm is loaded at run time, so zc builds and runs
//! on machines without it and says so when this backend is asked for.

use std::ffi::c_int;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::{Allocator, Backend, Frame, FrameRequest, name_buffer, open_device};
use crate::dmabuf::{BufferKind, DmaBuf};
use crate::error::{Error, Result};
use crate::layout::{Fourcc, FrameLayout, Modifier, PlaneLayout};
use crate::sys;

const GBM_BO_USE_RENDERING: u32 = 1 << 2;
const GBM_BO_USE_LINEAR: u32 = 1 << 4;

#[repr(C)]
struct GbmDevice {
    _opaque: [u8; 0],
}
#[repr(C)]
struct GbmBo {
    _opaque: [u8; 0],
}

/// The libgbm entry points zc uses (all present since Mesa 21.3).
struct GbmApi {
    create_device: unsafe extern "C" fn(c_int) -> *mut GbmDevice,
    device_destroy: unsafe extern "C" fn(*mut GbmDevice),
    bo_create: unsafe extern "C" fn(*mut GbmDevice, u32, u32, u32, u32) -> *mut GbmBo,
    bo_create_with_modifiers2:
        unsafe extern "C" fn(*mut GbmDevice, u32, u32, u32, *const u64, u32, u32) -> *mut GbmBo,
    bo_destroy: unsafe extern "C" fn(*mut GbmBo),
    bo_get_fd: unsafe extern "C" fn(*mut GbmBo) -> c_int,
    /// Returns `union gbm_bo_handle`, 8 bytes; the GEM handle is its u32.
    bo_get_handle: unsafe extern "C" fn(*mut GbmBo) -> u64,
    bo_get_plane_count: unsafe extern "C" fn(*mut GbmBo) -> c_int,
    bo_get_stride_for_plane: unsafe extern "C" fn(*mut GbmBo, c_int) -> u32,
    bo_get_offset: unsafe extern "C" fn(*mut GbmBo, c_int) -> u32,
    bo_get_modifier: unsafe extern "C" fn(*mut GbmBo) -> u64,
    /// Keeps the function pointers above valid.
    _library: libloading::Library,
}

impl GbmApi {
    fn load() -> Result<Self> {
        // SAFETY: loading libgbm runs its constructors, which have no
        // preconditions; the symbols below are declared with the C signatures
        // of gbm.h, and the library is kept alive in `_library`.
        unsafe {
            let library = libloading::Library::new("libgbm.so.1").map_err(|e| {
                Error::Gbm(format!("cannot load libgbm.so.1 ({e}): install libgbm1"))
            })?;
            macro_rules! symbol {
                ($name:literal) => {
                    *library.get($name).map_err(|e| {
                        Error::Gbm(format!(
                            "libgbm lacks {}: {e}",
                            String::from_utf8_lossy($name)
                        ))
                    })?
                };
            }
            Ok(Self {
                create_device: symbol!(b"gbm_create_device\0"),
                device_destroy: symbol!(b"gbm_device_destroy\0"),
                bo_create: symbol!(b"gbm_bo_create\0"),
                bo_create_with_modifiers2: symbol!(b"gbm_bo_create_with_modifiers2\0"),
                bo_destroy: symbol!(b"gbm_bo_destroy\0"),
                bo_get_fd: symbol!(b"gbm_bo_get_fd\0"),
                bo_get_handle: symbol!(b"gbm_bo_get_handle\0"),
                bo_get_plane_count: symbol!(b"gbm_bo_get_plane_count\0"),
                bo_get_stride_for_plane: symbol!(b"gbm_bo_get_stride_for_plane\0"),
                bo_get_offset: symbol!(b"gbm_bo_get_offset\0"),
                bo_get_modifier: symbol!(b"gbm_bo_get_modifier\0"),
                _library: library,
            })
        }
    }
}

/// Allocates through GBM on one DRM node.
pub struct GbmAllocator {
    api: GbmApi,
    device: *mut GbmDevice,
    /// The gbm_device borrows this fd; it is closed after the device is destroyed.
    drm_fd: OwnedFd,
    node: PathBuf,
}

// SAFETY: a gbm_device may be used from any thread; Mesa serialises bo
// creation internally, and zc never shares a gbm_bo (each is destroyed right
// after its dma-buf is exported).
unsafe impl Send for GbmAllocator {}
// SAFETY: as above.
unsafe impl Sync for GbmAllocator {}

impl std::fmt::Debug for GbmAllocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GbmAllocator")
            .field("node", &self.node)
            .field("drm_fd", &self.drm_fd.as_raw_fd())
            .finish()
    }
}

impl GbmAllocator {
    /// Open GBM on `node`, or on the first node under `/dev/dri` that can
    /// allocate (render nodes first: they need no DRM master).
    pub fn open(node: Option<&Path>) -> Result<Self> {
        if let Some(node) = node {
            return Self::open_node(node);
        }
        let mut candidates: Vec<PathBuf> = std::fs::read_dir("/dev/dri")
            .map(|entries| entries.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        candidates.retain(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("renderD") || n.starts_with("card"))
        });
        candidates.sort_by_key(|p| (!p.to_string_lossy().contains("renderD"), p.clone()));
        if candidates.is_empty() {
            return Err(Error::DeviceMissing {
                backend: Backend::Gbm,
                node: "/dev/dri".into(),
                hint: "no DRM device: load a GPU driver (or `modprobe vgem` for testing)"
                    .to_owned(),
            });
        }
        let mut reasons = Vec::new();
        for candidate in &candidates {
            match Self::open_node(candidate) {
                Ok(allocator) => return Ok(allocator),
                Err(err) => reasons.push(format!("{}: {err}", candidate.display())),
            }
        }
        Err(Error::Gbm(format!(
            "no DRM node could allocate: {}",
            reasons.join("; ")
        )))
    }

    fn open_node(node: &Path) -> Result<Self> {
        let api = GbmApi::load()?;
        let drm_fd = open_device(
            Backend::Gbm,
            node,
            true,
            "no such DRM node; see `ls /dev/dri`".to_owned(),
        )?;
        // SAFETY: gbm_create_device takes a DRM fd that must outlive the device;
        // `drm_fd` is stored beside it and dropped after gbm_device_destroy.
        let device = unsafe { (api.create_device)(drm_fd.as_raw_fd()) };
        if device.is_null() {
            return Err(Error::Gbm(format!(
                "gbm_create_device failed on {}",
                node.display()
            )));
        }
        let allocator = Self {
            api,
            device,
            drm_fd,
            node: node.to_owned(),
        };
        // A driver may open but not allocate (vgem's render node has no dumb
        // buffers): find out now, not on the first frame.
        allocator.allocate(&FrameRequest::new(Fourcc::XRGB8888, 64, 64))?;
        Ok(allocator)
    }

    pub fn node(&self) -> &Path {
        &self.node
    }
}

impl Drop for GbmAllocator {
    fn drop(&mut self) {
        // SAFETY: the device was created by gbm_create_device and no bo of it
        // is alive (each is destroyed right after export).
        unsafe { (self.api.device_destroy)(self.device) };
        // `drm_fd` closes after this, as a field: the device never outlives it.
    }
}

/// A gbm_bo destroyed on drop, so every early return releases it.
struct BoGuard<'a> {
    api: &'a GbmApi,
    bo: *mut GbmBo,
}

impl Drop for BoGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: `bo` came from gbm_bo_create* and is destroyed exactly once.
        // The exported dma-buf holds its own reference to the memory, so the
        // frame stays valid (the exporter side may go before the importer).
        unsafe { (self.api.bo_destroy)(self.bo) };
    }
}

impl Allocator for GbmAllocator {
    fn backend(&self) -> Backend {
        Backend::Gbm
    }

    fn device(&self) -> String {
        self.node.display().to_string()
    }

    fn allocate(&self, request: &FrameRequest) -> Result<Frame> {
        let linear_only = request.modifiers.is_empty() || request.modifiers == [Modifier::LINEAR];
        let bo = if linear_only {
            // SAFETY: device is valid; arguments are plain integers.
            unsafe {
                (self.api.bo_create)(
                    self.device,
                    request.width,
                    request.height,
                    request.fourcc.0,
                    GBM_BO_USE_RENDERING | GBM_BO_USE_LINEAR,
                )
            }
        } else {
            let modifiers: Vec<u64> = request.modifiers.iter().map(|m| m.0).collect();
            let count = u32::try_from(modifiers.len()).unwrap_or(u32::MAX);
            // SAFETY: `modifiers` holds `count` u64s and outlives the call.
            unsafe {
                (self.api.bo_create_with_modifiers2)(
                    self.device,
                    request.width,
                    request.height,
                    request.fourcc.0,
                    modifiers.as_ptr(),
                    count,
                    GBM_BO_USE_RENDERING,
                )
            }
        };
        if bo.is_null() {
            return Err(Error::Unsupported {
                backend: Backend::Gbm,
                what: format!(
                    "{} cannot allocate {} {}x{} (modifiers: {})",
                    self.node.display(),
                    request.fourcc,
                    request.width,
                    request.height,
                    if linear_only {
                        "LINEAR".to_owned()
                    } else {
                        format!("{:?}", request.modifiers)
                    }
                ),
            });
        }
        let bo = BoGuard { api: &self.api, bo };
        // SAFETY: `bo.bo` is a live bo of this device (all three calls).
        let (handle, plane_count, modifier) = unsafe {
            (
                (self.api.bo_get_handle)(bo.bo) as u32,
                (self.api.bo_get_plane_count)(bo.bo),
                (self.api.bo_get_modifier)(bo.bo),
            )
        };
        let fd = match sys::drm_prime_handle_to_fd(self.drm_fd.as_fd(), handle) {
            Ok(fd) => fd,
            Err(err) => {
                // Some drivers refuse DRM_RDWR: a read-only fd still serves devices.
                log::debug!(
                    "PRIME export with DRM_RDWR failed ({err}); falling back to gbm_bo_get_fd"
                );
                // SAFETY: `bo.bo` is a live bo of this device.
                let fd = unsafe { (self.api.bo_get_fd)(bo.bo) };
                if fd < 0 {
                    return Err(Error::Gbm(format!(
                        "gbm_bo_get_fd failed on {}",
                        self.node.display()
                    )));
                }
                // SAFETY: gbm_bo_get_fd returned a new dma-buf fd that we alone own.
                unsafe { OwnedFd::from_raw_fd(fd) }
            }
        };
        let planes: Vec<PlaneLayout> = (0..plane_count.clamp(0, 4))
            .map(|plane| {
                // SAFETY: `plane` is below the bo's plane count.
                let (stride, offset) = unsafe {
                    (
                        (self.api.bo_get_stride_for_plane)(bo.bo, plane),
                        (self.api.bo_get_offset)(bo.bo, plane),
                    )
                };
                PlaneLayout {
                    buffer: 0,
                    offset: u64::from(offset),
                    stride,
                }
            })
            .collect();
        drop(bo);
        let buffer = DmaBuf::wrap(
            fd,
            BufferKind::DmaBuf {
                exporter: "drm".to_owned(),
            },
        )?;
        name_buffer(&buffer, &request.buffer_name());
        let layout = FrameLayout::new(
            request.fourcc,
            Modifier(modifier),
            request.width,
            request.height,
            &planes,
            &[buffer.size()],
        )?;
        Ok(Frame {
            layout,
            buffers: vec![buffer],
        })
    }

    /// GBM only allocates images: a byte buffer is an XRGB8888 image 1024
    /// pixels (4 KiB) wide and as many rows tall as the size needs.
    fn allocate_bytes(&self, size: u64, name: &str) -> Result<DmaBuf> {
        const ROW_BYTES: u64 = 4096;
        let rows =
            u32::try_from(size.div_ceil(ROW_BYTES).max(1)).map_err(|_| Error::Unsupported {
                backend: Backend::Gbm,
                what: format!("{size} bytes is too large for one GBM buffer"),
            })?;
        let mut frame = self.allocate(&FrameRequest::new(
            Fourcc::XRGB8888,
            (ROW_BYTES / 4) as u32,
            rows,
        ))?;
        let buffer = frame.buffers.remove(0);
        name_buffer(&buffer, name);
        Ok(buffer)
    }
}
