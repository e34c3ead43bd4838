//! zc-bench end to end, natively: a small matrix on a headless Weston, then
//! report.json checked against the `zc-bench/1` schema (every field present
//! and typed) and against what the paths must have done (zero copies on the
//! zero-copy path, one frame copied per frame on the copy path, every
//! requested path with samples or a stated reason, no fd left open).

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const BENCH: &str = env!("CARGO_BIN_EXE_zc-bench");

#[derive(Clone, Copy, Debug)]
enum Ty {
    Str,
    Bool,
    Uint,
    Int,
    Num,
    Array,
    Object,
}

fn matches(value: &Value, ty: Ty) -> bool {
    match ty {
        Ty::Str => value.is_string(),
        Ty::Bool => value.is_boolean(),
        Ty::Uint => value.is_u64(),
        Ty::Int => value.is_i64() || value.is_u64(),
        Ty::Num => value.is_number(),
        Ty::Array => value.is_array(),
        Ty::Object => value.is_object(),
    }
}

/// Every field present with its type; `nullable` ones may be null.
fn check(object: &Value, at: &str, fields: &[(&str, Ty, bool)]) {
    let map = object
        .as_object()
        .unwrap_or_else(|| panic!("{at} is not an object: {object}"));
    for (name, ty, nullable) in fields {
        let value = map
            .get(*name)
            .unwrap_or_else(|| panic!("{at}.{name} is missing"));
        if value.is_null() {
            assert!(nullable, "{at}.{name} is null");
            continue;
        }
        assert!(matches(value, *ty), "{at}.{name} should be {ty:?}: {value}");
    }
    for key in map.keys() {
        assert!(
            fields.iter().any(|(name, _, _)| name == key),
            "{at}.{key} is not in the schema (document it in docs/bench.md and here)"
        );
    }
}

fn check_stat(value: &Value, at: &str) {
    check(
        value,
        at,
        &[
            ("median", Ty::Num, false),
            ("min", Ty::Num, false),
            ("max", Ty::Num, false),
        ],
    );
    let (min, median, max) = (
        value["min"].as_f64().unwrap(),
        value["median"].as_f64().unwrap(),
        value["max"].as_f64().unwrap(),
    );
    assert!(min <= median && median <= max, "{at}: {value}");
}

fn check_environment(env: &Value) {
    use Ty::*;
    check(
        env,
        "environment",
        &[
            ("where", Str, false),
            ("kernel", Str, false),
            ("cpu_model", Str, false),
            ("cpu_count", Uint, false),
            ("memory_kib", Uint, false),
            ("gstreamer", Str, false),
            ("zc_backend", Str, false),
            ("dma_buf", Bool, false),
            ("backends", Array, false),
            ("compositor", Object, true),
            ("vgem_loaded", Bool, false),
            ("zc_bench_version", Str, false),
            ("zc_commit", Str, true),
            ("os", Str, true),
            ("arch", Str, false),
            ("started_unix_s", Uint, false),
        ],
    );
    assert!(["native", "vm"].contains(&env["where"].as_str().unwrap()));
    assert_eq!(env["arch"], std::env::consts::ARCH);
    // Built in this checkout: the commit is known.
    assert!(
        env["zc_commit"].as_str().is_some_and(|c| c.len() >= 7),
        "{}",
        env["zc_commit"]
    );
    let backends = env["backends"].as_array().unwrap();
    assert_eq!(backends.len(), 4, "heap, udmabuf, gbm, memfd: {backends:?}");
    for (i, backend) in backends.iter().enumerate() {
        check(
            backend,
            &format!("environment.backends[{i}]"),
            &[
                ("name", Str, false),
                ("available", Bool, false),
                ("reason", Str, true),
            ],
        );
    }
    let compositor = &env["compositor"];
    check(
        compositor,
        "environment.compositor",
        &[
            ("name", Str, false),
            ("version", Str, false),
            ("backend", Str, false),
            ("renderer", Str, false),
            ("gl_renderer", Str, true),
            ("shell", Str, false),
            ("output_width", Uint, false),
            ("output_height", Uint, false),
            ("frames_drawn_from", Str, false),
        ],
    );
}

