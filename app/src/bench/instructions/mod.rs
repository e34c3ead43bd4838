//! The deterministic cost mode (`zc-bench --instructions`): instructions per
//! frame of each path's pipeline process, counted by valgrind's callgrind,
//! natively. Each case plays the same pipeline twice, to `low` and to `high`
//! frames, in fresh processes; the difference of the two counts divided by
//! `high - low` is the cost of one frame, with start-up, plugin loading and
//! teardown cancelled out. Unlike CPU time this does not move with what
//! else runs on the machine.
//!
//! - [`callgrind`]: reading callgrind's output (whole process, each function);
//! - [`groups`]: which crate, element or library a function is counted under;
//! - [`run`]: the valgrind runs; [`markdown`]: the report;
//! - [`variant`]: the zero-copy path's extra cases (the sink on its own).

pub mod callgrind;
pub mod groups;
pub mod markdown;
pub mod run;
pub mod variant;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::environment::Environment;
use super::matrix::{PathKind, Size};
use super::report::{CaseStatus, TargetResult, TargetStatus};
use variant::SinkVariant;

/// The JSON's schema name.
pub const SCHEMA: &str = "zc-bench-instructions/1";

/// What was asked for.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    /// The two frame counts whose difference is measured.
    pub frames_low: u32,
    pub frames_high: u32,
    pub sizes: Vec<Size>,
    pub paths: Vec<PathKind>,
    pub repetitions: u32,
    /// `valgrind --version`.
    pub tool: String,
    pub command: String,
}

/// One process count pair: the whole process's instructions at both frame counts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CountRun {
    pub repetition: u32,
    pub instructions_low: u64,
    pub instructions_high: u64,
    /// (high - low) / (frames_high - frames_low).
    pub per_frame: f64,
}

/// Instructions per frame counted under one group (crate, element, library).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GroupCost {
    pub group: String,
    pub per_frame: f64,
    /// Minus the same group's in the fakesink case of the same size.
    pub added_over_floor: Option<f64>,
}

/// One function's own instructions per frame (callees excluded).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FunctionCost {
    pub group: String,
    pub function: String,
    pub per_frame: f64,
    pub added_over_floor: Option<f64>,
}

/// One size x path.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InstructionCase {
    pub size: Size,
    pub path: PathKind,
    /// An extra zero-copy case (the sink on its own); none for the path
    /// itself, which the targets are evaluated on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<SinkVariant>,
    /// The pipeline at `frames_high` frames, gst-launch syntax.
    pub pipeline: String,
    pub status: CaseStatus,
    pub reason: Option<String>,
    pub runs: Vec<CountRun>,
    /// Median of the runs' per-frame counts.
    pub per_frame: Option<f64>,
    /// Minus the fakesink case's, same size.
    pub added_over_floor: Option<f64>,
    /// Every group with at least one instruction per frame (first repetition).
    pub groups: Vec<GroupCost>,
    /// The functions that add most over the floor (first repetition).
    pub top_functions: Vec<FunctionCost>,
}

impl InstructionCase {
    /// The case's name in the report: its path, or its variant.
    pub fn name(&self) -> String {
        match self.variant {
            Some(variant) => variant.label().to_owned(),
            None => self.path.to_string(),
        }
    }
}

/// A whole instruction-count run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InstructionReport {
    pub schema: String,
    pub environment: Environment,
    pub settings: Settings,
    pub cases: Vec<InstructionCase>,
    pub targets: Vec<TargetResult>,
}

/// How many functions each case keeps.
pub const TOP_FUNCTIONS: usize = 40;

/// Per-frame costs by function of one case (first repetition), kept while
/// the report is assembled to subtract the floor's.
pub type FunctionCosts = HashMap<callgrind::FunctionKey, f64>;

/// Which case a [`FunctionCosts`] belongs to.
pub type CaseKey = (Size, PathKind, Option<SinkVariant>);

impl InstructionReport {
    /// The path's own case (not a variant) that was counted.
    pub fn case(&self, size: Size, path: PathKind) -> Option<&InstructionCase> {
        self.case_of(size, path, None)
    }

    /// The case of `path` or of one of its variants that was counted.
    pub fn case_of(
        &self,
        size: Size,
        path: PathKind,
        variant: Option<SinkVariant>,
    ) -> Option<&InstructionCase> {
        self.cases.iter().find(|c| {
            c.size == size && c.path == path && c.variant == variant && c.per_frame.is_some()
        })
    }

