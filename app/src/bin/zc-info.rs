//! zc-info: which dma-buf allocation backends work on this machine, and what
//! they cost. One row per backend: available or why not, and the median of
//! 100 runs of allocating a 1080p NV12 frame, one begin/end CPU-access
//! bracket pair, and reading the frame through its mapping.

use std::hint::black_box;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};
use zc_dmabuf::alloc::{self, Allocator};
use zc_dmabuf::{Access, AllocatorOptions, Backend, BackendChoice, Fourcc, FrameRequest};

/// Lists zc's allocation backends (heap, udmabuf, gbm, memfd) with whether
/// each works here, and measures a 1080p NV12 frame on each: allocation
/// time, one CPU access bracket (DMA_BUF_IOCTL_SYNC start + end), and CPU
/// read bandwidth through the mapping.
#[derive(Parser, Debug)]
#[command(
    name = "zc-info",
    version,
    about = "zc's dma-buf allocation backends on this machine, and what they cost",
    after_help = "Environment: ZC_BACKEND picks the backend zc uses (auto, heap, udmabuf, gbm, memfd)."
)]
struct Args {
    /// Runs per measurement (the median is shown).
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    runs: u64,
}

struct Measurement {
    format: Fourcc,
    frame_bytes: u64,
    alloc: Duration,
    bracket: Duration,
    read_bandwidth: f64,
}

fn main() {
    zc_app::cli_docs::generate_if_asked(Args::command);
    if let Err(err) = run() {
        eprintln!("zc-info: {err:#}");
        std::process::exit(2);
    }
}

fn run() -> Result<()> {
    let runs = usize::try_from(Args::parse().runs).context("--runs is too large")?;
    let style = Style::new(std::io::stdout().is_terminal());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let place = if std::env::var_os("ZC_IN_VM").is_some() {
        "inside the dma-buf VM (software emulation: compare rows, not absolute times)"
    } else {
        "natively"
    };
    println!(
        "{}",
        style.bold(&format!(
            "zc allocation backends, kernel {}, {place}",
            kernel.trim()
        ))
    );
    println!("1080p NV12 frame, median of {runs} runs\n");

    let options = AllocatorOptions::default();
    let header = [
        "backend", "device", "status", "alloc", "bracket", "CPU read",
    ];
    let mut rows: Vec<[String; 6]> = Vec::new();
    let mut notes = Vec::new();
    for (backend, opened) in alloc::probe(&options) {
        let row = match opened {
            Ok(allocator) => {
                match measure(allocator.as_ref(), runs) {
                    Ok(m) => {
                        if m.format != Fourcc::NV12 {
                            notes.push(format!("{backend}: the driver cannot allocate NV12, measured a {} 1080p frame", m.format));
                        }
                        let status = if backend == Backend::Memfd {
                            "ok (not a dma-buf)"
                        } else {
                            "ok"
                        };
                        [
                            backend.to_string(),
                            allocator.device(),
                            style.green(status),
                            format_duration(m.alloc),
                            format_duration(m.bracket),
                            format!(
                                "{:.1} GB/s ({:.1} MB)",
                                m.read_bandwidth / 1e9,
                                m.frame_bytes as f64 / 1e6
                            ),
                        ]
                    }
                    Err(err) => {
                        notes.push(format!("{err:#}"));
                        [
                            backend.to_string(),
                            allocator.device(),
                            style.red("fails"),
                            "-".into(),
                            "-".into(),
                            "-".into(),
                        ]
                    }
                }
            }
            Err(err) => {
                notes.push(err.to_string());
                [
                    backend.to_string(),
                    "-".into(),
                    style.yellow("unavailable"),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ]
            }
        };
        rows.push(row);
    }
    print_table(&style, &header, &rows);

    if !notes.is_empty() {
        println!();
        for note in notes {
            println!("  {note}");
        }
    }
    println!();
    match BackendChoice::from_env()
        .and_then(|choice| alloc::open(choice, &options).map(|a| (choice, a)))
    {
        Ok((choice, allocator)) => println!(
            "zc will use: {} ({}){}",
            style.bold(allocator.backend().name()),
            allocator.device(),
            if choice == BackendChoice::Auto {
                ", chosen by auto: heap, udmabuf, gbm, memfd in that order"
            } else {
                ", from ZC_BACKEND"
            }
        ),
        Err(err) => println!("zc cannot allocate here: {err}"),
    }
    Ok(())
}

