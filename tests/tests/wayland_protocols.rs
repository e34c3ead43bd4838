//! zcwaylandsink and the newer Wayland protocols, on each root's Weston:
//! colour representation and pacing by the compositor (FIFO, commit
//! timing, colour management): Weston 16 on forky has them, Weston 14
//! does not; Mutter 50 (forky) has them all.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../plugins/gst/tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::init;
use gst::prelude::*;
use zc_vm_tests::mutter::{self, Mutter, VirtioGpu};
use zc_vm_tests::require_vm;
use zc_vm_tests::smpte::{reference_rgb_of, sample_points};
use zc_vm_tests::weston::{
    Renderer, Screenshot, Weston, has_color_representation, has_compositor_pacing,
    unstated_yuv_colorimetry,
};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 720;

/// What one stream through zcwaylandsink left on the screen and in the sink.
struct Shown {
    shot: Screenshot,
    /// The sink's `color-representation-set`.
    stated: String,
    /// The sink's `image-description-set`.
    described: String,
    /// The sink's `preferred-image-description`.
    preferred: String,
    path: String,
}

/// Play the 75% SMPTE bars (100% ones hide a wrong range: they clip to
/// the right colours), converted to `caps`, from zc's pool through
/// zcwaylandsink with `sink_properties` until `frames` reached the sink; the
/// screenshot then. Err: the pipeline's error.
fn show(
    weston: &Weston,
    caps: &str,
    sink_properties: &str,
    frames: usize,
) -> Result<Shown, String> {
    // videoconvert makes the YUV samples from the exact RGB colours in the
    // caps' colorimetry (videotestsrc itself writes limited range whatever
    // the caps say).
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc pattern=smpte75 is-live=true ! video/x-raw,format=RGB ! videoconvert ! {caps} \
         ! zcexport ! zcwaylandsink name=sink display={} {sink_properties}",
        weston.socket_path().display()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let sink = pipeline.by_name("sink").expect("zcwaylandsink");
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    sink.static_pad("sink")
        .expect("sink pad")
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            counter.fetch_add(1, Ordering::SeqCst);
            gst::PadProbeReturn::Ok
        });
    let bus = pipeline.bus().expect("bus");
    let result = (|| {
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| format!("{e:?}"))?;
        let deadline = Instant::now() + Duration::from_secs(300);
        while seen.load(Ordering::SeqCst) < frames {
            if let Some(message) = bus.timed_pop_filtered(
                gst::ClockTime::from_mseconds(100),
                &[gst::MessageType::Error],
            ) && let gst::MessageView::Error(e) = message.view()
            {
                return Err(format!("{} ({:?})", e.error(), e.debug()));
            }
            assert!(
                Instant::now() < deadline,
                "{caps}: fewer than {frames} frames reached the sink\n{}",
                weston.log()
            );
        }
        Ok(Shown {
            shot: weston.screenshot(),
            stated: sink.property::<String>("color-representation-set"),
            described: sink.property::<String>("image-description-set"),
            preferred: sink.property::<String>("preferred-image-description"),
            path: sink.property::<String>("path"),
        })
    })();
    pipeline.set_state(gst::State::Null).expect("null");
    result
}