fn check_sample(sample: &Value, at: &str) {
    use Ty::*;
    check(
        sample,
        at,
        &[
            ("repetition", Uint, false),
            ("frames_total", Uint, false),
            ("frames_measured", Uint, false),
            ("wall_s", Num, false),
            ("fps", Num, false),
            ("pipeline_user_us", Num, false),
            ("pipeline_sys_us", Num, false),
            ("pipeline_cpu_us_per_frame", Num, false),
            ("compositor_cpu_us", Num, true),
            ("compositor_cpu_us_per_frame", Num, true),
            ("frames_composited", Uint, true),
            ("compositor_cpu_us_per_composited_frame", Num, true),
            ("bytes_copied", Uint, true),
            ("bytes_copied_per_frame", Num, true),
            ("export_bytes_copied", Uint, true),
            ("sink_bytes_copied", Uint, true),
            ("bytes_copied_inferred_per_frame", Num, true),
            ("memory_at_sink", Object, false),
            ("sink_path", Str, true),
            ("latency_us", Uint, true),
            ("frames_presented", Uint, true),
            ("frames_discarded", Uint, true),
            ("peak_rss_kib", Uint, false),
            ("fds_before", Uint, false),
            ("fds_end", Uint, false),
            ("process_wall_s", Num, false),
            ("phases_s", Object, false),
            ("window_start_ns", Uint, false),
            ("window_end_ns", Uint, false),
        ],
    );
    check(
        &sample["memory_at_sink"],
        &format!("{at}.memory_at_sink"),
        &[
            ("dmabuf", Uint, false),
            ("wl_shm", Uint, false),
            ("fd", Uint, false),
            ("system", Uint, false),
        ],
    );
    check(
        &sample["phases_s"],
        &format!("{at}.phases_s"),
        &[
            ("init", Num, false),
            ("build", Num, false),
            ("start", Num, false),
            ("warmup", Num, false),
            ("drain", Num, false),
            ("teardown", Num, false),
        ],
    );
    assert!(sample["fps"].as_f64().unwrap() > 0.0, "{at}: fps");
    assert!(
        sample["window_end_ns"].as_u64() > sample["window_start_ns"].as_u64(),
        "{at}: an empty window"
    );
}

fn check_summary(summary: &Value, at: &str) {
    use Ty::*;
    let stats = [
        ("fps", false),
        ("pipeline_cpu_us_per_frame", false),
        ("compositor_cpu_us_per_frame", true),
        ("compositor_cpu_us_per_composited_frame", true),
        ("total_cpu_us_per_frame", false),
        ("bytes_copied_per_frame", true),
        ("bytes_copied_inferred_per_frame", true),
        ("latency_us", true),
        ("peak_rss_kib", false),
        ("fds_end", false),
    ];
    let mut fields: Vec<(&str, Ty, bool)> = stats
        .iter()
        .map(|(name, nullable)| (*name, Object, *nullable))
        .collect();
    fields.push(("fds_leaked_max", Int, false));
    check(summary, at, &fields);
    for (name, _) in stats {
        if !summary[name].is_null() {
            check_stat(&summary[name], &format!("{at}.{name}"));
        }
    }
}

fn run_bench(out: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BENCH)
        .args(args)
        .arg("--out")
        .arg(out)
        .arg("--clips")
        .arg(out.join("clips"))
        .args(["--no-progress", "--profile", "native"])
        .output()
        .expect("running zc-bench")
}

