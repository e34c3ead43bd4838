use std::collections::BTreeMap;

use super::*;
use crate::bench::case::Sample;
use crate::bench::environment::Environment;
use crate::bench::report::{CaseResult, CaseStatus, SCHEMA, Settings};

fn sample(pipeline_us: f64, compositor_us: f64, export_bytes: u64, fps: f64) -> Sample {
    Sample {
        frames_measured: 100,
        fps,
        pipeline_cpu_us_per_frame: pipeline_us,
        compositor_cpu_us_per_composited_frame: Some(compositor_us),
        frames_composited: Some(30),
        bytes_copied: Some(export_bytes),
        bytes_copied_per_frame: Some(export_bytes as f64 / 100.0),
        export_bytes_copied: Some(export_bytes),
        sink_bytes_copied: Some(0),
        ..Sample::default()
    }
}

fn report(cases: Vec<(PathKind, Sample)>) -> Report {
    let environment = Environment {
        where_: Where::Native,
        kernel: "k".to_owned(),
        cpu_model: "c".to_owned(),
        cpu_count: 2,
        memory_kib: 1,
        gstreamer: "g".to_owned(),
        zc_backend: "memfd".to_owned(),
        dma_buf: false,
        backends: Vec::new(),
        compositor: None,
        vgem_loaded: false,
        zc_bench_version: "0".to_owned(),
        zc_commit: None,
        os: None,
        arch: "x86_64".to_owned(),
        started_unix_s: 0,
    };
    let cases = cases
        .into_iter()
        .map(|(path, sample)| {
            let samples = vec![sample];
            CaseResult {
                source: Source::Raw,
                size: Size::P1080,
                width: 1920,
                height: 1080,
                path,
                frames: 110,
                pipeline: String::new(),
                status: CaseStatus::Ran,
                reason: None,
                known_copies: Vec::new(),
                summary: Summary::of(&samples),
                samples,
            }
        })
        .collect();
    let mut report = Report {
        schema: SCHEMA.to_owned(),
        environment,
        settings: Settings {
            quick: false,
            profile: "native".to_owned(),
            repetitions: 1,
            warmup_frames: 10,
            frames: BTreeMap::new(),
            sources: vec![Source::Raw],
            sizes: vec![Size::P1080],
            paths: vec![PathKind::Fakesink, PathKind::ZeroCopy, PathKind::Copy],
            command: String::new(),
            pace: None,
        },
        cases,
        targets: Vec::new(),
    };
    report.evaluate_targets();
    report
}

fn target<'a>(report: &'a Report, id: &str) -> &'a TargetResult {
    report
        .targets
        .iter()
        .find(|t| t.id == id && t.scope == "raw 1080p")
        .unwrap_or_else(|| panic!("no {id} target in {:#?}", report.targets))
}

#[test]
fn system_cpu_on_a_few_drawn_frames_is_not_comparable() {
    let few = |pipeline, compositor| Sample {
        frames_composited: Some(2),
        ..sample(pipeline, compositor, 0, 300.0)
    };
    let report = report(vec![
        (PathKind::Fakesink, sample(1000.0, 0.0, 0, 300.0)),
        (PathKind::ZeroCopy, few(1010.0, 8000.0)),
        (
            PathKind::Copy,
            sample(1400.0, 8000.0, 3_110_400 * 100, 250.0),
        ),
    ]);
    let system = target(&report, "system-cpu");
    assert_eq!(system.status, TargetStatus::NotEvaluated);
    assert!(
        system.detail.contains("not comparable") && system.detail.contains("as few as 2"),
        "{}",
        system.detail
    );
    let markdown = crate::bench::markdown::render(&report);
    assert!(markdown.contains("not comparable (2 drawn)"), "{markdown}");
}

#[test]
fn targets_are_met_or_missed_by_the_numbers() {
    let frame = 3_110_400;
    // zero-copy adds 10 us over the floor, copy 400: 2.5%, under 50 us.
    let good = report(vec![
        (PathKind::Fakesink, sample(1000.0, 0.0, 0, 300.0)),
        (PathKind::ZeroCopy, sample(1010.0, 8000.0, 0, 290.0)),
        (PathKind::Copy, sample(1400.0, 8000.0, frame * 100, 250.0)),
    ]);
    assert_eq!(target(&good, "zero-copy-bytes").status, TargetStatus::Met);
    assert_eq!(target(&good, "raw-overhead").status, TargetStatus::Met);
    assert_eq!(
        target(&good, "raw-overhead-native").status,
        TargetStatus::Met
    );
    assert_eq!(target(&good, "system-cpu").status, TargetStatus::Met);
    // No H.264 in this matrix: said, not skipped.
    let h264 = good.targets.iter().find(|t| t.id == "h264-fps").unwrap();
    assert_eq!(h264.status, TargetStatus::NotEvaluated);
    assert!(h264.detail.contains("not in this run's matrix"));

    // zero-copy adds 100 us (25% of copy's 400) and copies in zcexport.
    let bad = report(vec![
        (PathKind::Fakesink, sample(1000.0, 0.0, 0, 300.0)),
        (PathKind::ZeroCopy, sample(1100.0, 9000.0, 500, 290.0)),
        (PathKind::Copy, sample(1400.0, 8000.0, frame * 100, 250.0)),
    ]);
    let bytes = target(&bad, "zero-copy-bytes");
    assert_eq!(bytes.status, TargetStatus::Missed);
    assert!(
        bytes.detail.contains("5 B per frame") && bytes.detail.contains("zcexport copied 500"),
        "{}",
        bytes.detail
    );
    let overhead = target(&bad, "raw-overhead");
    assert_eq!(overhead.status, TargetStatus::Missed);
    assert!(
        overhead.detail.contains("25.0% of the copy path's")
            && overhead.detail.contains("missed by 20.0 points"),
        "{}",
        overhead.detail
    );
    let native = target(&bad, "raw-overhead-native");
    assert!(
        native.detail.contains("missed by 50.0 us"),
        "{}",
        native.detail
    );
    // 10100 against 9400 us per frame.
    let system = target(&bad, "system-cpu");
    assert_eq!(system.status, TargetStatus::Missed);
    assert!(
        system.detail.contains("missed by 700 us/frame"),
        "{}",
        system.detail
    );
}

#[test]
fn a_target_whose_case_did_not_run_says_why() {
    let mut r = report(vec![
        (PathKind::Fakesink, sample(1000.0, 0.0, 0, 300.0)),
        (PathKind::ZeroCopy, sample(1010.0, 8000.0, 0, 290.0)),
    ]);
    r.cases.push(CaseResult {
        path: PathKind::Copy,
        status: CaseStatus::Failed,
        reason: Some("sink: the compositor went away".to_owned()),
        samples: Vec::new(),
        summary: None,
        ..r.cases[0].clone()
    });
    r.evaluate_targets();
    let overhead = target(&r, "raw-overhead");
    assert_eq!(overhead.status, TargetStatus::NotEvaluated);
    assert!(
        overhead
            .detail
            .contains("the copy case did not run: sink: the compositor went away"),
        "{}",
        overhead.detail
    );
}