fn measure(allocator: &dyn Allocator, runs: usize) -> Result<Measurement> {
    // GBM on drivers without NV12 (vgem) still gets a row: XRGB8888 instead.
    let (request, first) = [Fourcc::NV12, Fourcc::XRGB8888]
        .into_iter()
        .map(|fourcc| FrameRequest::new(fourcc, 1920, 1080))
        .find_map(|request| {
            allocator
                .allocate(&request)
                .ok()
                .map(|frame| (request, frame))
        })
        .context("cannot allocate a 1080p NV12 or XRGB8888 frame")?;
    let frame_bytes = first.buffers[0].size();
    drop(first);

    let mut alloc_times = Vec::with_capacity(runs);
    let mut bracket_times = Vec::with_capacity(runs);
    let mut read_times = Vec::with_capacity(runs);
    // Larger than any last-level cache here, so the timed read comes from memory.
    let mut evict = vec![0u8; 64 << 20];
    for _ in 0..runs {
        let started = Instant::now();
        let frame = allocator.allocate(&request)?;
        alloc_times.push(started.elapsed());
        let buffer = &frame.buffers[0];
        // Map once (the first bracket creates the mapping) and fault the pages
        // in, so the timed read below measures bandwidth, not page faults.
        let access = buffer.begin_cpu_access(Access::Read)?;
        // SAFETY: the frame was allocated above and is never shared (no
        // clone, no fd handed out): nothing else writes it.
        black_box(checksum(unsafe { access.data() }));
        access.end()?;

        let started = Instant::now();
        let access = buffer.begin_cpu_access(Access::Read)?;
        access.end()?;
        bracket_times.push(started.elapsed());

        evict
            .iter_mut()
            .step_by(64)
            .for_each(|b| *b = b.wrapping_add(1));
        black_box(&evict);
        let access = buffer.begin_cpu_access(Access::Read)?;
        let started = Instant::now();
        // SAFETY: as above, the frame is this loop's alone.
        black_box(checksum(unsafe { access.data() }));
        read_times.push(started.elapsed());
        access.end()?;
    }
    let read = median(&mut read_times);
    Ok(Measurement {
        format: request.fourcc,
        frame_bytes,
        alloc: median(&mut alloc_times),
        bracket: median(&mut bracket_times),
        read_bandwidth: frame_bytes as f64 / read.as_secs_f64().max(1e-9),
    })
}

/// Read every byte, 8 at a time, so the compiler cannot skip the reads.
fn checksum(data: &[u8]) -> u64 {
    data.chunks_exact(8)
        .map(|chunk| u64::from_ne_bytes(chunk.try_into().unwrap_or_default()))
        .fold(0u64, u64::wrapping_add)
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn format_duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.1} us")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

struct Style {
    color: bool,
}

impl Style {
    fn new(color: bool) -> Self {
        Self { color }
    }
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
    fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }
    fn yellow(&self, text: &str) -> String {
        self.paint("33", text)
    }
    fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }
}

/// Width as seen on screen: escape sequences take no room.
fn visible_width(text: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (false, _) => width += 1,
            _ => {}
        }
    }
    width
}

fn print_table(style: &Style, header: &[&str; 6], rows: &[[String; 6]]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(visible_width(cell));
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - visible_width(cell))))
            .collect();
        println!("  {}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| style.bold(h)).collect());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for row in rows {
        line(row.to_vec());
    }
}
