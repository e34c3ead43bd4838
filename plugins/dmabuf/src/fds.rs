//! The process's open fds and what they are (`/proc/self/fd`): how the
//! player, the benchmark and every leak test show that nothing is left open
//! behind them (dma-bufs and memfds above all).

use std::os::fd::RawFd;

/// One open fd and what `/proc/self/fd/N` points to (`/dmabuf:...`,
/// `/memfd:... (deleted)`, `socket:[...]`, a path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenFd {
    pub fd: RawFd,
    pub target: String,
}

impl OpenFd {
    pub fn is_dmabuf(&self) -> bool {
        self.target.starts_with("/dmabuf:") || self.target.starts_with("anon_inode:dmabuf")
    }

    pub fn is_memfd(&self) -> bool {
        self.target.starts_with("/memfd:")
    }
}

/// The fds open now (those that vanish while being listed are skipped);
/// none where /proc cannot be read.
pub fn open_fds() -> Vec<OpenFd> {
    try_open_fds().unwrap_or_default()
}

/// [`open_fds`], with the error when `/proc/self/fd` cannot be listed.
pub fn try_open_fds() -> std::io::Result<Vec<OpenFd>> {
    let entries = std::fs::read_dir("/proc/self/fd")?;
    // The listing's own directory fd is not one of ours.
    let listing = format!("/proc/{}/fd", std::process::id());
    let mut fds: Vec<OpenFd> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let fd = entry.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(entry.path()).ok()?;
            let target = target.to_string_lossy().into_owned();
            (target != listing).then_some(OpenFd { fd, target })
        })
        .collect();
    fds.sort_by_key(|f| f.fd);
    Ok(fds)
}

/// How many fds are open now (the listing's own fd not counted).
pub fn count() -> usize {
    open_fds().len()
}

/// How many open fds are dma-bufs.
pub fn dmabuf_count() -> usize {
    open_fds().iter().filter(|f| f.is_dmabuf()).count()
}

/// Fds in `now` that were not in `baseline` (same number and target; a
/// file deleted in between is the same fd, its link now ending in
/// " (deleted)"), leaving out those pointing at `ignored` targets (e.g. the
/// control connection in use, `socket:[inode]`).
pub fn opened_since(baseline: &[OpenFd], now: &[OpenFd], ignored: &[String]) -> Vec<OpenFd> {
    let same = |a: &OpenFd, b: &OpenFd| {
        let file = |f: &OpenFd| {
            f.target
                .strip_suffix(" (deleted)")
                .unwrap_or(&f.target)
                .to_owned()
        };
        a.fd == b.fd && file(a) == file(b)
    };
    now.iter()
        .filter(|f| !ignored.contains(&f.target) && !baseline.iter().any(|b| same(b, f)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd(fd: RawFd, target: &str) -> OpenFd {
        OpenFd {
            fd,
            target: target.into(),
        }
    }

    #[test]
    fn kinds_are_told_from_the_link_target() {
        assert!(fd(5, "/dmabuf:").is_dmabuf());
        assert!(fd(5, "anon_inode:dmabuf").is_dmabuf());
        assert!(fd(6, "/memfd:zc-frame (deleted)").is_memfd());
        assert!(!fd(7, "socket:[1234]").is_dmabuf());
    }

    #[test]
    fn new_and_reused_numbers_count_as_opened() {
        let baseline = vec![fd(0, "/dev/null"), fd(3, "socket:[1]")];
        let now = vec![
            fd(0, "/dev/null"),
            fd(3, "/dmabuf:"),
            fd(4, "socket:[2]"),
            fd(9, "/memfd:x (deleted)"),
        ];
        let opened = opened_since(&baseline, &now, &["socket:[2]".to_owned()]);
        assert_eq!(opened, vec![fd(3, "/dmabuf:"), fd(9, "/memfd:x (deleted)")]);
    }

    #[test]
    fn a_file_deleted_while_open_is_the_same_fd() {
        let baseline = vec![fd(8, "/tmp/clip.mkv")];
        let now = vec![fd(8, "/tmp/clip.mkv (deleted)")];
        assert!(opened_since(&baseline, &now, &[]).is_empty());
        let reused = vec![fd(8, "/tmp/other.mkv (deleted)")];
        assert_eq!(opened_since(&baseline, &reused, &[]), reused);
    }

    #[test]
    fn this_process_sees_a_file_it_opens() {
        let file = std::fs::File::open("/proc/self/status").expect("open");
        use std::os::fd::AsRawFd;
        let raw = file.as_raw_fd();
        assert!(
            open_fds()
                .iter()
                .any(|f| f.fd == raw && f.target.ends_with("/status"))
        );
    }
}