#[test]
fn a_small_native_matrix_writes_a_report_that_follows_the_schema() {
    let out = std::env::temp_dir().join(format!("zc-bench-schema-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let all_paths = "fakesink,zero-copy,copy,waylandsink,videoconvert,gpu";
    let output = run_bench(
        &out,
        &[
            "--sources",
            "raw,h264",
            "--sizes",
            "720p",
            "--paths",
            all_paths,
            "--repetitions",
            "2",
            "--frames",
            "24",
            "--warmup",
            "4",
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "zc-bench failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(out.join("report.json")).expect("report.json");
    let report: Value = serde_json::from_str(&text).expect("report.json is JSON");

    use Ty::*;
    check(
        &report,
        "report",
        &[
            ("schema", Str, false),
            ("environment", Object, false),
            ("settings", Object, false),
            ("cases", Array, false),
            ("targets", Array, false),
        ],
    );
    assert_eq!(report["schema"], "zc-bench/1");
    check_environment(&report["environment"]);
    check(
        &report["settings"],
        "settings",
        &[
            ("quick", Bool, false),
            ("profile", Str, false),
            ("repetitions", Uint, false),
            ("warmup_frames", Uint, false),
            ("frames", Object, false),
            ("sources", Array, false),
            ("sizes", Array, false),
            ("paths", Array, false),
            ("command", Str, false),
            ("pace", Str, true),
        ],
    );
    assert_eq!(report["settings"]["frames"]["720p"], 24);

    // Every requested combination is there, with samples or a reason.
    let cases = report["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2 * 6, "2 sources x 1 size x 6 paths");
    for (i, case) in cases.iter().enumerate() {
        let at = format!(
            "cases[{i}] ({} {} {})",
            case["source"], case["size"], case["path"]
        );
        check(
            case,
            &at,
            &[
                ("source", Str, false),
                ("size", Str, false),
                ("width", Uint, false),
                ("height", Uint, false),
                ("path", Str, false),
                ("frames", Uint, false),
                ("pipeline", Str, false),
                ("status", Str, false),
                ("reason", Str, true),
                ("known_copies", Array, false),
                ("samples", Array, false),
                ("summary", Object, true),
            ],
        );
        let samples = case["samples"].as_array().unwrap();
        match case["status"].as_str().unwrap() {
            "ran" => {
                assert_eq!(samples.len(), 2, "{at}: two repetitions");
                assert!(case["reason"].is_null(), "{at}");
            }
            "not-run" | "failed" => {
                let reason = case["reason"].as_str().unwrap_or_default();
                assert!(reason.len() > 10, "{at}: no reason stated: {case}");
            }
            other => panic!("{at}: unknown status {other}"),
        }
        for (j, sample) in samples.iter().enumerate() {
            check_sample(sample, &format!("{at}.samples[{j}]"));
            assert_eq!(sample["frames_measured"], 20, "{at}: 24 frames - 4 warm-up");
            assert_eq!(
                sample["fds_end"], sample["fds_before"],
                "{at}: the case left fds open"
            );
        }
        if samples.is_empty() {
            assert!(case["summary"].is_null(), "{at}");
        } else {
            check_summary(&case["summary"], &format!("{at}.summary"));
        }
    }
    for (i, target) in report["targets"].as_array().unwrap().iter().enumerate() {
        check(
            target,
            &format!("targets[{i}]"),
            &[
                ("id", Str, false),
                ("target", Str, false),
                ("scope", Str, false),
                ("status", Str, false),
                ("detail", Str, false),
            ],
        );
        assert!(
            ["met", "missed", "not-evaluated"].contains(&target["status"].as_str().unwrap()),
            "{target}"
        );
    }

    // What the paths must have done, from the counters.
    let case = |source: &str, path: &str| {
        cases
            .iter()
            .find(|c| c["source"] == source && c["size"] == "720p" && c["path"] == path)
            .unwrap_or_else(|| panic!("no {source} {path} case"))
    };
    for path in ["fakesink", "zero-copy", "copy", "waylandsink"] {
        assert_eq!(
            case("raw", path)["status"],
            "ran",
            "raw {path} must run natively: {}",
            case("raw", path)
        );
    }
    let zero_copy = &case("raw", "zero-copy")["samples"];
    for sample in zero_copy.as_array().unwrap() {
        assert_eq!(sample["bytes_copied"], 0, "zero-copy copied: {sample}");
        let memory = &sample["memory_at_sink"];
        assert_eq!(
            memory["fd"].as_u64().unwrap() + memory["dmabuf"].as_u64().unwrap(),
            20,
            "every zero-copy frame in zc memory: {memory}"
        );
        assert!(sample["frames_composited"].as_u64().is_some());
    }
    // NV12 1280x720: 1280*720*3/2 bytes, copied once per frame by zcexport.
    for sample in case("raw", "copy")["samples"].as_array().unwrap() {
        assert_eq!(sample["export_bytes_copied"], 1_382_400 * 20, "{sample}");
        assert_eq!(sample["bytes_copied_per_frame"], 1_382_400.0);
    }
    assert!(
        case("raw", "fakesink")["samples"][0]["compositor_cpu_us"].is_null(),
        "the floor uses no compositor"
    );

    // The Markdown report and the charts are written too.
    let markdown = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(markdown.contains("## raw 720p") && markdown.contains("| zero-copy |"));
    for chart in ["cpu-per-frame.svg", "pipeline-cpu-per-frame.svg", "fps.svg"] {
        let svg = std::fs::read_to_string(out.join(chart)).expect(chart);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("zero-copy"), "{chart} has no zero-copy bar");
    }

    // The JSON holds everything: the report re-rendered from it is the same.
    let again = out.join("again");
    let rendered = Command::new(BENCH)
        .arg("--from-json")
        .arg(out.join("report.json"))
        .arg("--out")
        .arg(&again)
        .output()
        .expect("running zc-bench --from-json");
    assert!(rendered.status.success(), "{rendered:?}");
    let again_md = std::fs::read_to_string(again.join("report.md")).expect("re-rendered report.md");
    if let Some((line, (a, b))) = markdown
        .lines()
        .zip(again_md.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
    {
        panic!(
            "--from-json renders line {} differently:\n  run:  {a}\n  json: {b}",
            line + 1
        );
    }
    assert_eq!(
        again_md, markdown,
        "--from-json renders a report of another length"
    );
    check_compare(&out, &report);
    let _ = std::fs::remove_dir_all(&out);
}

/// `--compare`: a report against itself changes nothing; against a copy
/// with another GStreamer, other repetitions, a slower zero-copy case and a
/// flipped target it says so; bad or mismatched files are refused with what was wrong.
fn check_compare(out: &Path, report: &Value) {
    let compare = |a: &Path, b: &Path| {
        Command::new(BENCH)
            .arg("--compare")
            .arg(a)
            .arg(b)
            .output()
            .expect("running zc-bench --compare")
    };
    let a = out.join("report.json");
    let same = compare(&a, &a);
    let text = String::from_utf8_lossy(&same.stdout);
    assert!(same.status.success(), "{same:?}");
    assert!(text.contains("Environment: the same"), "{text}");
    assert!(text.contains("Settings: the same"), "{text}");
    assert!(text.contains("none changed status"), "{text}");
    assert!(text.contains("(1.00x)"), "{text}");

    let mut changed = report.clone();
    changed["environment"]["gstreamer"] = Value::from("GStreamer 9.99.0");
    changed["settings"]["repetitions"] = Value::from(17);
    let cases = changed["cases"].as_array_mut().unwrap();
    let zc = cases
        .iter_mut()
        .find(|c| c["source"] == "raw" && c["path"] == "zero-copy")
        .unwrap();
    let cpu = &mut zc["summary"]["pipeline_cpu_us_per_frame"]["median"];
    *cpu = Value::from(cpu.as_f64().unwrap() * 2.0);
    let target = &mut changed["targets"][0];
    let flipped_to = if target["status"] == "met" {
        "missed"
    } else {
        "met"
    };
    target["status"] = Value::from(flipped_to);
    let b = out.join("changed.json");
    std::fs::write(&b, serde_json::to_string(&changed).unwrap()).unwrap();
    let diff = compare(&a, &b);
    let text = String::from_utf8_lossy(&diff.stdout);
    assert!(diff.status.success(), "{diff:?}");
    assert!(text.contains("-> GStreamer 9.99.0"), "{text}");
    assert!(text.contains("Settings that differ"), "{text}");
    assert!(
        text.contains(&format!(
            "repetitions: {} -> 17",
            report["settings"]["repetitions"]
        )),
        "{text}"
    );
    assert!(text.contains("(2.00x)"), "{text}");
    assert!(
        text.contains("1 changed") && text.contains(&format!("-> {flipped_to}")),
        "{text}"
    );

    let garbage = out.join("garbage.json");
    std::fs::write(&garbage, "{\"schema\": \"zc-bench/0\"}").unwrap();
    let refused = compare(&a, &garbage);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("zc-bench/0") && stderr.contains("zc-bench/1"),
        "{stderr}"
    );
    let refused = compare(&a, &out.join("missing.json"));
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cannot read"));
}

#[test]
fn bad_arguments_say_what_would_be_right() {
    let out = std::env::temp_dir().join(format!("zc-bench-args-{}", std::process::id()));
    let output = run_bench(&out, &["--sizes", "999p"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("999p") && stderr.contains("720p, 1080p, 4k or 8k"),
        "{stderr}"
    );
    let output = run_bench(&out, &["--frames", "4", "--warmup", "5"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("warm-up"), "{stderr}");
    assert!(!out.join("report.json").exists(), "nothing ran");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_stalled_case_fails_with_a_reason_instead_of_hanging() {
    let result = std::env::temp_dir().join(format!("zc-bench-stall-{}.json", std::process::id()));
    // identity sleeps 3 s per frame: the sink sees nothing for longer than
    // the 1 s stall timeout.
    let spec = serde_json::json!({
        "source": "raw",
        "size": "720p",
        "path": "fakesink",
        "pipeline": "videotestsrc num-buffers=5 ! identity sleep-time=3000000 ! fakesink name=sink",
        "frames": 5,
        "warmup": 1,
        "compositor_pid": null,
        "clip": null,
        "stall_timeout_s": 1
    });
    let started = std::time::Instant::now();
    let output = Command::new(BENCH)
        .arg("--run-case")
        .arg(spec.to_string())
        .arg("--result")
        .arg(&result)
        .output()
        .expect("running zc-bench --run-case");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "the stall took {:?} to notice",
        started.elapsed()
    );
    let outcome: Value =
        serde_json::from_str(&std::fs::read_to_string(&result).expect("the outcome file"))
            .expect("JSON");
    let error = outcome["error"].as_str().expect("an error outcome");
    assert!(
        error.contains("stalled") && error.contains("0 of 5 frames"),
        "{error}"
    );
    let _ = std::fs::remove_file(&result);
}
