//! avdec_h264 with default properties decodes into zc memory without the
//! copy GStreamer 1.22's GstVideoDecoder otherwise makes (see
//! pool::meta_map), and the pictures are exactly the stock decoder's, even
//! with frames held back downstream while libav still references them.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{decode_hashes, folder, h264_clip, h264_clip_as, init, stat};

#[test]
fn avdec_h264_frames_stay_in_zc_memory_and_decode_identically() {
    init();
    let dir = folder("zc-decoders", "1080p");
    let clip = h264_clip(&dir, 1920, 1080, 45);

    let (stock, _) = decode_hashes(&clip, "avdec_h264", "");
    // Hold 10 frames back: a frame libav wrote again after output would differ.
    let (zc, stats) = decode_hashes(
        &clip,
        "avdec_h264",
        "zcexport ! queue max-size-buffers=12 min-threshold-buffers=10 !",
    );

    assert_eq!(stock.len(), 45, "the stock decode is complete");
    assert!(
        stock.iter().collect::<std::collections::HashSet<_>>().len() > 40,
        "the clip moves"
    );
    assert_eq!(zc, stock, "zc changed decoded pictures");

    let stats = stats.expect("zc-export-stats");
    let (frames_in, zero_copy) = (stat(&stats, "frames-in"), stat(&stats, "frames-zero-copy"));
    println!(
        "avdec_h264 1080p: {zero_copy} of {frames_in} frames in zc memory, {} bytes copied",
        stat(&stats, "bytes-copied")
    );
    assert_eq!(frames_in, 45);
    assert!(
        zero_copy * 100 >= frames_in * 95,
        "only {zero_copy} of {frames_in} frames were zero-copy"
    );
}

/// avdec compares the downstream pool's strides with those of a GStreamer
/// video pool of the same alignment and copies every frame into its own
/// when they differ: at widths where aligning plane by plane gives other
/// strides than GStreamer's (320 wide: 384/192 there), zc's pool lays
/// frames out GStreamer's way and the decoder still writes into zc memory.
#[test]
fn avdec_h264_writes_into_zc_memory_at_widths_whose_chroma_needs_padding() {
    init();
    let dir = folder("zc-decoders", "widths");
    for (format, width, height) in [
        ("I420", 320, 240),
        ("Y42B", 320, 240),
        ("I420", 176, 144),
        ("Y444", 200, 120),
    ] {
        let clip = h264_clip_as(&dir, format, width, height, 12);
        let (stock, _) = decode_hashes(&clip, "avdec_h264", "");
        let (zc, stats) = decode_hashes(&clip, "avdec_h264", "zcexport !");
        assert_eq!(
            stock.len(),
            12,
            "{format} {width}x{height}: the stock decode is complete"
        );
        assert_eq!(
            zc, stock,
            "{format} {width}x{height}: zc changed decoded pictures"
        );
        let stats = stats.expect("zc-export-stats");
        let (frames_in, zero_copy) = (stat(&stats, "frames-in"), stat(&stats, "frames-zero-copy"));
        println!("{format} {width}x{height}: {zero_copy} of {frames_in} frames in zc memory");
        assert_eq!(
            (frames_in, zero_copy),
            (12, 12),
            "{format} {width}x{height}: frames copied into zc memory: {stats}"
        );
    }
}
