//! zc-player shows image subtitles (DVD's VobSub, `subpicture/x-dvd`,
//! Blu-ray's PGS, `subpicture/x-pgs`, and DVB's, `subpicture/x-dvb`) the
//! way it shows text: decoded on its subtitle subsurface above the video,
//! at the place and in the colours the track gives, while the video frames
//! stay dma-bufs with 0 bytes copied (stock playbin blends them into every
//! frame with `dvdspu` and `dvbsuboverlay`).
//!
//! GStreamer has no encoder for any of them, so the tracks are made with
//! zc's own writers (`zc_app::player::subpicture::{vobsub::encode,
//! pgs::write, dvb::write}`):
//! - DVD: with a palette that matroskamux stores in the track header and
//!   matroskademux hands back;
//! - PGS: no matroskamux up to 1.28 takes `subpicture/x-pgs`, so the display
//!   sets are muxed as a UTF-8 text track whose codec is then renamed
//!   `S_HDMV/PGS` in the file (matroskamux writes text buffers unchanged);
//! - DVB: PES data through mpegtsmux into MPEG-TS, as broadcasts carry it,
//!   with a language tag (mpegtsmux writes the subtitling descriptor that
//!   tsdemux recognises the track by only for a track with a language).

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use zc_app::player::subpicture::dvb::clut::IN_4_BIT;
use zc_app::player::subpicture::dvb::write::{self as dvb, Region};
use zc_app::player::subpicture::dvb::{Depth, PageState};
use zc_app::player::subpicture::pgs::EPOCH_START;
use zc_app::player::subpicture::pgs::write as pgs;
use zc_app::player::subpicture::vobsub::{self, Palette};
use zc_vm_tests::player::{Player, SLOW, dvd_palette, encode_with_subtitle_packets, rename_codec};
use zc_vm_tests::require_vm;
use zc_vm_tests::weston::{Renderer, Screenshot, Weston, yuv_test_colorimetry};

const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;
const MATROSKA: (&str, &str) = ("matroskamux", "subtitle_%u");
/// The page mpegtsmux's subtitling descriptor names.
const DVB_PAGE: u16 = 1;
const FRAMES: u32 = 150;

/// The picture: 192x64 at (224, 192), its top half pink and its bottom half
/// lavender, both opaque, on screen from 0.5 s to about 3.5 s (a
/// screenshot under emulation takes about one).
const RECT: [u32; 4] = [224, 192, 192, 64];
/// Pink and lavender in Y, Cr, Cb (BT.601 limited range, which both
/// formats use at 480 lines): colours none of the bars has; entries 5 and
/// 6 of the DVD palette. Both chroma values are 128 or more:
/// matroskamux (1.22 to 1.28) stores the palette as RGB computed in
/// unsigned arithmetic, so a chroma value below 128 wraps and comes out
/// saturated (blue came back magenta).
const PINK: u32 = 0x0096_c880;
const LAVENDER: u32 = 0x0078_80c8;
/// A composited shm pixel against the colour zc's palette conversion gives
/// the entry: matroskamux's palette is RGB, which matroskademux turns back
/// into Y, Cr, Cb, each rounding.
const TOLERANCE: u8 = 8;

fn clut() -> [u32; 16] {
    let mut clut = [0x0010_8080; 16];
    clut[5] = PINK;
    clut[6] = LAVENDER;
    clut
}

/// Rows of pixel values: `top` in the picture's top half, `bottom` below.
fn halves(top: u8, bottom: u8) -> Vec<Vec<u8>> {
    let [_, _, w, h] = RECT;
    (0..h)
        .map(|row| vec![if row < h / 2 { top } else { bottom }; w as usize])
        .collect()
}

/// The SMPTE clip in `mux` (named `m`, its subtitle pad `pad`), with a
/// subtitle track of `caps` fed `events` and `packets`.
fn make_clip(
    path: &Path,
    (mux, pad): (&str, &str),
    caps: &str,
    events: Vec<gst::Event>,
    packets: &[(u64, Vec<u8>)],
) {
    let packets: Vec<(gst::ClockTime, Vec<u8>)> = packets
        .iter()
        .map(|(ms, p)| (gst::ClockTime::from_mseconds(*ms), p.clone()))
        .collect();
    encode_with_subtitle_packets(
        &format!(
            "videotestsrc num-buffers={FRAMES} pattern=smpte ! video/x-raw,format=I420,colorimetry={},width={WIDTH},height={HEIGHT},framerate=30/1 \
             ! x264enc speed-preset=ultrafast key-int-max=30 ! h264parse ! {mux} name=m ! filesink location={} \
             appsrc name=subs caps={caps} ! m.{pad}",
            yuv_test_colorimetry(),
            path.display()
        ),
        events,
        &packets,
    );
}

