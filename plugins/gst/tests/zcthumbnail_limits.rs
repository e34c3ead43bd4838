//! `zcthumbnail` against hostile settings and folders (issue 14): location
//! patterns and sizes out of range fail the pipeline with an element error
//! that states the limit (never a panic or an out-of-memory abort), and
//! files are never written through a symlink planted in the folder.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use common::{folder, init};
use gst::prelude::*;

#[derive(Debug, Default)]
struct Run {
    written: Vec<PathBuf>,
    error: Option<String>,
}

/// Run `description` (its thumbnail element named `thumb`) to EOS or error.
fn launch(description: &str) -> Run {
    init();
    let pipeline = gst::parse::launch(description)
        .expect("pipeline parses")
        .downcast::<gst::Pipeline>()
        .expect("pipeline");
    let bus = pipeline.bus().expect("bus");
    let mut run = Run::default();
    let error_text =
        |e: &gst::message::Error| format!("{} ({})", e.error(), e.debug().unwrap_or_default());
    if pipeline.set_state(gst::State::Playing).is_ok() {
        for message in bus.iter_timed(gst::ClockTime::from_seconds(60)) {
            match message.view() {
                gst::MessageView::Element(e) => {
                    if let Some(s) = e.structure().filter(|s| s.name() == "zc-thumbnail") {
                        let location: String = s.get("location").expect("location");
                        run.written.push(PathBuf::from(location));
                    }
                }
                gst::MessageView::Error(e) => {
                    run.error = Some(error_text(e));
                    break;
                }
                gst::MessageView::Eos(_) => break,
                _ => {}
            }
        }
    }
    while let Some(message) = bus.pop() {
        if let gst::MessageView::Error(e) = message.view()
            && run.error.is_none()
        {
            run.error = Some(error_text(e));
        }
    }
    pipeline.set_state(gst::State::Null).expect("null");
    run
}

fn thumbnails(dir: &Path, location: &str, extra: &str) -> Run {
    launch(&format!(
        "videotestsrc num-buffers=3 ! video/x-raw,format=NV12,width=64,height=48 \
         ! zcthumbnail name=thumb {extra} location={}/{location} ! fakesink",
        dir.display()
    ))
}

#[test]
fn a_huge_field_width_is_an_element_error_naming_the_limit() {
    let dir = folder("zcthumbnail-limits", "width");
    for pattern in [
        "t%070000d.jpg",
        "t%0700t.jpg",
        "t%99999999999999999999999d.jpg",
    ] {
        let run = thumbnails(&dir, pattern, "");
        let error = run.error.unwrap_or_else(|| panic!("{pattern}: no error"));
        assert!(!error.contains("Panicked"), "{pattern}: {error}");
        assert!(
            error.contains("field width") && error.contains("at most 32"),
            "{pattern}: {error}"
        );
        assert!(run.written.is_empty(), "{pattern}: {:?}", run.written);
    }
    // The largest width allowed works.
    let run = thumbnails(&dir, "t%032d.jpg", "");
    assert_eq!(run.error, None);
    assert_eq!(
        run.written.first(),
        Some(&dir.join(format!("t{}.jpg", "0".repeat(32))))
    );
}

#[test]
fn oversized_thumbnails_are_an_element_error_naming_the_limit() {
    let dir = folder("zcthumbnail-limits", "size");
    // A bounding box over the limit, refused at start.
    let run = thumbnails(&dir, "%d.jpg", "width=65535 height=65535");
    let error = run.error.expect("an error");
    assert!(!error.contains("Panicked"), "{error}");
    assert!(error.contains("67108864 pixels"), "{error}");
    // One side given, the other following the frame's aspect ratio: the
    // fitted size (65535x49151) is over the limit, refused at the frame.
    let run = thumbnails(&dir, "%d.jpg", "width=65535 height=0");
    let error = run.error.expect("an error");
    assert!(error.contains("67108864 pixels"), "{error}");
    assert!(error.contains("65535x"), "{error}");
    assert!(run.written.is_empty());
    // A large but allowed size still works.
    let run = thumbnails(&dir, "%d.png", "width=2048 height=0 format=png");
    assert_eq!(run.error, None);
    assert_eq!(run.written.len(), 1);
}

