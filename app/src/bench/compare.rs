//! `zc-bench --compare A.json B.json`: what changed between two runs. Both
//! files must be of the same kind: two timing reports (`report.json`,
//! schema `zc-bench/1`) or two instruction counts (`instructions.json`,
//! schema `zc-bench-instructions/1`). Printed: where the environments and
//! the settings (frame counts, repetitions, pacing, the command) differ,
//! each case's figures in A and B with the ratio B/A, and the targets whose
//! status changed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::BenchError;
use super::environment::Environment;
use super::instructions::{self, InstructionCase, InstructionReport};
use super::report::{self, Report, TargetResult, TargetStatus};

/// One loaded file.
enum Loaded {
    Timing(Box<Report>),
    Instructions(Box<InstructionReport>),
}

/// Read and check one file.
fn load(path: &Path) -> Result<Loaded, BenchError> {
    let text = std::fs::read_to_string(path).map_err(|source| BenchError::System {
        what: format!("cannot read {}", path.display()),
        source,
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| BenchError::Json {
            what: format!("{} is not JSON", path.display()),
            source,
        })?;
    let schema = value
        .get("schema")
        .and_then(|s| s.as_str())
        .unwrap_or("")
        .to_owned();
    let json_error = |source| BenchError::Json {
        what: format!(
            "{} says schema {schema} but does not read as one",
            path.display()
        ),
        source,
    };
    if schema == report::SCHEMA {
        Ok(Loaded::Timing(Box::new(
            serde_json::from_value(value).map_err(json_error)?,
        )))
    } else if schema == instructions::SCHEMA {
        Ok(Loaded::Instructions(Box::new(
            serde_json::from_value(value).map_err(json_error)?,
        )))
    } else {
        Err(BenchError::Usage(format!(
            "{} has schema `{schema}`; --compare reads zc-bench reports ({}, report.json) or \
             instruction counts ({}, instructions.json)",
            path.display(),
            report::SCHEMA,
            instructions::SCHEMA
        )))
    }
}

/// The comparison of two files, as text.
pub fn compare(a: &Path, b: &Path) -> Result<String, BenchError> {
    let mut out = String::new();
    let _ = writeln!(out, "A: {}\nB: {}\n", a.display(), b.display());
    match (load(a)?, load(b)?) {
        (Loaded::Timing(ra), Loaded::Timing(rb)) => {
            environments(&mut out, &ra.environment, &rb.environment);
            settings(&mut out, &ra.settings, &rb.settings);
            timing_cases(&mut out, &ra, &rb);
            targets(&mut out, &ra.targets, &rb.targets);
        }
        (Loaded::Instructions(ra), Loaded::Instructions(rb)) => {
            environments(&mut out, &ra.environment, &rb.environment);
            settings(&mut out, &ra.settings, &rb.settings);
            instruction_cases(&mut out, &ra, &rb);
            targets(&mut out, &ra.targets, &rb.targets);
        }
        _ => {
            return Err(BenchError::Usage(format!(
                "{} and {} are different kinds of report (one timing report.json, one \
                 instructions.json): compare two of the same kind",
                a.display(),
                b.display()
            )));
        }
    }
    Ok(out)
}

fn environments(out: &mut String, a: &Environment, b: &Environment) {
    let compositor = |e: &Environment| {
        e.compositor
            .as_ref()
            .map_or_else(|| "none".to_owned(), |c| c.version.clone())
    };
    let fields: [(&str, String, String); 10] = [
        ("where", a.where_.name().into(), b.where_.name().into()),
        ("os", opt(&a.os), opt(&b.os)),
        ("kernel", a.kernel.clone(), b.kernel.clone()),
        ("machine", machine(a), machine(b)),
        ("GStreamer", a.gstreamer.clone(), b.gstreamer.clone()),
        ("compositor", compositor(a), compositor(b)),
        ("zc backend", a.zc_backend.clone(), b.zc_backend.clone()),
        (
            "zc-bench",
            a.zc_bench_version.clone(),
            b.zc_bench_version.clone(),
        ),
        ("zc commit", opt(&a.zc_commit), opt(&b.zc_commit)),
        ("dma-buf", a.dma_buf.to_string(), b.dma_buf.to_string()),
    ];
    let changed: Vec<_> = fields.iter().filter(|(_, x, y)| x != y).collect();
    if changed.is_empty() {
        let _ = writeln!(out, "Environment: the same in both.\n");
        return;
    }
    let _ = writeln!(out, "Environment that differs:");
    for (name, x, y) in changed {
        let _ = writeln!(out, "  {name}: {x} -> {y}");
    }
    out.push('\n');
}

/// The settings that differ, field by field: figures measured with other
/// frame counts, repetitions or pacing may differ for that reason alone.
fn settings(out: &mut String, a: &impl serde::Serialize, b: &impl serde::Serialize) {
    let lines = settings_changed(
        &serde_json::to_value(a).unwrap_or_default(),
        &serde_json::to_value(b).unwrap_or_default(),
    );
    if lines.is_empty() {
        let _ = writeln!(out, "Settings: the same in both.\n");
        return;
    }
    let _ = writeln!(
        out,
        "Settings that differ (figures may differ for this alone):"
    );
    for line in lines {
        let _ = writeln!(out, "  {line}");
    }
    out.push('\n');
}

/// "name: A -> B" for each top-level field of two settings objects that
/// differs (a field only one has reads "absent" in the other).
fn settings_changed(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let (fa, fb) = (
        a.as_object().unwrap_or(&empty),
        b.as_object().unwrap_or(&empty),
    );
    let mut names: Vec<&String> = fa.keys().chain(fb.keys()).collect();
    names.sort();
    names.dedup();
    let text = |v: Option<&serde_json::Value>| match v {
        None => "absent".to_owned(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    };
    names
        .into_iter()
        .filter(|name| fa.get(*name) != fb.get(*name))
        .map(|name| format!("{name}: {} -> {}", text(fa.get(name)), text(fb.get(name))))
        .collect()
}

fn opt(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "unknown".to_owned())
}

fn machine(e: &Environment) -> String {
    format!(
        "{} {}, {} CPUs, {} MiB",
        e.arch,
        e.cpu_model,
        e.cpu_count,
        e.memory_kib / 1024
    )
}

/// "12.3 -> 14.1 (1.15x)", or what is missing.
fn change(a: Option<f64>, b: Option<f64>, unit: &str) -> String {
    match (a, b) {
        (Some(a), Some(b)) if a != 0.0 => format!("{a:.1} -> {b:.1}{unit} ({:.2}x)", b / a),
        (Some(a), Some(b)) => format!("{a:.1} -> {b:.1}{unit}"),
        (Some(a), None) => format!("{a:.1}{unit} -> not measured"),
        (None, Some(b)) => format!("not measured -> {b:.1}{unit}"),
        (None, None) => "not measured in either".to_owned(),
    }
}

/// The cases of both runs, each once, in order.
fn keys<C, K: Ord>(a: &[C], b: &[C], key: impl Fn(&C) -> K) -> Vec<K> {
    let mut keys: Vec<K> = a.iter().chain(b).map(key).collect();
    keys.sort();
    keys.dedup();
    keys
}

fn timing_cases(out: &mut String, a: &Report, b: &Report) {
    let _ = writeln!(
        out,
        "Cases (median A -> median B, ratio B/A; below 1: B costs less):"
    );
    for (source, size, path) in keys(&a.cases, &b.cases, |c| (c.source, c.size, c.path)) {
        let sa = a.summary(source, size, path);
        let sb = b.summary(source, size, path);
        if sa.is_none() && sb.is_none() {
            continue;
        }
        let _ = writeln!(
            out,
            "  {source} {size} {path}: pipeline CPU {}; system CPU {}; fps {}",
            change(
                sa.map(|s| s.pipeline_cpu_us_per_frame.median),
                sb.map(|s| s.pipeline_cpu_us_per_frame.median),
                " us/frame"
            ),
            change(
                sa.map(|s| s.total_cpu_us_per_frame.median),
                sb.map(|s| s.total_cpu_us_per_frame.median),
                " us/frame"
            ),
            change(sa.map(|s| s.fps.median), sb.map(|s| s.fps.median), "")
        );
    }
    out.push('\n');
}

fn instruction_cases(out: &mut String, a: &InstructionReport, b: &InstructionReport) {
    let _ = writeln!(
        out,
        "Cases (instructions per frame A -> B, ratio B/A; added over the floor A -> B):"
    );
    for (size, path, variant) in keys(&a.cases, &b.cases, |c| (c.size, c.path, c.variant)) {
        let ca = a.case_of(size, path, variant);
        let cb = b.case_of(size, path, variant);
        let Some(name) = ca.or(cb).map(InstructionCase::name) else {
            continue;
        };
        let _ = writeln!(
            out,
            "  {size} {name}: {}; added {}",
            change(
                ca.and_then(|c| c.per_frame),
                cb.and_then(|c| c.per_frame),
                ""
            ),
            change(
                ca.and_then(|c| c.added_over_floor),
                cb.and_then(|c| c.added_over_floor),
                ""
            )
        );
    }
    out.push('\n');
}

fn status_name(status: TargetStatus) -> &'static str {
    match status {
        TargetStatus::Met => "met",
        TargetStatus::Missed => "missed",
        TargetStatus::NotEvaluated => "not evaluated",
    }
}

