//! Minimal V4L2 capture (single-planar, MMAP buffers): just enough to get real
//! frames out of vivid and export its buffers as dma-bufs (`VIDIOC_EXPBUF`).
//!
//! Raw ioctls over `#[repr(C)]` copies of the linux/videodev2.h structs, laid
//! out for x86-64 (the VM's architecture); the size asserts below pin them.

use std::ffi::c_ulong;
use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::ptr::NonNull;
use std::time::Duration;

use rustix::ioctl::opcode;

/// `V4L2_PIX_FMT_YUYV`: packed 4:2:2, Y0 U Y1 V. vivid supports it on every input.
pub const PIX_FMT_YUYV: u32 = u32::from_le_bytes(*b"YUYV");

/// How long `dequeue` waits for a frame before calling the device broken.
pub const DEQUEUE_TIMEOUT: Duration = Duration::from_secs(10);

const BUF_TYPE_VIDEO_CAPTURE: u32 = 1;
const MEMORY_MMAP: u32 = 1;
const FIELD_NONE: u32 = 1;
const CAP_VIDEO_CAPTURE: u32 = 0x0000_0001;
const CAP_STREAMING: u32 = 0x0400_0000;
const CAP_DEVICE_CAPS: u32 = 0x8000_0000;

// ---- linux/videodev2.h ----

// Full UAPI layouts: every field is kept, whether this file reads it or not.
#[allow(dead_code)]
mod uapi {
    #[repr(C)]
    pub struct V4l2Capability {
        pub driver: [u8; 16],
        pub card: [u8; 32],
        pub bus_info: [u8; 32],
        pub version: u32,
        pub capabilities: u32,
        pub device_caps: u32,
        pub reserved: [u32; 3],
    }

    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct V4l2PixFormat {
        pub width: u32,
        pub height: u32,
        pub pixelformat: u32,
        pub field: u32,
        pub bytesperline: u32,
        pub sizeimage: u32,
        pub colorspace: u32,
        pub priv_: u32,
        pub flags: u32,
        pub ycbcr_enc: u32,
        pub quantization: u32,
        pub xfer_func: u32,
    }

    /// The `fmt` union; `v4l2_window` holds pointers, so it is 8-byte aligned
    /// and `fmt` starts at offset 8.
    #[repr(C)]
    pub union V4l2FormatUnion {
        pub pix: V4l2PixFormat,
        pub raw_data: [u8; 200],
        pub _align: [u64; 25],
    }

    #[repr(C)]
    pub struct V4l2Format {
        pub type_: u32,
        pub fmt: V4l2FormatUnion,
    }

    #[repr(C)]
    pub struct V4l2RequestBuffers {
        pub count: u32,
        pub type_: u32,
        pub memory: u32,
        pub capabilities: u32,
        pub flags: u8,
        pub reserved: [u8; 3],
    }

    #[repr(C)]
    pub struct V4l2Timecode {
        pub type_: u32,
        pub flags: u32,
        pub frames: u8,
        pub seconds: u8,
        pub minutes: u8,
        pub hours: u8,
        pub userbits: [u8; 4],
    }

    #[repr(C)]
    pub struct V4l2Buffer {
        pub index: u32,
        pub type_: u32,
        pub bytesused: u32,
        pub flags: u32,
        pub field: u32,
        pub timestamp: libc::timeval,
        pub timecode: V4l2Timecode,
        pub sequence: u32,
        pub memory: u32,
        /// `union { __u32 offset; unsigned long userptr; struct v4l2_plane *planes; __s32 fd; }`:
        /// for MMAP the offset is its low 32 bits (x86-64 is little-endian).
        pub m: u64,
        pub length: u32,
        pub reserved2: u32,
        pub request_fd: i32,
    }

    #[repr(C)]
    pub struct V4l2ExportBuffer {
        pub type_: u32,
        pub index: u32,
        pub plane: u32,
        pub flags: u32,
        pub fd: i32,
        pub reserved: [u32; 11],
    }
}
use uapi::*;