#[test]
fn the_largest_interval_does_not_panic() {
    let dir = folder("zcthumbnail-limits", "interval");
    let run = thumbnails(&dir, "%d.jpg", "interval=18446744073709551615");
    assert_eq!(run.error, None);
    // The first frame is taken; none is due again within the stream.
    assert_eq!(run.written, vec![dir.join("0.jpg")]);
    let run = thumbnails(&dir, "%d.jpg", "interval=18446744073709551614");
    assert_eq!(run.error, None);
    assert_eq!(run.written, vec![dir.join("0.jpg")]);
}
fn assert_victim_unchanged(victim: &Path, content: &[u8]) {
    let now = std::fs::read(victim).expect("victim");
    assert!(
        now == content,
        "the victim was overwritten: {} bytes, starting {:02x?}",
        now.len(),
        &now[..now.len().min(8)]
    );
}

/// A victim file outside the thumbnail folder, and its content.
fn victim(dir: &Path) -> (PathBuf, &'static [u8]) {
    let content: &'static [u8] = b"precious, not a thumbnail";
    let path = dir.join("victim.txt");
    std::fs::write(&path, content).expect("write victim");
    (path, content)
}

#[test]
fn a_symlink_at_the_output_name_is_replaced_not_followed() {
    let dir = folder("zcthumbnail-limits", "symlink-target");
    let thumbs = dir.join("thumbs");
    std::fs::create_dir(&thumbs).expect("mkdir");
    let (victim, content) = victim(&dir);
    symlink(&victim, thumbs.join("0.jpg")).expect("plant symlink");
    let run = thumbnails(&thumbs, "%d.jpg", "");
    assert_eq!(run.error, None);
    assert_eq!(run.written, vec![thumbs.join("0.jpg")]);
    assert_victim_unchanged(&victim, content);
    let meta = std::fs::symlink_metadata(thumbs.join("0.jpg")).expect("output");
    assert!(
        meta.file_type().is_file(),
        "the output is a file of its own"
    );
}

#[test]
fn a_symlink_at_the_old_temporary_name_is_not_followed() {
    let dir = folder("zcthumbnail-limits", "symlink-tmp");
    let thumbs = dir.join("thumbs");
    std::fs::create_dir(&thumbs).expect("mkdir");
    let (victim, content) = victim(&dir);
    symlink(&victim, thumbs.join("0.jpg.tmp")).expect("plant symlink");
    let run = thumbnails(&thumbs, "%d.jpg", "");
    assert_eq!(run.error, None);
    assert_eq!(run.written, vec![thumbs.join("0.jpg")]);
    assert_victim_unchanged(&victim, content);
    let jpeg = std::fs::read(thumbs.join("0.jpg")).expect("thumbnail");
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
}

#[test]
fn a_symlink_at_the_folder_probe_name_is_not_followed() {
    let dir = folder("zcthumbnail-limits", "symlink-probe");
    let thumbs = dir.join("thumbs");
    std::fs::create_dir(&thumbs).expect("mkdir");
    let (victim, content) = victim(&dir);
    // The folder check used to create (truncate) a predictable probe file.
    let probe = thumbs.join(format!(".zcthumbnail-probe-{}", std::process::id()));
    symlink(&victim, &probe).expect("plant symlink");
    let run = thumbnails(&thumbs, "%d.jpg", "");
    assert_eq!(run.error, None);
    assert_victim_unchanged(&victim, content);
}

#[test]
fn an_existing_output_file_is_replaced_and_no_temporary_is_left() {
    let dir = folder("zcthumbnail-limits", "overwrite");
    std::fs::write(dir.join("0.png"), b"old").expect("write old");
    let run = thumbnails(&dir, "%d.png", "format=png");
    assert_eq!(run.error, None);
    let png = std::fs::read(dir.join("0.png")).expect("thumbnail");
    assert_eq!(&png[..4], b"\x89PNG");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .filter(|name| name != "0.png")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