fn dvd_clip(dir: &Path) -> PathBuf {
    let path = dir.join("smpte-with-dvd-subtitles.mkv");
    // Hidden 264 units of 1024 / 90 kHz (3.004 s) after it is shown.
    let packet = vobsub::encode(
        (RECT[0], RECT[1]),
        &halves(1, 2),
        [0, 5, 6, 0],
        [0, 15, 15, 0],
        (0, 264),
    );
    make_clip(
        &path,
        MATROSKA,
        "subpicture/x-dvd",
        vec![dvd_palette(clut())],
        &[(500, packet)],
    );
    path
}

fn pgs_clip(dir: &Path) -> PathBuf {
    let path = dir.join("smpte-with-pgs-subtitles.mkv");
    let entry = |index: u8, ycrcb: u32| {
        let [_, y, cr, cb] = ycrcb.to_be_bytes();
        [index, y, cr, cb, 255]
    };
    let frame = (WIDTH as u16, HEIGHT as u16);
    let mut shown = vec![
        pgs::composition(
            frame,
            EPOCH_START,
            0,
            &[(1, RECT[0] as u16, RECT[1] as u16, None)],
        ),
        pgs::palette(0, &[entry(1, PINK), entry(2, LAVENDER)]),
    ];
    shown.extend(pgs::object(1, &halves(1, 2), 2));
    shown.push(pgs::end());
    let cleared = [pgs::composition(frame, 0, 0, &[]), pgs::end()];
    make_clip(
        &path,
        MATROSKA,
        "text/x-raw,format=utf8",
        Vec::new(),
        &[
            (500, pgs::display_set(&shown)),
            (3500, pgs::display_set(&cleared)),
        ],
    );
    rename_codec(&path, "S_TEXT/UTF8", "S_HDMV/PGS");
    path
}

/// The DVB page's time-out: it is gone 3 s after it is shown (no display
/// set clears it), at [`END_S`].
const DVB_TIME_OUT: u8 = 3;
/// When each track's picture ends: DVD's hide time, PGS's clearing display
/// set, DVB's time-out.
const END_S: f64 = 3.5;

fn dvb_clip(dir: &Path) -> PathBuf {
    let path = dir.join("smpte-with-dvb-subtitles.ts");
    let entry = |index: u8, ycrcb: u32| {
        let [_, y, cr, cb] = ycrcb.to_be_bytes();
        (index, IN_4_BIT, [y, cr, cb, 0], true)
    };
    let [x, y, w, h] = RECT.map(|v| v as u16);
    let shown = dvb::packet(
        DVB_PAGE,
        &[
            dvb::display((WIDTH as u16, HEIGHT as u16), None),
            dvb::page(DVB_TIME_OUT, 0, PageState::ModeChange, &[(0, x, y)]),
            dvb::region(&Region {
                id: 0,
                version: 0,
                size: (w, h),
                depth: Depth::Four,
                clut: 0,
                fill: Some(0),
                objects: &[(1, 0, 0)],
            }),
            dvb::clut(0, &[entry(1, PINK), entry(2, LAVENDER)]),
            dvb::object(1, &halves(1, 2), (Depth::Four, Depth::Four), false),
            dvb::end(),
        ],
    );
    gst::init().expect("gst::init");
    let mut tags = gst::TagList::new();
    tags.make_mut()
        .add::<gst::tags::LanguageCode>(&"eng", gst::TagMergeMode::Append);
    let language = gst::event::Tag::new(tags);
    make_clip(
        &path,
        ("mpegtsmux", ""),
        "subpicture/x-dvb",
        vec![language],
        &[(500, shown)],
    );
    path
}

