//! What a compositor can import: linux-dmabuf v3 `format`/`modifier` events,
//! or v4+ feedback (main device, tranches over a shared format table).

use std::collections::BTreeSet;
use std::os::fd::{AsFd, OwnedFd};

use zc_dmabuf::{Fourcc, Modifier};

use crate::error::WaylandError;

/// One entry of the v4 format table: 16 bytes, `u32` format, 4 bytes of
/// padding, `u64` modifier, native endian.
const TABLE_ENTRY_BYTES: usize = 16;

/// A (fourcc, modifier) pair the compositor accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FormatModifier {
    pub fourcc: Fourcc,
    pub modifier: Modifier,
}

/// One tranche of v4 feedback: formats usable on `target_device`, in the
/// compositor's order of preference.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tranche {
    pub target_device: Option<libc::dev_t>,
    pub formats: Vec<FormatModifier>,
    /// The compositor could scan these out directly (ZWP flag `scanout`).
    pub scanout: bool,
}

/// A complete feedback: the device to allocate on and the tranches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Feedback {
    pub main_device: Option<libc::dev_t>,
    pub tranches: Vec<Tranche>,
}

impl Feedback {
    /// Every pair any tranche accepts.
    pub fn formats(&self) -> BTreeSet<FormatModifier> {
        self.tranches
            .iter()
            .flat_map(|t| t.formats.iter().copied())
            .collect()
    }

    /// Every pair once, best first: the tranches for the main device (the
    /// compositor sends tranches in its order of preference, a scanout
    /// tranche before the one it composites), then those for other
    /// devices; inside a tranche, the compositor's order.
    pub fn preferred_formats(&self) -> Vec<FormatModifier> {
        let on_main =
            |t: &&Tranche| t.target_device.is_none() || t.target_device == self.main_device;
        let mut seen = BTreeSet::new();
        self.tranches
            .iter()
            .filter(on_main)
            .chain(self.tranches.iter().filter(|t| !on_main(t)))
            .flat_map(|t| t.formats.iter().copied())
            .filter(|pair| seen.insert(*pair))
            .collect()
    }
}

/// The v4 format table, read once from the fd the compositor sends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FormatTable {
    entries: Vec<FormatModifier>,
}

impl FormatTable {
    /// Read `size` bytes of table from `fd` (a read-only memfd the
    /// compositor shares; `pread` avoids holding a mapping).
    pub fn read(fd: OwnedFd, size: u32) -> Result<FormatTable, WaylandError> {
        let size = size as usize;
        if !size.is_multiple_of(TABLE_ENTRY_BYTES) {
            return Err(WaylandError::BadFormatTable(format!(
                "{size} bytes is not a whole number of {TABLE_ENTRY_BYTES}-byte entries"
            )));
        }
        let mut bytes = vec![0u8; size];
        let mut done = 0;
        while done < size {
            match crate::sys::pread(fd.as_fd(), &mut bytes[done..], done as u64) {
                Ok(0) => {
                    return Err(WaylandError::BadFormatTable(format!(
                        "the table fd ended after {done} of {size} bytes"
                    )));
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(WaylandError::BadFormatTable(format!("reading it: {e}"))),
            }
        }
        Ok(FormatTable::parse(&bytes))
    }

    /// Parse table bytes (whole entries; a trailing partial entry is ignored).
    pub fn parse(bytes: &[u8]) -> FormatTable {
        let entries = bytes
            .chunks_exact(TABLE_ENTRY_BYTES)
            .map(|entry| {
                let mut format = [0u8; 4];
                format.copy_from_slice(&entry[0..4]);
                let mut modifier = [0u8; 8];
                modifier.copy_from_slice(&entry[8..16]);
                FormatModifier {
                    fourcc: Fourcc(u32::from_ne_bytes(format)),
                    modifier: Modifier(u64::from_ne_bytes(modifier)),
                }
            })
            .collect();
        FormatTable { entries }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Resolve the `u16` indices of a `tranche_formats` event. Indices past
    /// the table's end are a compositor bug; they are reported, not used.
    pub fn resolve(&self, indices: &[u8]) -> Result<Vec<FormatModifier>, WaylandError> {
        indices
            .chunks_exact(2)
            .map(|index| {
                let index = u16::from_ne_bytes([index[0], index[1]]) as usize;
                self.entries.get(index).copied().ok_or_else(|| {
                    WaylandError::BadFormatTable(format!(
                        "tranche index {index} is past the table's {} entries",
                        self.entries.len()
                    ))
                })
            })
            .collect()
    }
}

/// A `dev_t` from the `wl_array` of `main_device`/`tranche_target_device`.
pub fn dev_from_array(bytes: &[u8]) -> Option<libc::dev_t> {
    let bytes: [u8; std::mem::size_of::<libc::dev_t>()] = bytes.try_into().ok()?;
    Some(libc::dev_t::from_ne_bytes(bytes))
}

/// The DRM nodes of the device `dev` names, that node first, then the
/// device's other nodes (a compositor names its render node; GBM may need
/// the primary node, e.g. on vgem, whose render node has no dumb buffers).
pub fn drm_nodes_for(dev: libc::dev_t) -> Vec<std::path::PathBuf> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let is_dev = |path: &std::path::Path| {
        std::fs::metadata(path).is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == dev)
    };
    let Ok(entries) = std::fs::read_dir("/dev/dri") else {
        return Vec::new();
    };
    let nodes: Vec<std::path::PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    let Some(own) = nodes.iter().find(|p| is_dev(p)).cloned() else {
        return Vec::new();
    };
    // Siblings share the device directory in sysfs.
    let device_dir = |node: &std::path::Path| {
        let name = node.file_name()?.to_str()?.to_owned();
        std::fs::canonicalize(format!("/sys/class/drm/{name}/device")).ok()
    };
    let own_device = device_dir(&own);
    let mut result = vec![own.clone()];
    result.extend(
        nodes
            .into_iter()
            .filter(|p| *p != own && own_device.is_some() && device_dir(p) == own_device),
    );
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn entry(fourcc: Fourcc, modifier: Modifier) -> Vec<u8> {
        let mut bytes = fourcc.0.to_ne_bytes().to_vec();
        bytes.extend([0u8; 4]);
        bytes.extend(modifier.0.to_ne_bytes());
        bytes
    }

