//! Which frames `zcthumbnail` reads, natively: `snapshot` the next one
//! at full size, `snapshot-last` the one that passed last (a paused
//! pipeline's), `interval` by timestamp (files named by it), and
//! `keyframes-only` none but key units.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::thumbnail::{launch, location_of, pixel, run_pipeline};
use common::{folder, init, read_png};
use gst::prelude::*;

#[test]
fn snapshot_picks_the_next_frame_at_full_size() {
    init();
    let dir = folder("zcthumbnail", "snapshot");
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=5 ! video/x-raw,format=NV12,width=160,height=90 ! zcexport ! zcthumbnail name=thumb \
         interval=0 width=0 height=0 format=png location={}/snap-%t.png ! fakesink",
        dir.display()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let run = run_pipeline(&pipeline, |thumb| thumb.emit_by_name::<()>("snapshot", &[]));
    assert_eq!(run.error, None);
    assert_eq!(run.thumbnails.len(), 1, "{run:?}");
    let s = &run.thumbnails[0];
    assert_eq!(
        (s.get::<u32>("width"), s.get::<u32>("height")),
        (Ok(160), Ok(90))
    );
    assert_eq!(s.get::<gst::ClockTime>("pts"), Ok(gst::ClockTime::ZERO));
    assert!(location_of(s).ends_with("snap-0.png"));
    assert_eq!(read_png(&location_of(s)).0, 160);
}

/// Paused, no next frame comes: with keep-last-frame, `snapshot-last`
/// writes the prerolled frame at once; without it, it answers false and
/// nothing is written until a frame flows.
#[test]
fn snapshot_last_takes_the_paused_frame() {
    init();
    for keep in [true, false] {
        let dir = folder("zcthumbnail", &format!("snapshot-last-{keep}"));
        let pipeline = gst::parse::launch(&format!(
            "videotestsrc num-buffers=5 pattern=red ! video/x-raw,format=NV12,width=160,height=90 ! zcexport \
             ! zcthumbnail name=thumb interval=0 width=0 height=0 format=png keep-last-frame={keep} \
             location={}/last-%t.png ! fakesink",
            dir.display()
        ))
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("pipeline");
        let thumb = pipeline.by_name("thumb").expect("thumb");
        pipeline.set_state(gst::State::Paused).expect("paused");
        let (prerolled, _, _) = pipeline.state(gst::ClockTime::from_seconds(30));
        assert_eq!(prerolled, Ok(gst::StateChangeSuccess::Success));
        let taken = thumb.emit_by_name::<bool>("snapshot-last", &[]);
        assert_eq!(taken, keep, "snapshot-last with keep-last-frame={keep}");
        let bus = pipeline.bus().expect("bus");
        let message = bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(if keep { 30 } else { 2 }),
            &[gst::MessageType::Element, gst::MessageType::Error],
        );
        pipeline.set_state(gst::State::Null).expect("null");
        let thumbnail = message
            .as_ref()
            .and_then(|m| m.structure())
            .filter(|s| s.name() == "zc-thumbnail")
            .map(|s| s.to_owned());
        if !keep {
            assert!(
                thumbnail.is_none(),
                "paused, nothing to take: {thumbnail:?}"
            );
            continue;
        }
        let thumbnail = thumbnail.expect("a thumbnail of the paused frame");
        assert_eq!(
            thumbnail.get::<gst::ClockTime>("pts"),
            Ok(gst::ClockTime::ZERO)
        );
        let image = read_png(&location_of(&thumbnail));
        assert_eq!((image.0, image.1), (160, 90));
        let [r, g, b] = pixel(&image, 80, 45);
        assert!(
            r > 200 && g < 40 && b < 40,
            "the red frame, read back: {:?}",
            [r, g, b]
        );
    }
}

#[test]
fn interval_picks_by_timestamp_and_names_files_by_it() {
    let dir = folder("zcthumbnail", "interval");
    let run = launch(&format!(
        "videotestsrc num-buffers=30 ! video/x-raw,format=NV12,width=64,height=36,framerate=50/1 ! zcexport \
         ! zcthumbnail name=thumb interval=200000000 location={}/at-%06t.jpg ! fakesink sync=true",
        dir.display()
    ));
    assert_eq!(run.error, None);
    let names: Vec<String> = run
        .thumbnails
        .iter()
        .map(|s| {
            location_of(s)
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    // Picked at 0, 200 and 400 ms; the encoder (at nice 19) may be busy for one on a loaded machine.
    assert_eq!(
        names.first().map(String::as_str),
        Some("at-000000.jpg"),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .all(|n| ["at-000000.jpg", "at-000200.jpg", "at-000400.jpg"].contains(&n.as_str())),
        "{names:?}"
    );
    assert_eq!(
        run.counters.written + run.counters.skipped,
        3,
        "{:?}",
        run.counters
    );
}

#[test]
fn keyframes_only_skips_delta_units() {
    init();
    let dir = folder("zcthumbnail", "keyframes");
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time caps=video/x-raw,format=BGRx,width=8,height=8,framerate=10/1 \
         ! zcthumbnail name=thumb interval=0 keyframes-only=true format=png location={}/k-%t.png ! fakesink sync=true",
        dir.display()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let src = pipeline
        .by_name("src")
        .expect("appsrc")
        .downcast::<gst_app::AppSrc>()
        .expect("appsrc");
    // Keyframes at 0 and 300 ms, delta units between.
    for (i, key) in [true, false, false, true, false].into_iter().enumerate() {
        let mut buffer = gst::Buffer::from_mut_slice(vec![0x80u8; 8 * 8 * 4]);
        let b = buffer.get_mut().expect("new");
        b.set_pts(gst::ClockTime::from_mseconds(100 * i as u64));
        if !key {
            b.set_flags(gst::BufferFlags::DELTA_UNIT);
        }
        src.push_buffer(buffer).expect("queued");
    }
    src.end_of_stream().expect("eos queued");
    let run = run_pipeline(&pipeline, |_| {});
    assert_eq!(run.error, None);
    let pts: Vec<u64> = run
        .thumbnails
        .iter()
        .map(|s| s.get::<gst::ClockTime>("pts").expect("pts").mseconds())
        .collect();
    assert_eq!(pts.first(), Some(&0), "{pts:?}");
    assert!(
        pts.iter().all(|p| *p == 0 || *p == 300),
        "only keyframes: {pts:?}"
    );
    // The encoder (at nice 19) may still be busy with the first at 300 ms on a loaded machine.
    assert_eq!(
        run.counters.written + run.counters.skipped,
        2,
        "{:?}",
        run.counters
    );
    assert_eq!(
        (run.counters.begun, run.counters.brackets),
        (0, 0),
        "system memory has no fd to bracket"
    );
}
