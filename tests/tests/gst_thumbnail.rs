//! zcthumbnail on the real kernel: thumbnails read from heap and udmabuf
//! dma-bufs (zc's) and from vivid's (a V4L2 driver's) inside real
//! DMA_BUF_IOCTL_SYNC brackets, with every begin ended and no fd left open.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../plugins/gst/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::{init, play_to_eos};
use gst::prelude::*;
use zc_vm_tests::{fd_count, load_vivid, require_vm};

/// What each open fd of this process is (for messages about leaks).
fn fd_targets() -> Vec<String> {
    let mut targets: Vec<String> = zc_dmabuf::fds::open_fds()
        .into_iter()
        .map(|f| f.target)
        .collect();
    targets.sort();
    targets
}

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zc-vm-thumbnail-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

#[derive(Debug, PartialEq, Eq)]
struct Counters {
    written: u64,
    skipped: u64,
    failed: u64,
    begun: u64,
    ended: u64,
}

/// Run `description` (thumbnail element named `thumb`) to EOS; its counters,
/// the written files, and whether the memory zcthumbnail saw was dma-buf memory.
fn thumbnails(description: &str) -> (Counters, Vec<PathBuf>, bool) {
    init();
    let pipeline = gst::parse::launch(description)
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("pipeline");
    let thumb = pipeline.by_name("thumb").expect("thumb");
    let dma_buf = Arc::new(Mutex::new(true));
    {
        let dma_buf = dma_buf.clone();
        thumb.static_pad("sink").expect("sink pad").add_probe(
            gst::PadProbeType::BUFFER,
            move |_, info| {
                if let Some(buffer) = info.buffer() {
                    let all = buffer
                        .iter_memories()
                        .all(|m| m.is_memory_type::<gst_allocators::DmaBufMemory>());
                    *dma_buf.lock().expect("lock") &= all;
                }
                gst::PadProbeReturn::Ok
            },
        );
    }
    let files = Arc::new(Mutex::new(Vec::new()));
    {
        let files = files.clone();
        let bus = pipeline.bus().expect("bus");
        bus.enable_sync_message_emission();
        bus.connect_sync_message(None, move |_, message| {
            if let gst::MessageView::Element(e) = message.view()
                && let Some(s) = e.structure().filter(|s| s.name() == "zc-thumbnail")
            {
                files.lock().expect("lock").push(PathBuf::from(
                    s.get::<String>("location").expect("location"),
                ));
            }
        });
    }
    play_to_eos(&pipeline, 600);
    let counters = Counters {
        written: thumb.property("thumbnails-written"),
        skipped: thumb.property("frames-skipped"),
        failed: thumb.property("thumbnails-failed"),
        begun: thumb.property("cpu-brackets-begun"),
        ended: thumb.property("cpu-brackets"),
    };
    let files = files.lock().expect("lock").clone();
    let dma_buf = *dma_buf.lock().expect("lock");
    (counters, files, dma_buf)
}

fn smpte_through(middle: &str, dir: &Path) -> String {
    format!(
        "videotestsrc num-buffers=3 pattern=smpte ! video/x-raw,format=NV12,width=640,height=360,framerate=1/1 \
         ! {middle} zcthumbnail name=thumb interval=1000000000 format=png location={}/%d.png ! fakesink sync=true",
        dir.display()
    )
}

/// Thumbnails read from heap and udmabuf dma-bufs are the same PNGs as from
/// system memory: the bracketed mapping shows the frame the producer wrote.
fn same_thumbnails_as_system_memory(backend: &str) {
    require_vm();
    let reference_dir = folder(&format!("{backend}-reference"));
    let (reference, reference_files, _) = thumbnails(&smpte_through("", &reference_dir));
    assert_eq!(
        (reference.begun, reference.ended),
        (0, 0),
        "system memory has no fd to bracket"
    );
    let dir = folder(backend);
    let fds_before = fd_count();
    let (counters, files, dma_buf) = thumbnails(&smpte_through(
        &format!("zcexport backend={backend} !"),
        &dir,
    ));
    let fds_after = fd_count();
    println!(
        "{backend}: {counters:?}, {} fds before, {fds_after} after",
        fds_before
    );
    assert!(dma_buf, "zcthumbnail saw {backend} dma-buf memory");
    assert_eq!(counters.failed, 0);
    assert!(counters.written >= 1);
    assert_eq!(counters.begun, counters.ended, "every begin has its end");
    assert_eq!(
        counters.ended, counters.written,
        "one bracket per frame read (one dma-buf per NV12 frame)"
    );
    assert!(
        fds_after <= fds_before + 2,
        "fds: {fds_before} before, {fds_after} after"
    );
    // The first frame is always taken (the encoder is idle); later ones may
    // be skipped differently under emulation, and smpte's snow moves.
    let (ours, reference) = (&files[0], &reference_files[0]);
    let (a, b) = (
        std::fs::read(ours).expect("read"),
        std::fs::read(reference).expect("read"),
    );
    assert_eq!(
        a,
        b,
        "{} differs from the system-memory thumbnail {}",
        ours.display(),
        reference.display()
    );
}