    /// Fill in what the cases add over the floor, by group and function.
    pub fn subtract_floor(&mut self, functions: &HashMap<CaseKey, FunctionCosts>) {
        let floors: HashMap<Size, f64> = self
            .cases
            .iter()
            .filter(|c| c.path == PathKind::Fakesink)
            .filter_map(|c| Some((c.size, c.per_frame?)))
            .collect();
        for case in &mut self.cases {
            let floor = floors.get(&case.size).copied();
            case.added_over_floor = match (case.per_frame, floor) {
                (Some(cost), Some(floor)) => Some(cost - floor),
                _ => None,
            };
            let own = functions.get(&(case.size, case.path, case.variant));
            let floor_fns = functions.get(&(case.size, PathKind::Fakesink, None));
            let Some(own) = own else { continue };
            case.groups = group_costs(own, floor_fns);
            case.top_functions = top_functions(own, floor_fns);
        }
    }

    /// The targets of issue 18, on every size measured.
    pub fn evaluate_targets(&mut self) {
        let mut targets = Vec::new();
        let memfd = !self.environment.dma_buf;
        let note = if memfd {
            " Natively here zc's frames are memfds shown through wl_shm (no dma-buf exporter on \
             this kernel): the zero-copy path's figure is zc's memfd path."
        } else {
            ""
        };
        for size in self.settings.sizes.clone() {
            let added = |path| self.case(size, path).and_then(|c| c.added_over_floor);
            let zc = added(PathKind::ZeroCopy);
            let scope = format!("raw {size}");
            if matches!(size, Size::P1080 | Size::K4) {
                targets.push(match (zc, added(PathKind::Copy)) {
                    (Some(zc), Some(copy)) if copy > 0.0 => {
                        let share = zc / copy;
                        TargetResult {
                            id: "instructions-zero-copy-vs-copy".to_owned(),
                            target: "zero-copy adds at most 2% of the instructions per frame the \
                                     copy path adds over the fakesink floor"
                                .to_owned(),
                            scope: scope.clone(),
                            status: if share <= 0.02 {
                                TargetStatus::Met
                            } else {
                                TargetStatus::Missed
                            },
                            detail: format!(
                                "zero-copy adds {}, copy adds {}: {:.2}%.{}{note}",
                                count(zc),
                                count(copy),
                                share * 100.0,
                                if zc < 0.0 {
                                    " Below the floor: the fakesink case's videotestsrc \
                                     allocates its own frames (libc), which costs more than \
                                     taking them from zc's pool."
                                } else {
                                    ""
                                }
                            ),
                        }
                    }
                    _ => not_evaluated(
                        "instructions-zero-copy-vs-copy",
                        "zero-copy adds at most 2% of what the copy path adds",
                        &scope,
                        "the zero-copy, copy or fakesink case did not run (or copy adds nothing)",
                    ),
                });
            }
            // Against stock waylandsink directly: both take the source's
            // frames in the sink's own pool, so the floor (whose
            // videotestsrc allocates its own frames) does not enter.
            let total = |path| self.case(size, path).and_then(|c| c.per_frame);
            targets.push(
                match (total(PathKind::ZeroCopy), total(PathKind::Waylandsink)) {
                    (Some(zc_total), Some(stock_total)) => {
                        let more = zc_total - stock_total;
                        TargetResult {
                            id: "instructions-zero-copy-vs-waylandsink".to_owned(),
                            target: "zero-copy adds no more instructions per frame than stock \
                                 waylandsink"
                                .to_owned(),
                            scope: scope.clone(),
                            status: if more <= 0.0 {
                                TargetStatus::Met
                            } else {
                                TargetStatus::Missed
                            },
                            detail: format!(
                                "zero-copy {} per frame, waylandsink {}: zero-copy {} {} per frame \
                             (added over the floor: {} and {}).{note}",
                                count(zc_total),
                                count(stock_total),
                                if more <= 0.0 { "saves" } else { "costs" },
                                count(more.abs()),
                                zc.map(count).unwrap_or_else(|| "-".to_owned()),
                                added(PathKind::Waylandsink)
                                    .map(count)
                                    .unwrap_or_else(|| "-".to_owned()),
                            ),
                        }
                    }
                    _ => not_evaluated(
                        "instructions-zero-copy-vs-waylandsink",
                        "zero-copy adds no more than stock waylandsink",
                        &scope,
                        "the zero-copy or waylandsink case did not run",
                    ),
                },
            );
        }
        self.targets = targets;
    }
}