    #[test]
    fn table_entries_and_tranche_indices_resolve() {
        let mut bytes = entry(Fourcc::NV12, Modifier::LINEAR);
        bytes.extend(entry(Fourcc::XRGB8888, Modifier::INVALID));
        let table = FormatTable::parse(&bytes);
        assert_eq!(table.len(), 2);
        let indices: Vec<u8> = [1u16, 0].iter().flat_map(|i| i.to_ne_bytes()).collect();
        assert_eq!(
            table.resolve(&indices).expect("valid indices"),
            vec![
                FormatModifier {
                    fourcc: Fourcc::XRGB8888,
                    modifier: Modifier::INVALID
                },
                FormatModifier {
                    fourcc: Fourcc::NV12,
                    modifier: Modifier::LINEAR
                },
            ]
        );
        let past_end = 2u16.to_ne_bytes();
        let error = table.resolve(&past_end).expect_err("index 2 of 2 entries");
        assert!(error.to_string().contains("past the table"), "{error}");
    }

    #[test]
    fn table_is_read_from_an_fd() {
        let mut bytes = entry(Fourcc::YUYV, Modifier::LINEAR);
        bytes.extend(entry(Fourcc::P010, Modifier::LINEAR));
        let mut file = tempfile();
        file.write_all(&bytes).expect("write table");
        let table = FormatTable::read(OwnedFd::from(file), bytes.len() as u32).expect("table");
        assert_eq!(table, FormatTable::parse(&bytes));
    }

    #[test]
    fn truncated_table_is_an_error() {
        let bytes = entry(Fourcc::YUYV, Modifier::LINEAR);
        let mut file = tempfile();
        file.write_all(&bytes).expect("write table");
        let error =
            FormatTable::read(OwnedFd::from(file), 32).expect_err("32 bytes claimed, 16 there");
        assert!(
            error.to_string().contains("ended after 16 of 32"),
            "{error}"
        );
        let error =
            FormatTable::read(OwnedFd::from(tempfile()), 20).expect_err("not whole entries");
        assert!(error.to_string().contains("whole number"), "{error}");
    }

    #[test]
    fn dev_t_from_array_checks_its_length() {
        let dev: libc::dev_t = libc::makedev(226, 128);
        assert_eq!(dev_from_array(&dev.to_ne_bytes()), Some(dev));
        assert_eq!(dev_from_array(&[1, 2, 3]), None);
    }

    fn tempfile() -> std::fs::File {
        let path = std::env::temp_dir().join(format!(
            "zc-format-table-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .expect("temp file");
        let _ = std::fs::remove_file(&path);
        file
    }

    #[test]
    fn preferred_formats_put_the_main_devices_tranches_first_without_repeats() {
        let pair = |fourcc, modifier| FormatModifier {
            fourcc,
            modifier: Modifier(modifier),
        };
        let tiled = pair(Fourcc::NV12, 0x0100_0000_0000_0002);
        let linear = pair(Fourcc::NV12, 0);
        let rgb = pair(Fourcc::XRGB8888, 0);
        let feedback = Feedback {
            main_device: Some(1),
            tranches: vec![
                Tranche {
                    target_device: Some(2),
                    formats: vec![rgb],
                    scanout: false,
                },
                Tranche {
                    target_device: Some(1),
                    formats: vec![tiled, linear],
                    scanout: true,
                },
                Tranche {
                    target_device: Some(1),
                    formats: vec![linear, rgb],
                    scanout: false,
                },
            ],
        };
        assert_eq!(feedback.preferred_formats(), vec![tiled, linear, rgb]);
        assert_eq!(feedback.formats().len(), 3);
    }
}