#[test]
fn thumbnails_from_heap_dma_bufs() {
    same_thumbnails_as_system_memory("heap");
}

#[test]
fn thumbnails_from_udmabuf_dma_bufs() {
    same_thumbnails_as_system_memory("udmabuf");
}

fn vivid_description(dir: &Path, thumbnail: bool) -> String {
    let middle = if thumbnail {
        format!(
            "zcthumbnail name=thumb interval=0 keyframes-only=true format=png width=160 height=120 \
             location={}/vivid-%03d.png !",
            dir.display()
        )
    } else {
        String::new()
    };
    format!(
        "v4l2src device=/dev/video0 io-mode=dmabuf num-buffers=12 ! video/x-raw,format=YUY2,width=640,height=480 \
         ! {middle} fakesink"
    )
}

#[test]
fn thumbnails_from_vivid_dma_bufs() {
    load_vivid();
    let dir = folder("vivid");
    // Straight from the driver: GstDmaBufMemory that no zc allocator made.
    let (counters, files, dma_buf) = thumbnails(&vivid_description(&dir, true));
    println!("vivid: {counters:?}");
    assert!(dma_buf, "vivid delivered dma-bufs");
    assert_eq!(
        counters.written + counters.skipped + counters.failed,
        12,
        "{counters:?}"
    );
    assert!(
        counters.written >= 1 && counters.failed == 0,
        "{counters:?}"
    );
    assert_eq!(counters.begun, counters.ended, "every begin has its end");
    assert_eq!(counters.ended, counters.written);

    // Open fds: the pipeline without zcthumbnail, then with it, after the
    // warm-up above (the first run opens what GStreamer and v4l2 keep).
    let baseline = gst::parse::launch(&vivid_description(&dir, false)).expect("pipeline");
    let f0 = fd_count();
    let t0 = fd_targets();
    play_to_eos(
        baseline.downcast_ref::<gst::Pipeline>().expect("pipeline"),
        600,
    );
    drop(baseline);
    let f1 = fd_count();
    let _ = thumbnails(&vivid_description(&folder("vivid-again"), true));
    let f2 = fd_count();
    let t2 = fd_targets();
    println!(
        "fds: {f0} before the plain pipeline, {f1} after it, {f2} after the one with zcthumbnail"
    );
    // Each v4l2src pipeline leaves /dev/video0 and bus sockets open, with or
    // without zcthumbnail; no dma-buf may stay open after either.
    let dma_bufs = |targets: &[String]| targets.iter().filter(|t| t.contains("dmabuf")).count();
    assert_eq!(dma_bufs(&t2), dma_bufs(&t0), "dma-bufs left open: {t2:?}");
    assert!(
        f2.saturating_sub(f1) <= f1.saturating_sub(f0) + 2,
        "zcthumbnail left fds open: {f0} -> {f1} -> {f2}"
    );

    // vivid's default picture is eight 75% colour bars: white (a light grey),
    // yellow, cyan, green, magenta, red, blue, black.
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&files[0]).expect("png"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut rgb = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut rgb).expect("png frame");
    assert_eq!((info.width, info.height), (160, 120));
    let at = |x: u32, y: u32| {
        let i = ((y * info.width + x) * 3) as usize;
        [rgb[i], rgb[i + 1], rgb[i + 2]]
    };
    let first = at(5, 80);
    let blue = at(130, 80);
    println!("vivid first bar {first:?}, seventh bar {blue:?}");
    assert!(
        first.iter().all(|c| (150..=230).contains(c)),
        "first bar {first:?}"
    );
    assert!(
        blue[2] > blue[0] + 60 && blue[2] > blue[1] + 60,
        "seventh bar {blue:?}"
    );
}
