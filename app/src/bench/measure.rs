//! Reading what a process costs from the kernel: CPU time, peak memory,
//! open fds, and the monotonic clock Weston's timeline uses.

use std::path::Path;
use std::time::Duration;

use super::BenchError;

/// CPU time of this process (all threads, also finished ones), split.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTime {
    pub user: Duration,
    pub system: Duration,
}

impl CpuTime {
    pub fn total(&self) -> Duration {
        self.user + self.system
    }

    pub fn since(&self, earlier: &CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec.max(0) as u64) + Duration::from_micros(tv.tv_usec.max(0) as u64)
}

/// `getrusage(RUSAGE_SELF)`: user and system time of the whole process.
pub fn own_cpu_time() -> Result<CpuTime, BenchError> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `struct rusage` into the pointer we give it,
    // which points at enough (zeroed) storage for one.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return Err(BenchError::System {
            what: "getrusage(RUSAGE_SELF)".to_owned(),
            source: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: getrusage succeeded, so it filled the struct.
    let usage = unsafe { usage.assume_init() };
    Ok(CpuTime {
        user: timeval(usage.ru_utime),
        system: timeval(usage.ru_stime),
    })
}

/// CPU time of another process: the sum over its threads of the time they
/// ran (`/proc/PID/task/*/schedstat`, nanoseconds; user and system
/// together). Threads that already exited are not in it; Weston's threads
/// (llvmpipe's among them) live as long as Weston.
pub fn process_cpu_time(pid: u32) -> Result<Duration, BenchError> {
    let tasks = Path::new("/proc").join(pid.to_string()).join("task");
    let entries = std::fs::read_dir(&tasks).map_err(|source| BenchError::System {
        what: format!(
            "reading {} (is process {pid} still running?)",
            tasks.display()
        ),
        source,
    })?;
    let mut total = 0u64;
    for entry in entries.flatten() {
        // A thread may exit between listing and reading: skip it.
        let Ok(text) = std::fs::read_to_string(entry.path().join("schedstat")) else {
            continue;
        };
        total += parse_schedstat(&text).unwrap_or(0);
    }
    Ok(Duration::from_nanos(total))
}

/// The first field of `/proc/.../schedstat`: nanoseconds on a CPU.
fn parse_schedstat(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// The peak resident set size of this process (`VmHWM`), in KiB.
pub fn own_peak_rss_kib() -> Result<u64, BenchError> {
    let status =
        std::fs::read_to_string("/proc/self/status").map_err(|source| BenchError::System {
            what: "reading /proc/self/status".to_owned(),
            source,
        })?;
    parse_status_kib(&status, "VmHWM:").ok_or_else(|| BenchError::System {
        what: "/proc/self/status has no VmHWM line".to_owned(),
        source: std::io::Error::from(std::io::ErrorKind::InvalidData),
    })
}

fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// How many fds this process has open.
pub fn own_fd_count() -> Result<u64, BenchError> {
    let fds = zc_dmabuf::fds::try_open_fds().map_err(|source| BenchError::System {
        what: "listing /proc/self/fd".to_owned(),
        source,
    })?;
    Ok(fds.len() as u64)
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock of Weston's timeline points.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the pointer; the clock
    // id is a constant every Linux kernel has, so it does not fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec.max(0) as u64 * 1_000_000_000 + ts.tv_nsec.max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat_and_status_lines_parse() {
        assert_eq!(parse_schedstat("123456 789 10\n"), Some(123456));
        assert_eq!(parse_schedstat(""), None);
        let status = "Name:\tx\nVmPeak:\t  5000 kB\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(parse_status_kib(status, "VmHWM:"), Some(1234));
        assert_eq!(parse_status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn own_cpu_time_grows_with_work() {
        // Spin until getrusage reports 10 ms more: it never would if it
        // returned a constant. The wall-clock bound is generous because a
        // busy machine gives this thread only part of a core.
        let before = own_cpu_time().unwrap();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while own_cpu_time().unwrap().since(&before).total() < Duration::from_millis(10) {
            for _ in 0..100_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "CPU time did not grow in a minute of spinning"
            );
        }
        std::hint::black_box(x);
    }

    #[test]
    fn another_process_cpu_time_is_readable_and_fds_are_counted() {
        let me = std::process::id();
        assert!(process_cpu_time(me).unwrap() > Duration::ZERO);
        let before = own_fd_count().unwrap();
        let file = std::fs::File::open("/proc/self/status").unwrap();
        assert_eq!(own_fd_count().unwrap(), before + 1);
        drop(file);
        assert_eq!(own_fd_count().unwrap(), before);
        assert!(own_peak_rss_kib().unwrap() > 0);
        let gone = process_cpu_time(u32::MAX).unwrap_err().to_string();
        assert!(gone.contains("still running"), "{gone}");
    }
}
