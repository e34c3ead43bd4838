//! `zcthumbnail` natively on the 2:10:10:10 RGB formats `zcvulkanconvert`
//! writes (BGR10A2_LE = DRM AR30, RGB10A2_LE = AB30, and on GStreamer 1.28
//! BGR10x2_LE = XR30, RGB10x2_LE = XB30): PNG pixels exact in both caps
//! dialects and in zc (memfd) and system memory, GStreamer's own packing
//! read in the right channel order, and the warning for a format it cannot
//! read naming the ones it can.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::thumbnail::{SMPTE_TOP_BARS, launch, launch_with_frames, location_of};
use common::{folder, init, read_png};

/// The 10-bit RGB formats as (GStreamer name, DRM fourcc, whether B is in
/// the low bits), those named only from 1.28 on included.
const TEN_BIT: [(&str, &str, bool); 4] = [
    ("BGR10A2_LE", "AR30", true),
    ("RGB10A2_LE", "AB30", false),
    ("BGR10x2_LE", "XR30", true),
    ("RGB10x2_LE", "XB30", false),
];

/// Those of [`TEN_BIT`] the running GStreamer names.
fn known_ten_bit() -> Vec<(&'static str, &'static str, bool)> {
    init();
    let known: Vec<_> = TEN_BIT
        .into_iter()
        .filter(|(name, _, _)| {
            gst_video::VideoFormat::from_string(name) != gst_video::VideoFormat::Unknown
        })
        .collect();
    let (major, minor, _, _) = gst::version();
    assert_eq!(known.len(), if (major, minor) >= (1, 28) { 4 } else { 2 });
    known
}

fn pixels(image: &(u32, u32, Vec<u8>)) -> impl Iterator<Item = (u32, u32, [u8; 3])> + '_ {
    image
        .2
        .chunks(3)
        .enumerate()
        .map(|(i, p)| (i as u32 % image.0, i as u32 / image.0, [p[0], p[1], p[2]]))
}

/// 10-bit R, G, B codes of the four quadrants of [`quadrants`] and the
/// 8-bit values they read as, rounded to the nearest (the top 8 bits would
/// give 255, 128, 0 for the first).
const QUADRANTS: [([u32; 3], [u8; 3]); 4] = [
    ([1020, 514, 3], [254, 128, 1]),
    ([0, 1023, 0], [0, 255, 0]),
    ([3, 0, 1020], [1, 0, 254]),
    ([1023, 1023, 1023], [255, 255, 255]),
];

/// A 64x32 frame in four quadrants of [`QUADRANTS`] (top left, top
/// right, bottom left, bottom right), each word written by hand: B (or R,
/// when `b_low` is false) in bits 0-9, G in 10-19, the other in 20-29, and
/// alpha bits varying from pixel to pixel (they must not matter).
fn quadrants(b_low: bool) -> Vec<u8> {
    let mut frame = Vec::with_capacity(64 * 32 * 4);
    for y in 0..32u32 {
        for x in 0..64u32 {
            let quadrant = usize::from(x >= 32) + 2 * usize::from(y >= 16);
            let [r, g, b] = QUADRANTS[quadrant].0;
            let (low, high) = if b_low { (b, r) } else { (r, b) };
            let word = low | (g << 10) | (high << 20) | (((x + y) % 4) << 30);
            frame.extend_from_slice(&word.to_le_bytes());
        }
    }
    frame
}

/// The thumbnail of [`quadrants`] is 16x8, each pixel one quadrant's colour.
fn assert_quadrants(image: &(u32, u32, Vec<u8>), what: &str) {
    assert_eq!((image.0, image.1), (16, 8), "{what}");
    for (x, y, rgb) in pixels(image) {
        let quadrant = usize::from(x >= 8) + 2 * usize::from(y >= 4);
        assert_eq!(rgb, QUADRANTS[quadrant].1, "{what} at ({x},{y})");
    }
}

#[test]
fn ten_bit_rgb_pngs_are_exact_in_zc_and_system_memory() {
    let dir = folder("zcthumbnail-formats", "quadrants");
    for (name, _, b_low) in known_ten_bit() {
        for middle in ["zcexport !", ""] {
            let run = launch_with_frames(
                &format!(
                    "appsrc name=src format=time caps=video/x-raw,format={name},width=64,height=32,framerate=1/1 \
                     ! {middle} zcthumbnail name=thumb width=16 height=9 format=png location={}/{name}-%d.png \
                     ! fakesink",
                    dir.display()
                ),
                vec![quadrants(b_low)],
            );
            let what = format!("{name} {middle:?}");
            assert_eq!(run.error, None, "{what}");
            assert_eq!(run.warnings, Vec::<String>::new(), "{what}");
            assert_eq!(run.thumbnails.len(), 1, "{what}: {run:?}");
            assert_quadrants(&read_png(&location_of(&run.thumbnails[0])), &what);
            // zc memory is one memfd bracketed once; system memory has no fd.
            let expected = if middle.is_empty() { 0 } else { 1 };
            assert_eq!(
                (run.counters.begun, run.counters.brackets),
                (expected, expected),
                "{what}"
            );
        }
    }
}