/// Of the picture's pixels on screen, how many are its colours (top half
/// pink, bottom half lavender).
fn picture_pixels(shot: &Screenshot) -> usize {
    let palette = Palette::from_ycrcb(clut());
    assert_eq!(
        (shot.width, shot.height),
        (WIDTH, HEIGHT),
        "screenshot size"
    );
    let [rx, ry, rw, rh] = RECT.map(|v| v as usize);
    let mut right = 0;
    for y in ry..ry + rh {
        let want = palette.rgb(if y < ry + rh / 2 { 5 } else { 6 });
        for x in rx..rx + rw {
            let i = (y * WIDTH as usize + x) * 3;
            right += usize::from((0..3).all(|c| shot.rgb[i + c].abs_diff(want[c]) <= TOLERANCE));
        }
    }
    right
}

/// The picture's area in pixels.
const AREA: usize = (RECT[2] * RECT[3]) as usize;

/// Where the picture `described` goes, in stream time, timed on a pass of
/// the looping clip with nothing but polls (a screenshot under emulation
/// and load took over 3 s: the first poll after it came past the clip's
/// end, which says nothing of when the picture went). A pass is timed where
/// the poll that first sees it gone comes before the clip's end; else the
/// next pass is. Fails if three passes in a row showed it until then.
fn time_the_end(player: &mut Player, described: &str) -> f64 {
    let clip_end = f64::from(FRAMES) / 30.0;
    let mut untimed = Vec::new();
    for _ in 0..3 {
        let stats = player.wait_for_subtitle(Some(described));
        let mut shown_at = stats["position-s"].as_f64();
        let deadline = std::time::Instant::now() + SLOW;
        loop {
            let stats = player.stats();
            let position = stats["position-s"].as_f64();
            if stats["subtitle"].as_str() == Some(described) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{described} still on screen after {SLOW:?}: {stats}"
                );
                shown_at = position.or(shown_at);
                std::thread::sleep(std::time::Duration::from_millis(20));
                continue;
            }
            match (shown_at, position) {
                (Some(before), Some(after)) if before <= after && after < clip_end => return after,
                _ => untimed.push((shown_at, position)),
            }
            break;
        }
    }
    panic!(
        "{described} went only at or past the clip's end ({clip_end} s) on three passes \
         (last position seen with it, first without): {untimed:?}; log:\n{}",
        player.log()
    );
}

#[test]
fn image_subtitles_show_their_picture_above_the_video_without_touching_its_frames() {
    require_vm();
    let dir = std::env::temp_dir().join("zc-vm-player-image-subtitles");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    for clip in [dvb_clip(&dir), pgs_clip(&dir), dvd_clip(&dir)] {
        let name = clip
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
        let mut player = Player::start(&weston, &clip, &dir);
        let described = format!("picture {}x{} at {},{}", RECT[2], RECT[3], RECT[0], RECT[1]);
        let (shot, stats) = player.screenshot_while_shown(&weston, &described, |shot| {
            picture_pixels(shot) * 10 >= AREA * 9
        });
        let right = picture_pixels(&shot);
        println!("{name}: {described}: {right} of {AREA} pixels in its colours; {stats}");
        assert!(
            right * 10 >= AREA * 9,
            "{name}: the picture is not on screen in its colours ({right} of {AREA} pixels): {}; log:\n{}",
            shot.path.display(),
            player.log()
        );
        assert_eq!(stats["copies-per-frame"], 0.0, "{name}: {stats}");
        assert_eq!(stats["path"], "dmabuf", "{name}: {stats}");
        // Gone after its end (3.5 s for each track; 3.625 s of stream
        // time for DVB, whose MPEG-TS starts at 0.125 s), not at the
        // clip's end (5 s; the player loops it).
        let gone_at = time_the_end(&mut player, &described);
        println!("{name}: gone at {gone_at} s");
        assert!(
            gone_at >= END_S - 0.1,
            "{name}: the picture went at {gone_at} s, before its end at {END_S} s; log:\n{}",
            player.log()
        );
        player.pause_without_subtitles_at(4.2);
        let gone = weston.screenshot();
        let left = picture_pixels(&gone);
        assert!(
            left * 10 < AREA,
            "{name}: the picture is still on screen after its end ({left} of {AREA} pixels): {}",
            gone.path.display()
        );
        let quit = player.ok(r#"{"command":"quit"}"#);
        assert_eq!(quit["fds-left-open"], 0, "{name}: {quit}");
        let _ = player.child.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