const _: () = assert!(size_of::<V4l2Capability>() == 104);
const _: () = assert!(size_of::<V4l2PixFormat>() == 48);
const _: () = assert!(size_of::<V4l2Format>() == 208);
const _: () = assert!(size_of::<V4l2RequestBuffers>() == 20);
const _: () = assert!(size_of::<V4l2Buffer>() == 88);
const _: () = assert!(size_of::<V4l2ExportBuffer>() == 64);

// ---- ioctl numbers (asm-generic/ioctl.h, encoded by rustix) ----

const fn ior<T>(nr: u8) -> c_ulong {
    opcode::read::<T>(b'V', nr) as c_ulong
}
const fn iow<T>(nr: u8) -> c_ulong {
    opcode::write::<T>(b'V', nr) as c_ulong
}
const fn iowr<T>(nr: u8) -> c_ulong {
    opcode::read_write::<T>(b'V', nr) as c_ulong
}

const VIDIOC_QUERYCAP: c_ulong = ior::<V4l2Capability>(0);
const VIDIOC_S_FMT: c_ulong = iowr::<V4l2Format>(5);
const VIDIOC_REQBUFS: c_ulong = iowr::<V4l2RequestBuffers>(8);
const VIDIOC_QUERYBUF: c_ulong = iowr::<V4l2Buffer>(9);
const VIDIOC_QBUF: c_ulong = iowr::<V4l2Buffer>(15);
const VIDIOC_EXPBUF: c_ulong = iowr::<V4l2ExportBuffer>(16);
const VIDIOC_DQBUF: c_ulong = iowr::<V4l2Buffer>(17);
const VIDIOC_STREAMON: c_ulong = iow::<i32>(18);
const VIDIOC_STREAMOFF: c_ulong = iow::<i32>(19);

const _: () = assert!(VIDIOC_QUERYCAP == 0x8068_5600);
const _: () = assert!(VIDIOC_S_FMT == 0xc0d0_5605);
const _: () = assert!(VIDIOC_DQBUF == 0xc058_5611);

/// An all-zero UAPI struct: what the kernel expects in reserved fields.
///
/// # Safety
/// `T` must be plain old data for which all-zero bytes are a valid value.
unsafe fn zeroed<T>() -> T {
    // SAFETY: guaranteed by the caller.
    unsafe { std::mem::zeroed() }
}

