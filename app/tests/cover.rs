//! Cover art decoding (zc_app::player::cover) natively: PNG and JPEG
//! pictures as encoded by GStreamer decode to their pixels; garbage and
//! pictures too large to show are errors, not pictures; among the
//! pictures a file carries (id3demux reading them), the front cover is
//! the one taken.

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

/// An ID3v2.3 tag holding `pictures` (APIC frames: ID3 picture type, PNG
/// bytes), in that order.
fn id3_tag(pictures: &[(u8, &[u8])]) -> Vec<u8> {
    let mut frames = Vec::new();
    for (kind, png) in pictures {
        let mut body = vec![0u8]; // ISO-8859-1 text
        body.extend_from_slice(b"image/png\0");
        body.push(*kind);
        body.push(0); // no description
        body.extend_from_slice(png);
        frames.extend_from_slice(b"APIC");
        frames.extend_from_slice(&u32::try_from(body.len()).expect("small").to_be_bytes());
        frames.extend_from_slice(&[0, 0]);
        frames.extend_from_slice(&body);
    }
    let size = u32::try_from(frames.len()).expect("small");
    let mut tag = b"ID3\x03\x00\x00".to_vec();
    // The size in four 7-bit bytes ("syncsafe").
    tag.extend((0..4).rev().map(|i| ((size >> (7 * i)) & 0x7F) as u8));
    tag.extend_from_slice(&frames);
    tag
}

/// The tags GStreamer's id3demux reads from `data`.
fn tags_read_by_id3demux(data: Vec<u8>) -> gst::TagList {
    gst::init().expect("gst::init");
    let pipeline =
        gst::parse::launch("appsrc name=src caps=application/x-id3 ! id3demux ! fakesink")
            .expect("pipeline")
            .downcast::<gst::Bin>()
            .expect("a bin");
    let src = pipeline
        .by_name("src")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .expect("appsrc");
    pipeline.set_state(gst::State::Playing).expect("playing");
    src.push_buffer(gst::Buffer::from_slice(data))
        .expect("pushed");
    src.end_of_stream().expect("eos");
    let bus = pipeline.bus().expect("bus");
    let message = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(10),
            &[gst::MessageType::Tag, gst::MessageType::Error],
        )
        .expect("tags within 10 s");
    pipeline.set_state(gst::State::Null).expect("null");
    match message.view() {
        gst::MessageView::Tag(tags) => tags.tags(),
        other => panic!("no tags: {other:?}"),
    }
}

fn bytes(sample: &gst::Sample) -> Vec<u8> {
    sample
        .buffer()
        .expect("buffer")
        .map_readable()
        .expect("map")
        .to_vec()
}

#[test]
fn the_front_cover_is_taken_wherever_it_comes_among_the_pictures() {
    let back = bytes(&encoded_at("pngenc", "image/png", 2, 2));
    let front = bytes(&encoded_at("pngenc", "image/png", 4, 2));
    // ID3 picture types: 4 the back cover, 3 the front cover. The PNG
    // after the tag is what id3demux finds the rest of the file to be.
    let mut file = id3_tag(&[(4, &back), (3, &front)]);
    file.extend_from_slice(&back);
    let tags = tags_read_by_id3demux(file);
    assert_eq!(tags.size::<gst::tags::Image>(), 2, "{tags:?}");
    let picked = zc_app::player::cover::picture_in(&tags).expect("a cover");
    assert_eq!(
        bytes(&picked),
        front,
        "the front cover, not the first picture"
    );
    assert_eq!(Picture::decode(&picked).expect("decoded").size(), (8, 2));

    // Where no picture says it is the front cover, the first is taken.
    let mut file = id3_tag(&[(4, &back), (0, &front)]);
    file.extend_from_slice(&back);
    let tags = tags_read_by_id3demux(file);
    let picked = zc_app::player::cover::picture_in(&tags).expect("a cover");
    assert_eq!(bytes(&picked), back, "the first picture");
}
