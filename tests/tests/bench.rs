//! zc-bench in the VM: a tiny matrix with every path, dma-bufs included.
//! The zero-copy path must copy 0 bytes per frame and show every frame to
//! the compositor as a dma-buf; the copy path must copy exactly one frame
//! per frame; every path must run.
//!
//! The binary is zc-bench from the same target folder (`cargo xtask test`
//! builds it; `ZC_BENCH` names another).

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use zc_vm_tests::require_vm;

fn bench_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("ZC_BENCH") {
        return PathBuf::from(path);
    }
    // This test runs from target/<profile>/deps/.
    let exe = std::env::current_exe().expect("the test's own path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    dir.join("zc-bench")
}

fn unload_vgem() {
    // Weston's GL renderer crashes drawing dma-bufs with vgem loaded.
    if std::path::Path::new("/sys/module/vgem").exists() {
        let status = Command::new("modprobe")
            .args(["-r", "vgem"])
            .status()
            .expect("running modprobe -r vgem");
        assert!(status.success(), "cannot unload vgem (still in use?)");
    }
}

/// Run zc-bench with `args` into target/zc-bench/`name`; its report.json
/// and the folder.
fn run_bench(name: &str, args: &[&str]) -> (serde_json::Value, PathBuf) {
    let bench = bench_binary();
    assert!(
        bench.is_file(),
        "{} is missing: build it with `cargo build -p zc-app --bin zc-bench` (cargo xtask test does)",
        bench.display()
    );
    // This test runs from <target folder>/<profile>/deps/ (the folder may
    // have any name: CARGO_TARGET_DIR).
    let exe = std::env::current_exe().expect("the test's own path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test runs from <target>/<profile>/deps/")
        .to_path_buf();
    // In the VM only the checkout is writable (and /tmp): a target folder
    // outside the checkout (CARGO_TARGET_DIR) is read-only there.
    let mut base = target.join("zc-bench");
    let probe = base.join(".writable");
    if std::fs::create_dir_all(&base)
        .and_then(|()| std::fs::write(&probe, b""))
        .is_err()
    {
        base = std::env::temp_dir().join("zc-bench");
    }
    let _ = std::fs::remove_file(&probe);
    let work = base.join(name);
    let _ = std::fs::remove_dir_all(&work);
    let output = Command::new(&bench)
        .args(["--profile", "vm", "--no-progress"])
        .args(args)
        .arg("--out")
        .arg(&work)
        .arg("--clips")
        .arg(work.join("clips"))
        // The root file system is read-only here: keep GStreamer's registry
        // where it can be written, or every case rescans every plugin.
        .env("GST_REGISTRY", base.join("gst-registry-vm.bin"))
        .output()
        .expect("running zc-bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "zc-bench failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(work.join("report.json")).expect("report.json");
    let report: serde_json::Value = serde_json::from_str(&text).expect("report.json is JSON");
    (report, work)
}

#[test]
fn every_path_runs_and_zero_copy_copies_nothing() {
    require_vm();
    unload_vgem();
    // Paced at 30 frames a second, faster than the VM draws: the checks
    // here are about copies and memory, not the compositor's figures.
    let (report, work) = run_bench(
        "vm-test",
        &[
            "--sources",
            "raw",
            "--sizes",
            "720p",
            "--paths",
            "fakesink,zero-copy,copy,waylandsink,videoconvert,gpu",
            "--repetitions",
            "1",
            "--frames",
            "12",
            "--warmup",
            "3",
            "--pace",
            "30",
        ],
    );
    assert_eq!(report["environment"]["where"], "vm");
    assert_eq!(
        report["environment"]["dma_buf"], true,
        "zc's frames must be dma-bufs in the VM: {}",
        report["environment"]["backends"]
    );

    let cases = report["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 6);
    for case in cases {
        assert_eq!(
            case["status"], "ran",
            "{} did not run: {}",
            case["path"], case["reason"]
        );
        assert_eq!(case["samples"].as_array().map(Vec::len), Some(1));
    }
    let sample = |path: &str| {
        cases
            .iter()
            .find(|c| c["path"] == path)
            .map(|c| c["samples"][0].clone())
            .unwrap_or_else(|| panic!("no {path} case"))
    };
    let measured = 12 - 3;

    let zero_copy = sample("zero-copy");
    assert_eq!(zero_copy["frames_measured"], measured);
    assert_eq!(
        zero_copy["bytes_copied"], 0,
        "the zero-copy path copied: {zero_copy}"
    );
    assert_eq!(zero_copy["bytes_copied_per_frame"], 0.0);
    assert_eq!(
        zero_copy["memory_at_sink"]["dmabuf"], measured,
        "every frame reaches zcwaylandsink as a dma-buf: {zero_copy}"
    );
    assert_eq!(zero_copy["sink_path"], "dmabuf");

    // NV12 1280x720 is 1,382,400 bytes; zcexport copies each frame once.
    let copy = sample("copy");
    assert_eq!(copy["export_bytes_copied"], 1_382_400 * measured);
    assert_eq!(copy["sink_bytes_copied"], 0);
    assert_eq!(copy["memory_at_sink"]["dmabuf"], measured);

    // The GPU path hands zcwaylandsink Vulkan's RGBA dma-bufs, uncopied.
    let gpu = sample("gpu");
    assert_eq!(gpu["bytes_copied"], 0, "{gpu}");
    assert_eq!(gpu["sink_path"], "dmabuf");

    // Stock waylandsink gets videotestsrc's frames in buffers of its own
    // pool: wl_shm on 1.22, memfds on 1.26, udmabufs on 1.28 (seen in
    // `cargo xtask bench --distro` runs, docs/bench.md; 1.24 not run).
    let version = report["environment"]["gstreamer"]
        .as_str()
        .expect("the GStreamer version");
    // "GStreamer 1.22.0"
    let minor: u32 = version
        .rsplit(' ')
        .next()
        .and_then(|number| number.split('.').nth(1)?.parse().ok())
        .unwrap_or_else(|| panic!("no minor version in {version:?}"));
    let stock_memory = match minor {
        ..26 => "wl_shm",
        26..28 => "fd",
        _ => "dmabuf",
    };
    let stock = sample("waylandsink");
    assert_eq!(
        stock["memory_at_sink"][stock_memory], measured,
        "{version}: {stock}"
    );
    // Frames in its own pool go to the compositor as they are: the report
    // infers no copy by the stock sink (1.26's memfds were once counted as
    // copied).
    assert_eq!(
        stock["bytes_copied_inferred_per_frame"].as_f64(),
        Some(0.0),
        "{version}: {stock}"
    );

    // zc's paths leave no fd open (stock 1.28 keeps 2 for the process,
    // perhaps its udmabuf device: not zc's to check).
    for case in cases.iter().filter(|c| c["path"] != "waylandsink") {
        let s = &case["samples"][0];
        assert_eq!(
            s["fds_end"], s["fds_before"],
            "{} left fds open",
            case["path"]
        );
    }
    let markdown = std::fs::read_to_string(work.join("report.md")).expect("report.md");
    assert!(markdown.contains("(vm)") && markdown.contains("frames are dma-bufs"));
}

/// The VM's figures rest on enough drawn frames: one paced case per path
/// (the raw source live at a frame every two seconds) and the compositor draws at
/// least 30 frames of each window, so the report gives ratios, not "not
/// comparable".
#[test]
fn paced_cases_reach_the_drawn_frame_minimum() {
    require_vm();
    unload_vgem();
    let (report, work) = run_bench(
        "vm-paced",
        &[
            "--sources",
            "raw",
            "--sizes",
            "720p",
            "--paths",
            "zero-copy,copy,waylandsink",
            "--repetitions",
            "1",
            "--frames",
            "36",
            "--warmup",
            "4",
            // One llvmpipe repaint takes 0.4-0.7 s of CPU under emulation
            // (docs/bench.md); at a frame a second Weston once drew only 27
            // of the zero-copy case's 32 frames in CI (542 ms per drawn
            // frame, with the pipeline beside it on the VM's two CPUs).
            "--pace",
            "1/2",
        ],
    );
    assert_eq!(report["settings"]["pace"], "1/2");
    let cases = report["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 3);
    for case in cases {
        assert_eq!(
            case["status"], "ran",
            "{} did not run: {}",
            case["path"], case["reason"]
        );
        let sample = &case["samples"][0];
        assert_eq!(sample["frames_measured"], 32, "{sample}");
        let drawn = sample["frames_composited"].as_u64().unwrap_or(0);
        assert!(
            drawn >= 30,
            "{}: the compositor drew {drawn} of 32 paced frames (at least 30 needed): {sample}",
            case["path"]
        );
    }
    let markdown = std::fs::read_to_string(work.join("report.md")).expect("report.md");
    assert!(
        !markdown.contains("not comparable"),
        "every figure rests on 30 drawn frames or more:\n{markdown}"
    );
}
