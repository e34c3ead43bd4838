//! The clip most player tests play: SMPTE bars (with their moving noise
//! corner), H.264 in Matroska, in the colorimetry YUV pictures are tested
//! in, and the tolerance its pictures are checked with.

use std::path::{Path, PathBuf};

use crate::player::encode;
use crate::weston::yuv_test_colorimetry;

pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 480;
/// Frames per keyframe interval: one GOP is one second at 30 fps.
pub const GOP: u32 = 30;
pub const FRAMES: u32 = 150;
/// Colour tolerance at the bar centres: x264 at its default quality keeps
/// flat areas within a few levels, and the compositor's YUV->RGB differs
/// from videoconvert's by a few more; 24 still tells every bar from its
/// neighbours (they differ by 60 or more in some channel).
pub const TOLERANCE: u8 = 24;

/// The clip's raw format, in the colorimetry YUV pictures are tested in
/// (`yuv_test_colorimetry`: the clip's VUI says it, the sink states it where
/// the compositor can be told; the reference picture uses it too).
pub fn format() -> String {
    format!("I420,colorimetry={}", yuv_test_colorimetry())
}

/// The clip, written into `dir`.
pub fn make(dir: &Path) -> PathBuf {
    make_as(dir, &format(), WIDTH, HEIGHT, FRAMES)
}

/// An H.264 clip of SMPTE bars in `format` (x264 picks the profile that
/// keeps it: High 10, High 4:2:2, High 4:4:4).
pub fn make_as(dir: &Path, format: &str, width: u32, height: u32, frames: u32) -> PathBuf {
    let name = format.split(',').next().unwrap_or(format);
    let path = dir.join(format!("smpte-{name}-{width}x{height}.mkv"));
    encode(&format!(
        "videotestsrc num-buffers={frames} pattern=smpte ! video/x-raw,format={format},width={width},height={height},framerate=30/1 \
         ! x264enc speed-preset=ultrafast key-int-max={GOP} ! h264parse ! matroskamux ! filesink location={}",
        path.display()
    ));
    path
}