#[test]
fn ten_bit_rgb_in_dma_drm_caps_is_read_by_its_fourcc() {
    // 1.24's caps dialect, parsed the same on every version (the element
    // reads any memory, so system memory stands in for a dma-buf here).
    let dir = folder("zcthumbnail-formats", "dma-drm");
    let named: Vec<&str> = known_ten_bit().iter().map(|(_, drm, _)| *drm).collect();
    for (_, drm, b_low) in TEN_BIT {
        let run = launch_with_frames(
            &format!(
                "appsrc name=src format=time caps=\"video/x-raw(memory:DMABuf),format=DMA_DRM,drm-format={drm},\
                 width=64,height=32,framerate=1/1\" ! zcthumbnail name=thumb width=16 height=9 format=png \
                 location={}/{drm}-%d.png ! fakesink",
                dir.display()
            ),
            vec![quadrants(b_low)],
        );
        assert_eq!(run.error, None, "{drm}");
        if named.contains(&drm) {
            assert_eq!(run.warnings, Vec::<String>::new(), "{drm}");
            assert_eq!(run.thumbnails.len(), 1, "{drm}: {run:?}");
            assert_quadrants(&read_png(&location_of(&run.thumbnails[0])), drm);
        } else {
            // Before 1.28 GStreamer has no name for XR30 and XB30: no VideoInfo,
            // thumbnails off with a warning, frames pass.
            assert_eq!(run.thumbnails.len(), 0, "{drm}: {run:?}");
            assert!(
                run.warnings
                    .iter()
                    .any(|w| w.contains("thumbnails are off")),
                "{drm}: {:?}",
                run.warnings
            );
        }
    }
}

#[test]
fn gstreamers_own_ten_bit_packing_reads_in_channel_order() {
    // videotestsrc packs 10-bit RGB with GStreamer's own code: full red,
    // green, blue and white (1023 per full channel) read as 255.
    let dir = folder("zcthumbnail-formats", "videotestsrc");
    for (name, _, _) in known_ten_bit() {
        for (pattern, expected) in [
            ("red", [255, 0, 0]),
            ("green", [0, 255, 0]),
            ("blue", [0, 0, 255]),
            ("white", [255, 255, 255]),
        ] {
            let run = launch(&format!(
                "videotestsrc num-buffers=1 pattern={pattern} ! video/x-raw,format={name},width=48,height=30 \
                     ! zcexport ! zcthumbnail name=thumb width=24 height=15 format=png \
                     location={}/{name}-{pattern}.png ! fakesink",
                dir.display()
            ));
            let what = format!("{name} {pattern}");
            assert_eq!(run.error, None, "{what}");
            assert_eq!(run.thumbnails.len(), 1, "{what}: {run:?}");
            let image = read_png(&location_of(&run.thumbnails[0]));
            assert_eq!((image.0, image.1), (24, 15), "{what}");
            for (x, y, rgb) in pixels(&image) {
                assert_eq!(rgb, expected, "{what} at ({x},{y})");
            }
        }
    }
}

#[test]
fn the_warning_for_an_unread_format_names_the_ones_read() {
    // GRAY8: a format zc does not lay out, which the thumbnailer does not
    // read (it reads every one zc lays out).
    let dir = folder("zcthumbnail-formats", "gray8");
    let run = launch(&format!(
        "videotestsrc num-buffers=2 ! video/x-raw,format=GRAY8,width=32,height=16 \
             ! zcthumbnail name=thumb format=png location={}/%d.png ! fakesink",
        dir.display()
    ));
    assert_eq!(run.error, None);
    assert_eq!(run.thumbnails.len(), 0);
    let warning = run
        .warnings
        .iter()
        .find(|w| w.contains("thumbnails are off for format GRAY8"))
        .unwrap_or_else(|| panic!("no warning for GRAY8: {:?}", run.warnings));
    let read = warning
        .split("zcthumbnail reads ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no list of what is read: {warning}"));
    let read: Vec<&str> = read.split(", ").collect();
    for (name, _, _) in known_ten_bit() {
        assert!(read.contains(&name), "{name} missing from {read:?}");
    }
    for name in [
        "NV12",
        "P010_10LE",
        "BGRx",
        "RGB16",
        "Y444",
        "Y42B",
        "I420_10LE",
        "I422_10LE",
        "Y444_10LE",
    ] {
        assert!(read.contains(&name), "{name} missing from {read:?}");
    }
    assert!(!read.contains(&"GRAY8"), "{read:?}");
}

/// The planar formats software decoders output (Theora's and H.264's
/// 4:4:4 and 4:2:2, the 10-bit ones of H.264, HEVC, VP9 and AV1): SMPTE
/// bars come out as bars, each bar's centre within 2 of its colour (the
/// 10-bit codes round to 8 bits).
#[test]
fn planar_decoder_formats_show_the_bars() {
    for format in ["Y444", "Y42B", "I420_10LE", "I422_10LE", "Y444_10LE"] {
        let dir = folder("zcthumbnail-formats", &format!("bars-{format}"));
        let run = launch(&format!(
            "videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,format={format},width=224,height=96 \
                 ! zcthumbnail name=thumb format=png width=0 height=0 location={}/%d.png ! fakesink",
            dir.display()
        ));
        assert_eq!(run.error, None, "{format}");
        assert_eq!(run.thumbnails.len(), 1, "{format}: {:?}", run.warnings);
        let image = read_png(&location_of(&run.thumbnails[0]));
        for (i, bar) in SMPTE_TOP_BARS.iter().enumerate() {
            let x = 16 + 32 * i as u32;
            let (w, _, data) = &image;
            let at = ((20 * w + x) * 3) as usize;
            let got = &data[at..at + 3];
            assert!(
                got.iter().zip(bar).all(|(g, b)| g.abs_diff(*b) <= 2),
                "{format}: bar {i} is {got:?}, not {bar:?}"
            );
        }
    }
}
