//! The SMPTE bars of `videotestsrc pattern=smpte` as a known picture: a CPU
//! reference, and a comparison with a compositor's screenshot.

use gst::prelude::*;
use gst_video::prelude::*;

use crate::weston::Screenshot;

/// The pattern as the CPU converts it: `videotestsrc` in `format`, then
/// `videoconvert` to packed RGB. A compositor's conversion is compared to it.
pub fn reference_rgb(format: &str, width: u32, height: u32) -> Vec<u8> {
    reference_rgb_of("smpte", format, width, height)
}

/// [`reference_rgb`] of another `videotestsrc` pattern with the same bars
/// (`smpte75`: 75% colours, which show a wrong range where 100% ones clip).
pub fn reference_rgb_of(pattern: &str, format: &str, width: u32, height: u32) -> Vec<u8> {
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=1 pattern={pattern} ! video/x-raw,format={format},width={width},height={height} \
         ! videoconvert ! video/x-raw,format=RGB,width={width},height={height} ! appsink name=out"
    ))
    .expect("reference pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let sink = pipeline
        .by_name("out")
        .expect("appsink")
        .downcast::<gst_app::AppSink>()
        .expect("appsink");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let sample = sink.pull_sample().expect("reference frame");
    let buffer = sample.buffer().expect("buffer");
    let info = gst_video::VideoInfo::from_caps(sample.caps().expect("caps")).expect("video info");
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).expect("map");
    let stride = frame.plane_stride()[0] as usize;
    let data = frame.plane_data(0).expect("plane");
    let row = width as usize * 3;
    let rgb = (0..height as usize)
        .flat_map(|y| data[y * stride..y * stride + row].to_vec())
        .collect();
    drop(frame);
    pipeline.set_state(gst::State::Null).expect("null");
    rgb
}

/// Points (in video coordinates) inside flat areas of the pattern: the
/// centre of each of the seven bars, and of each strip below them, away from
/// edges where chroma subsampling and scaling blend colours.
pub fn sample_points(width: u32, height: u32) -> Vec<(u32, u32)> {
    let bar = width / 7;
    (0..7)
        .flat_map(|i| {
            [
                (i * bar + bar / 2, height / 3),
                (i * bar + bar / 2, height * 71 / 100),
            ]
        })
        .collect()
}

/// Where the video should appear in the screenshot: (x, y, width, height).
pub type Placement = (u32, u32, u32, u32);

/// Compare the screenshot, where the `width`x`height` video in `format` is
/// shown at `placement`, with the CPU reference at every sample point.
pub fn check_pattern(
    shot: &Screenshot,
    format: &str,
    width: u32,
    height: u32,
    placement: Placement,
    tolerance: u8,
) {
    let wrong = pattern_mismatches(shot, format, width, height, placement, tolerance);
    assert!(
        wrong.is_empty(),
        "{format}: screenshot {} differs from the pattern (tolerance {tolerance}):\n{}",
        shot.path.display(),
        wrong.join("\n")
    );
}

/// The sample points where the screenshot differs from the pattern shown at
/// `placement` (empty: it is there), described for a failure message.
pub fn pattern_mismatches(
    shot: &Screenshot,
    format: &str,
    width: u32,
    height: u32,
    placement: Placement,
    tolerance: u8,
) -> Vec<String> {
    let reference = reference_rgb(format, width, height);
    mismatches(shot, &reference, width, height, placement, tolerance)
}

/// Where the pattern appears unscaled (`width`x`height`) in the screenshot:
/// its top-left corner, searched over every position; None if nowhere.
pub fn find_pattern(
    shot: &Screenshot,
    format: &str,
    width: u32,
    height: u32,
    tolerance: u8,
) -> Option<(u32, u32)> {
    let reference = reference_rgb(format, width, height);
    let positions = (0..=shot.height.checked_sub(height)?)
        .flat_map(|y| (0..=shot.width - width).map(move |x| (x, y)));
    for (x, y) in positions.collect::<Vec<_>>() {
        if mismatches(
            shot,
            &reference,
            width,
            height,
            (x, y, width, height),
            tolerance,
        )
        .is_empty()
        {
            return Some((x, y));
        }
    }
    None
}

fn mismatches(
    shot: &Screenshot,
    reference: &[u8],
    width: u32,
    height: u32,
    (px, py, pw, ph): Placement,
    tolerance: u8,
) -> Vec<String> {
    let mut wrong = Vec::new();
    for (x, y) in sample_points(width, height) {
        let i = (y * width + x) as usize * 3;
        let expected = [reference[i], reference[i + 1], reference[i + 2]];
        let (sx, sy) = (px + x * pw / width, py + y * ph / height);
        let seen = shot.pixel(sx, sy);
        if seen
            .iter()
            .zip(expected)
            .any(|(s, e)| s.abs_diff(e) > tolerance)
        {
            wrong.push(format!(
                "video ({x},{y}) at screen ({sx},{sy}): saw {seen:?}, expected {expected:?}"
            ));
        }
    }
    wrong
}