fn targets(out: &mut String, a: &[TargetResult], b: &[TargetResult]) {
    let index = |targets: &[TargetResult]| -> BTreeMap<(String, String), (TargetStatus, String)> {
        targets
            .iter()
            .map(|t| {
                (
                    (t.id.clone(), t.scope.clone()),
                    (t.status, t.target.clone()),
                )
            })
            .collect()
    };
    let (ia, ib) = (index(a), index(b));
    let mut keys: Vec<_> = ia.keys().chain(ib.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    let mut flipped = Vec::new();
    let mut same = 0usize;
    for key in keys {
        let (sa, sb) = (ia.get(&key), ib.get(&key));
        let text = sa.or(sb).map(|(_, t)| t.clone()).unwrap_or_default();
        match (sa, sb) {
            (Some((x, _)), Some((y, _))) if x == y => same += 1,
            _ => flipped.push(format!(
                "  {} ({}): {} -> {}",
                text,
                key.1,
                sa.map_or("absent", |(s, _)| status_name(*s)),
                sb.map_or("absent", |(s, _)| status_name(*s))
            )),
        }
    }
    if flipped.is_empty() {
        let _ = writeln!(out, "Targets: none changed status ({same} the same).");
    } else {
        let _ = writeln!(
            out,
            "Targets that changed status ({} changed, {same} the same):",
            flipped.len()
        );
        for line in flipped {
            let _ = writeln!(out, "{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_as_ratios() {
        assert_eq!(
            change(Some(10.0), Some(15.0), " us"),
            "10.0 -> 15.0 us (1.50x)"
        );
        assert_eq!(change(None, Some(1.0), ""), "not measured -> 1.0");
    }

    #[test]
    fn settings_that_differ_are_named_field_by_field() {
        let a = serde_json::json!({
            "frames_low": 20, "frames_high": 50, "repetitions": 1,
            "sizes": ["1080p"], "command": "zc-bench --instructions", "pace": null
        });
        let b = serde_json::json!({
            "frames_low": 30, "frames_high": 90, "repetitions": 1,
            "sizes": ["1080p", "4k"], "command": "zc-bench --instructions --sizes 1080p,4k"
        });
        assert_eq!(
            settings_changed(&a, &b),
            [
                "command: zc-bench --instructions -> zc-bench --instructions --sizes 1080p,4k",
                "frames_high: 50 -> 90",
                "frames_low: 20 -> 30",
                "pace: null -> absent",
                "sizes: [\"1080p\"] -> [\"1080p\",\"4k\"]",
            ]
        );
        assert!(settings_changed(&a, &a).is_empty());
        let mut out = String::new();
        settings(&mut out, &a, &a);
        assert_eq!(out, "Settings: the same in both.\n\n");
    }

    #[test]
    fn bad_files_say_what_was_wrong() {
        let dir = std::env::temp_dir().join(format!("zc-compare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let not_json = dir.join("a.json");
        std::fs::write(&not_json, "hello").unwrap();
        let other = dir.join("b.json");
        std::fs::write(&other, r#"{"schema": "something/2"}"#).unwrap();
        let err = compare(&not_json, &other).unwrap_err().to_string();
        assert!(err.contains("is not JSON"), "{err}");
        let err = compare(&other, &other).unwrap_err().to_string();
        assert!(
            err.contains("something/2") && err.contains("zc-bench/1"),
            "{err}"
        );
        let missing = dir.join("missing.json");
        let err = compare(&missing, &other).unwrap_err().to_string();
        assert!(err.contains("cannot read"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