/// The largest difference in any channel between the screenshot (the
/// video filling it) and the pattern's exact RGB colours, at the centre of
/// every bar and strip.
fn largest_error(shot: &Screenshot) -> u8 {
    let exact = reference_rgb_of("smpte75", "RGB", WIDTH, HEIGHT);
    sample_points(WIDTH, HEIGHT)
        .into_iter()
        .map(|(x, y)| {
            let i = (y * WIDTH + x) as usize * 3;
            let seen = shot.pixel(x * shot.width / WIDTH, y * shot.height / HEIGHT);
            seen.iter()
                .zip(&exact[i..i + 3])
                .map(|(s, e)| s.abs_diff(*e))
                .max()
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0)
}

/// 720p NV12 bars in BT.709 and BT.601, limited and full range:
/// where the compositor has `wp_color_representation_v1` the sink states
/// each one and the screen shows the exact colours (within 4); with
/// `color-representation=off` (and on a compositor without the protocol)
/// the compositor guesses, which is measurably off for every colorimetry
/// but the one it assumes.
#[test]
fn yuv_colours_are_exact_where_the_colour_representation_is_stated() {
    require_vm();
    init();
    let unstated = unstated_yuv_colorimetry();
    let mut weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
    let mut report = Vec::new();
    for (name, colorimetry, stated_as) in [
        ("BT.709 limited", "bt709", "BT.709 limited range"),
        ("BT.601 limited", "bt601", "BT.601 limited range"),
        ("BT.709 full", "1:3:5:1", "BT.709 full range"),
        ("BT.601 full", "1:4:0:0", "BT.601 full range"),
    ] {
        let caps = format!(
            "video/x-raw,format=NV12,width={WIDTH},height={HEIGHT},framerate=15/1,colorimetry={colorimetry}"
        );
        for mode in ["auto", "off"] {
            weston.restart();
            let shown = show(&weston, &caps, &format!("color-representation={mode}"), 5)
                .unwrap_or_else(|e| panic!("{name}, {mode}: {e}\n{}", weston.log()));
            let error = largest_error(&shown.shot);
            report.push(format!(
                "{name:15} {mode:5}: stated {:40} largest error {error:3} ({})",
                shown.stated,
                shown.shot.path.display()
            ));
            println!("{}", report.last().unwrap());
            assert_eq!(shown.path, "dmabuf", "{name}, {mode}");
            let told = mode == "auto" && has_color_representation();
            if told {
                assert!(
                    shown.stated.starts_with(stated_as),
                    "{name}: the sink stated {:?}",
                    shown.stated
                );
            } else {
                assert_eq!(shown.stated, "none", "{name}, {mode}");
            }
            if told || colorimetry == unstated {
                assert!(
                    error <= 4,
                    "{name}, {mode}: colours off by up to {error} (stated: {})",
                    shown.stated
                );
            } else {
                assert!(
                    error > 8,
                    "{name}, {mode}: the compositor's guess ({unstated}) should be off, but the largest error is {error}"
                );
            }
        }
    }
    println!("{}", report.join("\n"));
}

/// `color-representation=protocol` shows the colours right where the
/// compositor has the protocol, and refuses the caps with an error that
/// names it where it has not.
#[test]
fn protocol_mode_refuses_a_compositor_without_colour_representation() {
    require_vm();
    init();
    let weston = Weston::start(Renderer::Gl, 320, 240);
    let caps = "video/x-raw,format=NV12,width=320,height=240,framerate=15/1,colorimetry=bt709";
    let result = show(&weston, caps, "color-representation=protocol", 3);
    println!("protocol mode: {:?}", result.as_ref().map(|s| &s.stated));
    if has_color_representation() {
        let shown = result.unwrap_or_else(|e| panic!("{e}\n{}", weston.log()));
        assert!(
            shown.stated.starts_with("BT.709 limited range"),
            "{}",
            shown.stated
        );
    } else {
        let error = result.err().expect("the caps are refused");
        assert!(
            error.contains("wp_color_representation_v1"),
            "the error names the protocol: {error}"
        );
    }
}

/// The `zc-sink-presentations` field `name` as a list of u64.
fn list(stats: &gst::Structure, name: &str) -> Vec<u64> {
    stats
        .get::<gst::Array>(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .iter()
        .map(|v| v.get::<u64>().expect("u64"))
        .collect()
}

/// Minimum, 10th percentile, median, 90th percentile and maximum, in ms.
fn distribution(mut values_ns: Vec<u64>) -> String {
    values_ns.sort_unstable();
    let at = |q: usize| values_ns[(values_ns.len() - 1) * q / 100] as f64 / 1e6;
    format!(
        "min {:.2} p10 {:.2} median {:.2} p90 {:.2} max {:.2} ms ({} values)",
        at(0),
        at(10),
        at(50),
        at(90),
        at(100),
        values_ns.len()
    )
}

/// 300 frames at 30 fps with sync=true. Where the compositor paces frames
/// (FIFO and commit timing, Weston 16), each is committed ahead with its
/// target time and lands at it: presentations 33.3 ms apart on average,
/// none replaced, and a mean jitter (target against actual presentation)
/// under one frame, and the sink's Wayland thread woke fewer times than
/// frames were presented (it reads the compositor's events in batches).
/// Elsewhere (Weston 14) the frame-callback pacing of before shows them,
/// none ahead.
#[test]
fn frames_are_presented_at_their_target_time() {
    require_vm();
    init();
    // Pixman and wl_shm: under software emulation Weston's GL renderer
    // repaints no faster than every 40 ms, too slow for 30 fps; pacing
    // does not depend on the renderer or the buffer type.
    let weston = Weston::start(Renderer::Pixman, 320, 240);
    let messages = common::run_to_eos(&format!(
        "videotestsrc num-buffers=300 pattern=smpte \
         ! video/x-raw,format=BGRx,width=320,height=240,framerate=30/1 \
         ! zcwaylandsink sync=true display={}",
        weston.socket_path().display()
    ))
    .unwrap_or_else(|e| panic!("{e}\n{}", weston.log()));
    let stats = messages
        .iter()
        .find(|s| s.name() == "zc-sink-stats")
        .expect("zc-sink-stats at EOS");
    let count = |name: &str| stats.get::<u64>(name).expect(name);
    let presentations = messages
        .iter()
        .find(|s| s.name() == "zc-sink-presentations")
        .expect("zc-sink-presentations at EOS");
    let (presented_ns, targets) = (
        list(presentations, "presented-ns"),
        list(presentations, "target-ns"),
    );
    let intervals: Vec<u64> = presented_ns.windows(2).map(|w| w[1] - w[0]).collect();
    let jitter: Vec<u64> = presented_ns
        .iter()
        .zip(&targets)
        .filter(|(_, t)| **t != 0)
        .map(|(p, t)| p.abs_diff(*t))
        .collect();
    println!(
        "frames presented {}, committed ahead {}, replaced {}, discarded {}; dispatch thread woke {} times",
        count("frames-presented"),
        count("frames-committed-ahead"),
        count("frames-replaced"),
        count("frames-discarded"),
        count("dispatch-wakeups"),
    );
    println!(
        "presentation intervals: {}",
        distribution(intervals.clone())
    );
    println!(
        "jitter (|actual - target|): {}; mean {} us",
        distribution(jitter.clone()),
        count("presentation-jitter-us")
    );
    // The property's mean is the one of the listed frames.
    let mean_us = jitter.iter().sum::<u64>() / jitter.len().max(1) as u64 / 1000;
    assert!(count("presentation-jitter-us").abs_diff(mean_us) <= 1);
    assert!(
        count("frames-presented") >= 290,
        "nearly every frame is shown"
    );
    // 300 frames 33.3 ms apart span 9.97 s, however the compositor's
    // refreshes fall between them.
    let mean_ms = intervals.iter().sum::<u64>() as f64 / intervals.len() as f64 / 1e6;
    println!("mean interval {mean_ms:.2} ms");
    if has_compositor_pacing() {
        assert!(count("frames-committed-ahead") >= 290, "committed ahead");
        assert_eq!(count("frames-replaced"), 0, "the compositor keeps each one");
        assert!(
            (mean_ms - 33.33).abs() < 1.0,
            "presentations {mean_ms:.2} ms apart on average, not 33.3"
        );
        assert!(
            count("presentation-jitter-us") < 33_333,
            "mean jitter under one frame"
        );
        // Releases and presentations read in batches (event-batch): the
        // sink's Wayland thread sleeps through several frames at a time.
        assert!(
            count("dispatch-wakeups") < count("frames-presented"),
            "the dispatch thread woke {} times for {} frames presented",
            count("dispatch-wakeups"),
            count("frames-presented")
        );
    } else {
        assert_eq!(count("frames-committed-ahead"), 0, "frame callbacks");
    }
}

/// The image descriptions clients made, as Weston's `color-lcms-profiles`
/// log scope printed them (a colour-managed Weston logs it).
fn client_profiles(weston: &Weston) -> Vec<String> {
    let log = std::fs::read_to_string(weston.runtime_dir().join("weston.log")).unwrap_or_default();
    log.split("New color profile:")
        .skip(1)
        .filter(|block| block.contains("description: Parametric client"))
        .map(|block| {
            // The block ends where the next timestamped log line starts.
            block
                .lines()
                .take_while(|l| !l.starts_with('['))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

/// HDR10 caps: BT.2100 PQ P010 with mastering display and content light
/// levels (a 1000 cd/m² BT.2020 grading display, MaxCLL 1000, MaxFALL 400).
const HDR10: &str = "video/x-raw,format=P010_10LE,width=320,height=240,framerate=15/1,\
    colorimetry=bt2100-pq,\
    mastering-display-info=(string)35400:14600:8500:39850:6550:2300:15635:16450:10000000:50,\
    content-light-level=(string)1000:400";

/// A BT.2020 PQ P010 stream with HDR10 metadata on Weston 16 with colour
/// management on: the sink sets the image description from the caps
/// (primaries, transfer, mastering display in the protocol's units, content
/// light levels), the compositor takes it (no protocol error: the stream
/// plays on) and the frames go as dma-bufs; an SDR stream sets none. What
/// the compositor received is read back from its colour-profile log, and
/// its preferred description for the surface through the protocol. On
/// Weston 14 (no wp_color_manager_v1) the HDR stream plays without one.
#[test]
fn an_hdr10_stream_sets_its_image_description_and_an_sdr_one_none() {
    require_vm();
    init();
    let mut weston = if has_color_representation() {
        Weston::start_color_managed(Renderer::Gl, 320, 240)
    } else {
        Weston::start(Renderer::Gl, 320, 240)
    };
    let hdr =
        show(&weston, HDR10, "", 8).unwrap_or_else(|e| panic!("HDR10: {e}\n{}", weston.log()));
    println!(
        "HDR10: path {}, image description: {}; the compositor prefers: {}",
        hdr.path, hdr.described, hdr.preferred
    );
    assert!(weston.is_running(), "the compositor survived");
    assert_eq!(hdr.path, "dmabuf");
    if has_color_representation() {
        assert_eq!(
            hdr.described,
            "primaries Bt2020, transfer Pq, mastering display R (708000, 292000) G (170000, 797000) \
             B (131000, 46000) W (312700, 329000) x1e-6, 50-1000 cd/m2 (min x1e-4), MaxCLL 1000 MaxFALL 400 cd/m2"
        );
        // What the compositor received, read back from its colour-profile
        // log: the caps' primaries, PQ, the mastering display's primaries and
        // luminance as the target volume, the content light levels.
        let received = client_profiles(&weston);
        println!("the compositor made: {received:#?}");
        let [profile] = received.as_slice() else {
            panic!("one client image description, not {received:#?}");
        };
        for line in [
            "primaries named: BT.2020",
            "transfer function: Perceptual Quantizer",
            "target primaries (CIE xy):\n      R  = (0.7080, 0.2920)\n      G  = (0.1700, 0.7970)\n      \
             B  = (0.1310, 0.0460)\n      WP = (0.3127, 0.3290)",
            "target luminance: [0.005, 1000.00] (cd/m²)",
            "max cll: 1000.00 (cd/m²)",
            "max fall: 400.00 (cd/m²)",
        ] {
            assert!(profile.contains(line), "{line:?} not in:\n{profile}");
        }
        // The compositor's preferred description, read back: its output's.
        assert!(
            hdr.preferred.starts_with("primaries "),
            "preferred description: {}",
            hdr.preferred
        );
        assert!(!hdr.preferred.contains("unknown"), "{}", hdr.preferred);
        // The colour representation goes with it: BT.2020 limited.
        assert!(
            hdr.stated.starts_with("BT.2020 limited range"),
            "{}",
            hdr.stated
        );
    } else {
        assert_eq!(hdr.described, "none");
        assert_eq!(hdr.preferred, "none", "no colour management, no preference");
    }
    weston.restart();
    let sdr = show(
        &weston,
        "video/x-raw,format=NV12,width=320,height=240,framerate=15/1,colorimetry=bt709",
        "",
        5,
    )
    .unwrap_or_else(|e| panic!("SDR: {e}\n{}", weston.log()));
    println!("SDR: image description: {}", sdr.described);
    assert_eq!(sdr.described, "none", "SDR streams set none");
    assert!(
        client_profiles(&weston).is_empty(),
        "the compositor got no image description for SDR"
    );
}

/// The same streams on GNOME's Mutter 50 (forky's root), the compositor
/// most desktop users run, which has every protocol above: a BT.709 NV12
/// stream goes as dma-bufs with its representation stated, an HDR10 one
/// sets its image description (the stream plays on: no protocol error),
/// and a paced stream is committed ahead and reports its jitter. Mutter
/// has no screenshot client, so colours are checked on Weston above.
/// Roots without Mutter skip this, saying so; forky must run it.
#[test]
fn mutter_binds_the_protocols_and_takes_what_the_sink_states() {
    require_vm();
    init();
    let distro = std::env::var("ZC_DISTRO").unwrap_or_else(|_| "bookworm".to_owned());
    if !mutter::available() {
        assert_ne!(distro, "forky", "forky's root has Mutter");
        println!("{distro}: no Mutter in this root, nothing to test here");
        return;
    }
    let _gpu = VirtioGpu::load();
    let mutter = Mutter::start();
    let display = mutter.socket.display().to_string();
    let run = |what: &str, source: &str, sink: &str| -> gst::Structure {
        let messages = common::run_to_eos(&format!(
            "{source} ! zcexport ! zcwaylandsink display={display} {sink}"
        ))
        .unwrap_or_else(|e| panic!("{what}: {e}\nmutter log:\n{}", mutter.log()));
        let stats = messages
            .into_iter()
            .find(|s| s.name() == "zc-sink-stats")
            .unwrap_or_else(|| panic!("{what}: no zc-sink-stats at EOS"));
        println!("Mutter, {what}: {stats}");
        stats
    };
    let text = |stats: &gst::Structure, name: &str| stats.get::<String>(name).expect(name);
    let count = |stats: &gst::Structure, name: &str| stats.get::<u64>(name).expect(name);

    let bt709 = run(
        "BT.709 NV12",
        "videotestsrc num-buffers=20 pattern=smpte75 ! video/x-raw,format=RGB,width=320,height=240,framerate=15/1 \
         ! videoconvert ! video/x-raw,format=NV12,colorimetry=bt709",
        "",
    );
    assert_eq!(text(&bt709, "path"), "dmabuf", "Mutter imports zc's NV12");
    assert_eq!(count(&bt709, "bytes-copied"), 0);
    assert!(count(&bt709, "frames-presented") > 0, "frames presented");
    assert!(
        text(&bt709, "color-representation-set").starts_with("BT.709 limited range"),
        "the representation is stated: {}",
        text(&bt709, "color-representation-set")
    );

    let hdr = run(
        "HDR10 P010",
        &format!("videotestsrc num-buffers=10 ! videoconvert ! {HDR10}"),
        "",
    );
    // Mutter on llvmpipe presents few HDR frames before EOS: 1 of 6 in
    // three runs, 0 in a fourth (with the code of 87b87e8 and of 5071a8f
    // alike). What shows the stream plays on is that frames keep being
    // committed after the image description was set, with no protocol
    // error (run_to_eos).
    assert!(
        count(&hdr, "frames-committed") > 1,
        "the HDR stream plays on"
    );
    assert!(
        text(&hdr, "image-description-set").starts_with("primaries Bt2020, transfer Pq"),
        "the image description is set: {}",
        text(&hdr, "image-description-set")
    );
    let preferred = text(&hdr, "preferred-image-description");
    assert!(
        preferred.starts_with("primaries ") && !preferred.contains("unknown"),
        "Mutter's preferred description is read: {preferred}"
    );
    assert!(
        text(&hdr, "color-representation-set").starts_with("BT.2020 limited range"),
        "{}",
        text(&hdr, "color-representation-set")
    );

    // Under software emulation Mutter repaints slowly: 40 frames at 10 fps.
    let paced = run(
        "paced",
        "videotestsrc num-buffers=40 pattern=smpte ! video/x-raw,format=BGRx,width=320,height=240,framerate=10/1",
        "sync=true",
    );
    let (ahead, presented) = (
        count(&paced, "frames-committed-ahead"),
        count(&paced, "frames-presented"),
    );
    // Under emulation Mutter falls behind now and then: a frame that finds
    // five waiting in its queue is replaced (counted) instead.
    assert!(
        ahead >= 20,
        "frames committed ahead with FIFO and commit timing: {ahead} of 40"
    );
    assert!(presented >= 20, "{presented} of 40 frames presented");
    println!(
        "Mutter pacing: {presented} presented, mean jitter {} us, {} wakeups",
        count(&paced, "presentation-jitter-us"),
        count(&paced, "dispatch-wakeups")
    );
}
