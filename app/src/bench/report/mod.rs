//! The benchmark's results as data: the JSON model (schema `zc-bench/1`)
//! in this file, medians with min and max in [`summary`], and the issue's
//! targets evaluated on one run in [`targets`].

mod summary;
mod targets;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::case::Sample;
use super::environment::Environment;
use super::matrix::{PathKind, Size, Source};

pub use summary::{Stat, Summary, total_cpu_us_per_frame};

/// The JSON's schema name; bump it when a field changes meaning or goes.
pub const SCHEMA: &str = "zc-bench/1";

/// What was asked for.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    pub quick: bool,
    /// Whose default frame counts and matrix: "native" or "vm" (smaller).
    pub profile: String,
    pub repetitions: u32,
    pub warmup_frames: u32,
    /// Frames per case (warm-up included), by size name.
    pub frames: BTreeMap<String, u32>,
    pub sources: Vec<Source>,
    pub sizes: Vec<Size>,
    pub paths: Vec<PathKind>,
    /// The command line that produced the report.
    pub command: String,
    /// The raw source's rate when paced (`--pace`), e.g. "2/1"; null: as
    /// fast as the machine goes.
    #[serde(default)]
    pub pace: Option<String>,
}

/// The fewest frames the compositor must have drawn in every window of a
/// case for its compositor figures to be compared with another path's:
/// fewer, and a ratio rests on a handful of repaints (the VM's llvmpipe
/// draws one frame in seconds).
pub const MIN_DRAWN_FRAMES: u64 = 30;

/// Whether a case ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseStatus {
    /// Every repetition ran.
    Ran,
    /// Not attempted here, for the stated reason.
    NotRun,
    /// Attempted and failed (some repetitions may have samples).
    Failed,
}

/// One source x size x path.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaseResult {
    pub source: Source,
    pub size: Size,
    pub width: u32,
    pub height: u32,
    pub path: PathKind,
    /// Frames the source made per repetition (warm-up included).
    pub frames: u32,
    pub pipeline: String,
    pub status: CaseStatus,
    /// Why it did not run, or why a repetition failed.
    pub reason: Option<String>,
    /// Copies this path makes that no counter sees.
    pub known_copies: Vec<String>,
    pub samples: Vec<Sample>,
    pub summary: Option<Summary>,
}

impl CaseResult {
    /// The fewest frames the compositor drew in a window of this case, over
    /// its samples; `None` where nothing was counted (fakesink, no timeline).
    pub fn fewest_drawn(&self) -> Option<u64> {
        self.samples
            .iter()
            .filter_map(|s| s.frames_composited)
            .min()
    }
}

/// Whether a target holds in this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetStatus {
    Met,
    Missed,
    /// A case it needs did not run, or it does not apply here.
    NotEvaluated,
}

/// One target from issue 8, on one source and size.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetResult {
    pub id: String,
    pub target: String,
    /// e.g. "raw 1080p".
    pub scope: String,
    pub status: TargetStatus,
    /// The numbers behind the verdict, and by how much when missed.
    pub detail: String,
}

/// A whole run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub environment: Environment,
    pub settings: Settings,
    pub cases: Vec<CaseResult>,
    pub targets: Vec<TargetResult>,
}

impl Report {
    pub fn case(&self, source: Source, size: Size, path: PathKind) -> Option<&CaseResult> {
        self.cases
            .iter()
            .find(|c| c.source == source && c.size == size && c.path == path)
    }

    /// The summary of a case that has samples.
    pub fn summary(&self, source: Source, size: Size, path: PathKind) -> Option<&Summary> {
        self.case(source, size, path)?.summary.as_ref()
    }
}

/// Bytes as B, KiB, MiB.
pub fn human_bytes(bytes: f64) -> String {
    if bytes >= 1024.0 * 1024.0 {
        format!("{:.2} MiB", bytes / (1024.0 * 1024.0))
    } else if bytes >= 1024.0 {
        format!("{:.1} KiB", bytes / 1024.0)
    } else {
        format!("{bytes:.0} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_as_units() {
        assert_eq!(human_bytes(0.0), "0 B");
        assert_eq!(human_bytes(2048.0), "2.0 KiB");
        assert_eq!(human_bytes(3_110_400.0), "2.97 MiB");
    }

    /// `--from-json` must render the report it was given: every number
    /// read back is the number written, to the bit. These values came back
    /// one ulp off before serde_json's `float_roundtrip` was on.
    #[test]
    fn numbers_read_back_from_the_json_are_the_numbers_written() {
        for x in [
            2_074_998.627_450_980_2_f64,
            1_026_760.078_431_372_5,
            911_005.960_784_313_7,
            2_062_044.529_411_764_6,
        ] {
            let text = serde_json::to_string(&x).unwrap();
            let back: f64 = serde_json::from_str(&text).unwrap();
            assert_eq!(back.to_bits(), x.to_bits(), "{x:?} written as {text}");
        }
    }
}
