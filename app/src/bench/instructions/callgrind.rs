//! Reading callgrind's output file: the whole process's instruction count
//! and every function's own (exclusive) count, with the object file it lives
//! in. The format is valgrind's "callgrind format" (docs: Callgrind Format
//! Specification): `ob=`/`fn=` name the current object and function (with
//! `(id)` name compression), cost lines are `position cost`, and the cost
//! line after a `calls=` line is the call's inclusive cost, not the
//! caller's own.

use std::collections::HashMap;

use crate::bench::BenchError;

/// One function, named by the object it is in and its (demangled) name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunctionKey {
    pub object: String,
    pub function: String,
}

/// What one callgrind run counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// Instructions of the whole process (`totals:`, else `summary:`).
    pub total: u64,
    /// Each function's own instructions (callees excluded).
    pub functions: HashMap<FunctionKey, u64>,
}

/// Parse a callgrind output file's text (one part, one event: `Ir`).
pub fn parse(text: &str) -> Result<Profile, BenchError> {
    let bad = |what: String| BenchError::Pipeline(format!("callgrind output: {what}"));
    let mut objects: HashMap<String, String> = HashMap::new();
    let mut functions: HashMap<String, String> = HashMap::new();
    let mut positions = 1usize;
    let mut events_ok = false;
    let mut summary = None;
    let mut totals = None;
    let mut object = String::from("???");
    let mut function = String::from("???");
    let mut skip_next_cost = false;
    let mut costs: HashMap<FunctionKey, u64> = HashMap::new();
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let first = line.as_bytes()[0];
        if first.is_ascii_digit() || first == b'+' || first == b'-' || first == b'*' {
            if skip_next_cost {
                skip_next_cost = false;
                continue;
            }
            let cost = line.split_ascii_whitespace().nth(positions).unwrap_or("0");
            let cost: u64 = cost
                .parse()
                .map_err(|_| bad(format!("`{line}` is not a cost line")))?;
            *costs.entry(key_of(&object, &function)).or_default() += cost;
            continue;
        }
        let Some((key, value)) = line.split_once(['=', ':']) else {
            continue;
        };
        let value = value.trim();
        match key {
            "ob" => object = compressed(&mut objects, value),
            "fn" => function = compressed(&mut functions, value),
            // Called object and function: only named here (their ids count).
            "cob" => {
                compressed(&mut objects, value);
            }
            "cfn" => {
                compressed(&mut functions, value);
            }
            "calls" => skip_next_cost = true,
            "positions" => positions = value.split_ascii_whitespace().count().max(1),
            "events" => {
                events_ok = value.split_ascii_whitespace().next() == Some("Ir");
                if !events_ok {
                    return Err(bad(format!(
                        "events are `{value}`; zc-bench reads instruction counts (Ir) only"
                    )));
                }
            }
            "summary" => summary = first_number(value),
            "totals" => totals = first_number(value),
            _ => {}
        }
    }
    if !events_ok {
        return Err(bad(
            "no `events: Ir` line (not a callgrind file?)".to_owned()
        ));
    }
    let total = totals
        .or(summary)
        .ok_or_else(|| bad("no `summary:` or `totals:` line".to_owned()))?;
    Ok(Profile {
        total,
        functions: costs,
    })
}

/// The key a cost is counted under. Code outside any object file (ORC's
/// generated code for videotestsrc and videoconvert) is named by its address,
/// which differs from process to process: all of it is one function here.
fn key_of(object: &str, function: &str) -> FunctionKey {
    if object == "???" && function.starts_with("0x") {
        return FunctionKey {
            object: GENERATED.to_owned(),
            function: GENERATED.to_owned(),
        };
    }
    FunctionKey {
        object: object.to_owned(),
        function: function.to_owned(),
    }
}

/// The name of code generated at run time (no object file).
pub const GENERATED: &str = "(generated code, e.g. ORC)";

fn first_number(value: &str) -> Option<u64> {
    value.split_ascii_whitespace().next()?.parse().ok()
}

/// A name given as `(id) name` (defined), `(id)` (referenced) or plain.
fn compressed(names: &mut HashMap<String, String>, value: &str) -> String {
    let Some(rest) = value.strip_prefix('(') else {
        return value.to_owned();
    };
    let Some((id, name)) = rest.split_once(')') else {
        return value.to_owned();
    };
    let name = name.trim();
    if name.is_empty() {
        names.get(id).cloned().unwrap_or_else(|| format!("({id})"))
    } else {
        names.insert(id.to_owned(), name.to_owned());
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# callgrind format\nversion: 1\npositions: line\nevents: Ir\nsummary: 1000\n\n\
        ob=(1) /usr/lib/libc.so.6\nfl=(1) ???\nfn=(1) memcpy\n0 40\n+2 10\n\n\
        ob=(2) /bin/zc-bench\nfn=(2) zc_wayland::present\n12 7\ncob=(1)\ncfi=(1)\ncfn=(1)\ncalls=3 0\n12 50\n* 3\n\n\
        ob=(1)\nfn=(1)\n0 5\n\ntotals: 1010\n";

    #[test]
    fn self_costs_leave_out_what_calls_cost() {
        let profile = parse(SAMPLE).unwrap();
        assert_eq!(profile.total, 1010);
        let cost = |object: &str, function: &str| {
            profile.functions.get(&FunctionKey {
                object: object.to_owned(),
                function: function.to_owned(),
            })
        };
        assert_eq!(cost("/usr/lib/libc.so.6", "memcpy"), Some(&55));
        assert_eq!(cost("/bin/zc-bench", "zc_wayland::present"), Some(&10));
    }

    #[test]
    fn other_events_and_other_files_are_refused() {
        let err = parse("events: Dr\nsummary: 3\n").unwrap_err().to_string();
        assert!(err.contains("Ir"), "{err}");
        let err = parse("hello\n").unwrap_err().to_string();
        assert!(err.contains("not a callgrind file"), "{err}");
    }
}