/// `ioctl(fd, request, arg)`, retried on EINTR.
///
/// # Safety
/// `request` must read and/or write exactly one `T` through its argument.
unsafe fn ioctl<T>(fd: BorrowedFd<'_>, request: c_ulong, arg: &mut T) -> io::Result<()> {
    loop {
        // SAFETY: the caller guarantees `request` takes a `*mut T`; `arg` is
        // live and exclusively borrowed for the call.
        if unsafe { libc::ioctl(fd.as_raw_fd(), request, arg as *mut T) } >= 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}

fn context(err: io::Error, what: &str) -> io::Error {
    io::Error::new(err.kind(), format!("{what}: {err}"))
}

/// One V4L2 capture device with MMAP buffers.
pub struct Capture {
    fd: OwnedFd,
    /// The format the driver actually set.
    pub width: u32,
    pub height: u32,
    pub pixelformat: u32,
    pub bytesperline: u32,
    pub sizeimage: u32,
    buffers: u32,
}

impl Capture {
    /// Open `path`, check it can capture by streaming, and set a progressive
    /// `width`x`height` format of `fourcc` (the driver may adjust the size:
    /// read the pub fields).
    pub fn open(path: &Path, width: u32, height: u32, fourcc: u32) -> io::Result<Self> {
        // Non-blocking: `dequeue` polls with a timeout instead of hanging.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| context(e, &format!("open {}", path.display())))?;
        let fd = OwnedFd::from(file);

        // SAFETY: v4l2_capability is plain data.
        let mut cap: V4l2Capability = unsafe { zeroed() };
        // SAFETY: VIDIOC_QUERYCAP writes one v4l2_capability.
        unsafe { ioctl(fd.as_fd(), VIDIOC_QUERYCAP, &mut cap) }
            .map_err(|e| context(e, "VIDIOC_QUERYCAP"))?;
        let caps = if cap.capabilities & CAP_DEVICE_CAPS != 0 {
            cap.device_caps
        } else {
            cap.capabilities
        };
        if caps & (CAP_VIDEO_CAPTURE | CAP_STREAMING) != CAP_VIDEO_CAPTURE | CAP_STREAMING {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "{} is not a streaming video capture device (caps {caps:#x})",
                    path.display()
                ),
            ));
        }

        // SAFETY: v4l2_format is plain data.
        let mut format: V4l2Format = unsafe { zeroed() };
        format.type_ = BUF_TYPE_VIDEO_CAPTURE;
        format.fmt.pix = V4l2PixFormat {
            width,
            height,
            pixelformat: fourcc,
            field: FIELD_NONE,
            // SAFETY: v4l2_pix_format is plain data.
            ..unsafe { zeroed() }
        };
        // SAFETY: VIDIOC_S_FMT reads and writes one v4l2_format.
        unsafe { ioctl(fd.as_fd(), VIDIOC_S_FMT, &mut format) }
            .map_err(|e| context(e, "VIDIOC_S_FMT"))?;
        // SAFETY: for BUF_TYPE_VIDEO_CAPTURE the kernel fills the `pix` member.
        let pix = unsafe { format.fmt.pix };
        if pix.pixelformat != fourcc || pix.field != FIELD_NONE {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "{} set pixelformat {:?} field {} instead of {:?} progressive",
                    path.display(),
                    pix.pixelformat.to_le_bytes().map(char::from),
                    pix.field,
                    fourcc.to_le_bytes().map(char::from),
                ),
            ));
        }
        Ok(Self {
            fd,
            width: pix.width,
            height: pix.height,
            pixelformat: pix.pixelformat,
            bytesperline: pix.bytesperline,
            sizeimage: pix.sizeimage,
            buffers: 0,
        })
    }

    fn request_buffers(&self, count: u32) -> io::Result<u32> {
        let mut req = V4l2RequestBuffers {
            count,
            type_: BUF_TYPE_VIDEO_CAPTURE,
            memory: MEMORY_MMAP,
            capabilities: 0,
            flags: 0,
            reserved: [0; 3],
        };
        // SAFETY: VIDIOC_REQBUFS reads and writes one v4l2_requestbuffers.
        unsafe { ioctl(self.fd.as_fd(), VIDIOC_REQBUFS, &mut req) }
            .map_err(|e| context(e, "VIDIOC_REQBUFS"))?;
        Ok(req.count)
    }

    /// Allocate `count` MMAP buffers; returns how many the driver gave.
    pub fn request_mmap_buffers(&mut self, count: u32) -> io::Result<u32> {
        self.buffers = self.request_buffers(count)?;
        Ok(self.buffers)
    }

    /// Export buffer `index` as a dma-buf fd (`VIDIOC_EXPBUF`, read-only, close-on-exec).
    pub fn export(&self, index: u32) -> io::Result<OwnedFd> {
        self.export_with(index, libc::O_RDONLY)
    }

    /// Export buffer `index` with `access` (`O_RDONLY` or `O_RDWR`), close-on-exec.
    pub fn export_with(&self, index: u32, access: libc::c_int) -> io::Result<OwnedFd> {
        let mut exp = V4l2ExportBuffer {
            type_: BUF_TYPE_VIDEO_CAPTURE,
            index,
            plane: 0,
            flags: (access | libc::O_CLOEXEC) as u32,
            fd: -1,
            reserved: [0; 11],
        };
        // SAFETY: VIDIOC_EXPBUF reads and writes one v4l2_exportbuffer.
        unsafe { ioctl(self.fd.as_fd(), VIDIOC_EXPBUF, &mut exp) }
            .map_err(|e| context(e, "VIDIOC_EXPBUF"))?;
        // SAFETY: on success the kernel installed a new fd that only we own.
        Ok(unsafe { OwnedFd::from_raw_fd(exp.fd) })
    }

    fn buffer(&self, index: u32) -> V4l2Buffer {
        // SAFETY: v4l2_buffer is plain data.
        let mut buf: V4l2Buffer = unsafe { zeroed() };
        buf.index = index;
        buf.type_ = BUF_TYPE_VIDEO_CAPTURE;
        buf.memory = MEMORY_MMAP;
        buf
    }

    /// Map buffer `index` through the video fd (`VIDIOC_QUERYBUF` + mmap at
    /// its offset): the classic V4L2 path, independent of the dma-buf.
    pub fn map(&self, index: u32) -> io::Result<MmapView> {
        let mut buf = self.buffer(index);
        // SAFETY: VIDIOC_QUERYBUF reads and writes one v4l2_buffer.
        unsafe { ioctl(self.fd.as_fd(), VIDIOC_QUERYBUF, &mut buf) }
            .map_err(|e| context(e, "VIDIOC_QUERYBUF"))?;
        let len = buf.length as usize;
        let offset = buf.m as u32 as libc::off_t;
        // SAFETY: a fresh read-only shared mapping placed by the kernel; it
        // aliases no Rust object and the fd only needs to live for the call.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                self.fd.as_raw_fd(),
                offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(context(io::Error::last_os_error(), "mmap of a V4L2 buffer"));
        }
        let ptr = NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("mmap returned NULL"))?;
        Ok(MmapView { ptr, len })
    }

    /// Hand buffer `index` to the driver to fill.
    pub fn queue(&self, index: u32) -> io::Result<()> {
        let mut buf = self.buffer(index);
        // SAFETY: VIDIOC_QBUF reads and writes one v4l2_buffer.
        unsafe { ioctl(self.fd.as_fd(), VIDIOC_QBUF, &mut buf) }
            .map_err(|e| context(e, "VIDIOC_QBUF"))
    }

    fn stream(&self, request: c_ulong, what: &str) -> io::Result<()> {
        let mut type_ = BUF_TYPE_VIDEO_CAPTURE as i32;
        // SAFETY: VIDIOC_STREAMON/OFF read one int (the buffer type).
        unsafe { ioctl(self.fd.as_fd(), request, &mut type_) }.map_err(|e| context(e, what))
    }

    pub fn stream_on(&self) -> io::Result<()> {
        self.stream(VIDIOC_STREAMON, "VIDIOC_STREAMON")
    }

    pub fn stream_off(&self) -> io::Result<()> {
        self.stream(VIDIOC_STREAMOFF, "VIDIOC_STREAMOFF")
    }

    /// Wait (at most [`DEQUEUE_TIMEOUT`]) for a filled buffer and take it back:
    /// `(index, bytesused, sequence)`.
    pub fn dequeue(&self) -> io::Result<(u32, u32, u32)> {
        loop {
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            let ready = unsafe { libc::poll(&mut pfd, 1, DEQUEUE_TIMEOUT.as_millis() as i32) };
            if ready < 0 {
                let err = io::Error::last_os_error();
                if err.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(context(err, "poll on the video device"));
            }
            if ready == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "no frame within {DEQUEUE_TIMEOUT:?}: is the device streaming with buffers queued?"
                    ),
                ));
            }
            let mut buf = self.buffer(0);
            // SAFETY: VIDIOC_DQBUF reads and writes one v4l2_buffer.
            match unsafe { ioctl(self.fd.as_fd(), VIDIOC_DQBUF, &mut buf) } {
                Ok(()) => return Ok((buf.index, buf.bytesused, buf.sequence)),
                Err(err) if err.raw_os_error() == Some(libc::EAGAIN) => continue,
                Err(err) => return Err(context(err, "VIDIOC_DQBUF")),
            }
        }
    }
}

impl AsFd for Capture {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for Capture {
    /// Best effort: stop streaming and free the buffers (vb2 orphans any that
    /// are still exported or mapped), then the fd closes.
    fn drop(&mut self) {
        if self.buffers > 0 {
            let _ = self.stream_off();
            let _ = self.request_buffers(0);
        }
    }
}

/// A read-only mapping of one V4L2 buffer; unmapped on drop. It stays valid
/// after the `Capture` is gone (the mapping holds the buffer). Read it only
/// while the buffer is dequeued: the device writes it while it is queued.
pub struct MmapView {
    ptr: NonNull<u8>,
    len: usize,
}

impl std::ops::Deref for MmapView {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` is a live mapping of `len` readable bytes until drop,
        // and this process never writes it (PROT_READ).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for MmapView {
    fn drop(&mut self) {
        // SAFETY: exactly the range mmap returned; every slice borrowed from
        // this view has ended, since it borrows `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}