fn not_evaluated(id: &str, target: &str, scope: &str, why: &str) -> TargetResult {
    TargetResult {
        id: id.to_owned(),
        target: target.to_owned(),
        scope: scope.to_owned(),
        status: TargetStatus::NotEvaluated,
        detail: why.to_owned(),
    }
}

/// An instruction count for people: 16.4k, 26.30M.
pub fn count(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1e6 {
        format!("{:.2}M", value / 1e6)
    } else if magnitude >= 1e3 {
        format!("{:.1}k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

/// `a / b` as "2.50x", or why there is no ratio.
pub fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 && a >= 0.0 {
        format!("{:.2}x", a / b)
    } else {
        "no ratio: a side adds nothing".to_owned()
    }
}

fn group_costs(own: &FunctionCosts, floor: Option<&FunctionCosts>) -> Vec<GroupCost> {
    let sum = |costs: &FunctionCosts| {
        let mut groups: HashMap<String, f64> = HashMap::new();
        for (key, cost) in costs {
            *groups.entry(groups::group_of(key)).or_default() += cost;
        }
        groups
    };
    let own = sum(own);
    let floor = floor.map(sum);
    let mut names: Vec<&String> = own.keys().collect();
    if let Some(floor) = &floor {
        names.extend(floor.keys());
    }
    names.sort();
    names.dedup();
    let mut out: Vec<GroupCost> = names
        .into_iter()
        .map(|name| {
            let cost = own.get(name).copied().unwrap_or(0.0);
            GroupCost {
                group: name.clone(),
                per_frame: cost,
                added_over_floor: floor
                    .as_ref()
                    .map(|f| cost - f.get(name).copied().unwrap_or(0.0)),
            }
        })
        .filter(|g| g.per_frame.abs() >= 1.0 || g.added_over_floor.is_some_and(|a| a.abs() >= 1.0))
        .collect();
    out.sort_by(|a, b| sort_key(b).total_cmp(&sort_key(a)));
    out
}

fn sort_key(group: &GroupCost) -> f64 {
    group.added_over_floor.unwrap_or(group.per_frame).abs()
}

fn top_functions(own: &FunctionCosts, floor: Option<&FunctionCosts>) -> Vec<FunctionCost> {
    let mut out: Vec<FunctionCost> = own
        .iter()
        .map(|(key, cost)| FunctionCost {
            group: groups::group_of(key),
            function: key.function.clone(),
            per_frame: *cost,
            added_over_floor: floor.map(|f| cost - f.get(key).copied().unwrap_or(0.0)),
        })
        .collect();
    out.sort_by(|a, b| {
        let key = |f: &FunctionCost| f.added_over_floor.unwrap_or(f.per_frame);
        key(b).total_cmp(&key(a))
    });
    out.truncate(TOP_FUNCTIONS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_with_units() {
        assert_eq!(count(16_400.0), "16.4k");
        assert_eq!(count(26_300_000.0), "26.30M");
        assert_eq!(count(-230.0), "-230");
        assert_eq!(ratio(16.4, 6.4), "2.56x");
        assert!(ratio(1.0, 0.0).starts_with("no ratio"));
    }

    #[test]
    fn groups_subtract_the_floors_functions() {
        let key = |object: &str, function: &str| callgrind::FunctionKey {
            object: object.to_owned(),
            function: function.to_owned(),
        };
        let floor: FunctionCosts = [
            (key("/l/libc.so.6", "memset"), 100.0),
            (key("/l/libgstreamer-1.0.so.0", "gst_pad_push"), 50.0),
        ]
        .into_iter()
        .collect();
        let own: FunctionCosts = [
            (key("/l/libc.so.6", "memset"), 100.0),
            (key("/l/libgstreamer-1.0.so.0", "gst_pad_push"), 80.0),
            (
                key("/t/zc-bench", "gstzerocopy::zcwaylandsink::render"),
                900.0,
            ),
        ]
        .into_iter()
        .collect();
        let groups = group_costs(&own, Some(&floor));
        assert_eq!(groups[0].group, "gstzerocopy::zcwaylandsink");
        assert_eq!(groups[0].added_over_floor, Some(900.0));
        let gst = groups
            .iter()
            .find(|g| g.group == "libgstreamer-1.0.so")
            .unwrap();
        assert_eq!(gst.added_over_floor, Some(30.0));
        let top = top_functions(&own, Some(&floor));
        assert_eq!(top[0].function, "gstzerocopy::zcwaylandsink::render");
        assert_eq!(top.last().unwrap().added_over_floor, Some(0.0));
    }
}
