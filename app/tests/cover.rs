//! Cover art decoding (zc_app::player::cover) natively: PNG and JPEG
//! pictures as encoded by GStreamer decode to their pixels; garbage and
//! pictures too large to show are errors, not pictures.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gst::prelude::*;
use zc_app::player::cover::{CoverError, Picture};

/// An 8x4 picture, red on the left half and blue on the right, encoded
/// by GStreamer's `encoder` (pngenc, jpegenc).
fn encoded(encoder: &str, caps: &str) -> gst::Sample {
    encoded_at(encoder, caps, 4, 4)
}

/// [`encoded`], each half `width` x `height`.
fn encoded_at(encoder: &str, caps: &str, width: u32, height: u32) -> gst::Sample {
    gst::init().expect("gst::init");
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=1 pattern=solid-color foreground-color=0xffff0000 \
         ! video/x-raw,format=RGB,width={width},height={height} ! videobox right=-{width} fill=blue \
         ! videoconvert ! {encoder} ! appsink name=out caps={caps}"
    ))
    .expect("pipeline")
    .downcast::<gst::Bin>()
    .expect("a bin");
    let sink = pipeline
        .by_name("out")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .expect("appsink");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let sample = sink.pull_preroll().expect("an encoded picture");
    pipeline.set_state(gst::State::Null).expect("null");
    sample
}

fn pixel(picture: &Picture, x: u32, y: u32) -> [u8; 4] {
    picture.pixel(x, y).expect("inside the picture")
}

#[test]
fn a_png_cover_decodes_to_its_pixels() {
    let picture = Picture::decode(&encoded("pngenc", "image/png")).expect("decoded");
    assert_eq!(picture.size(), (8, 4));
    assert_eq!(pixel(&picture, 0, 0), [0, 0, 255, 255], "red, B G R A");
    assert_eq!(pixel(&picture, 7, 3), [255, 0, 0, 255], "blue");
}

#[test]
fn a_jpeg_cover_decodes_close_to_its_colours() {
    let picture = Picture::decode(&encoded("jpegenc", "image/jpeg")).expect("decoded");
    assert_eq!(picture.size(), (8, 4));
    let [b, g, r, _] = pixel(&picture, 1, 1);
    assert!(r > 200 && g < 60 && b < 60, "red: {:?}", (r, g, b));
}

#[test]
fn a_picture_too_large_to_show_is_refused() {
    let wide = encoded_at("pngenc", "image/png", 5000, 8);
    assert!(matches!(Picture::decode(&wide), Err(CoverError::Decode(_))));
}

#[test]
fn garbage_is_an_error_not_a_picture() {
    gst::init().expect("gst::init");
    let sample = gst::Sample::builder()
        .buffer(&gst::Buffer::from_slice(b"not a picture at all".to_vec()))
        .caps(&gst::Caps::builder("image/png").build())
        .build();
    assert!(matches!(
        Picture::decode(&sample),
        Err(CoverError::Decode(_))
    ));
}
