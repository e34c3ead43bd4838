//! zc-bench's instruction counts (`--instructions`, valgrind's callgrind),
//! natively: the same case counted twice gives the same instructions per
//! frame within 1%, and the JSON follows `zc-bench-instructions/1`. Small
//! frames and few of them (720p, 8 and 20 frames) keep it to a minute or two
//! under valgrind.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::Value;

const BENCH: &str = env!("CARGO_BIN_EXE_zc-bench");

#[test]
fn the_instruction_count_of_a_case_repeats_within_one_percent() {
    let out = std::env::temp_dir().join(format!("zc-bench-instr-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let output = Command::new(BENCH)
        .args(["--instructions", "--sizes", "720p"])
        .args(["--paths", "fakesink,zero-copy", "--no-sink-variants"])
        .args(["--repetitions", "2", "--instruction-frames", "8,20"])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("running zc-bench --instructions");
    assert!(
        output.status.success(),
        "zc-bench --instructions failed (valgrind and weston must be installed): {}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(out.join("instructions.json")).expect("instructions.json");
    let report: Value = serde_json::from_str(&text).expect("instructions.json is JSON");
    assert_eq!(report["schema"], "zc-bench-instructions/1");
    assert_eq!(report["settings"]["frames_low"], 8);
    assert_eq!(report["settings"]["frames_high"], 20);
    assert!(report["environment"]["kernel"].is_string());
    assert!(
        report["settings"]["tool"]
            .as_str()
            .unwrap()
            .contains("valgrind")
    );

    let cases = report["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2, "{cases:?}");
    for case in cases {
        let name = format!("{} {}", case["size"], case["path"]);
        assert_eq!(case["status"], "ran", "{name}: {}", case["reason"]);
        let runs = case["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 2, "{name}");
        let counts: Vec<f64> = runs
            .iter()
            .map(|r| r["per_frame"].as_f64().unwrap())
            .collect();
        // A 720p NV12 smpte frame costs millions of instructions to draw.
        assert!(counts[0] > 1e6, "{name}: {counts:?}");
        let spread = (counts[0] - counts[1]).abs() / counts[0];
        assert!(
            spread <= 0.01,
            "{name}: {:.0} and {:.0} instructions per frame differ by {:.2}%",
            counts[0],
            counts[1],
            spread * 100.0
        );
        for run in runs {
            let (low, high) = (
                run["instructions_low"].as_u64().unwrap(),
                run["instructions_high"].as_u64().unwrap(),
            );
            assert!(high > low, "{name}: more frames, more instructions: {run}");
        }
    }
    // The floor's functions are subtracted: the zero-copy case says where
    // its additions go, and zc's sink is among them.
    let zc = cases.iter().find(|c| c["path"] == "zero-copy").unwrap();
    assert!(zc["added_over_floor"].as_f64().is_some(), "{zc}");
    let groups = zc["groups"].as_array().unwrap();
    assert!(
        groups
            .iter()
            .any(|g| g["group"] == "gstzerocopy::zcwaylandsink"
                && g["added_over_floor"].as_f64().unwrap() > 0.0),
        "{groups:?}"
    );
    let markdown = std::fs::read_to_string(out.join("instructions.md")).expect("instructions.md");
    assert!(markdown.contains("## 720p") && markdown.contains("| zero-copy |"));
    let _ = std::fs::remove_dir_all(&out);
}
