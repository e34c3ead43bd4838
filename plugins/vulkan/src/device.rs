//! The Vulkan instance and logical device, and the choice of device.

use std::ffi::CStr;
use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::str::FromStr;

use ash::{ext, khr, vk};

use crate::error::{Error, Result};

/// Which device to use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The device on the given DRM node if one was named (the compositor's
    /// main device), else the first device that can import dma-bufs.
    #[default]
    Auto,
    /// The n-th physical device, in the loader's order.
    Index(usize),
    /// The device whose render or primary node is this path
    /// (`/dev/dri/renderD128`), matched through `VK_EXT_physical_device_drm`.
    DrmNode(PathBuf),
}

impl FromStr for DeviceChoice {
    type Err = std::num::ParseIntError;

    /// `""` or `auto`, a number, or a path.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("auto") {
            Ok(DeviceChoice::Auto)
        } else if s.starts_with('/') {
            Ok(DeviceChoice::DrmNode(PathBuf::from(s)))
        } else {
            s.parse().map(DeviceChoice::Index)
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Auto => f.write_str("auto"),
            DeviceChoice::Index(i) => write!(f, "device index {i}"),
            DeviceChoice::DrmNode(p) => write!(f, "DRM node {}", p.display()),
        }
    }
}

/// What a device can do for zc, found once when it is opened.
#[derive(Clone, Debug, Default)]
pub struct Capabilities {
    /// `VK_EXT_image_drm_format_modifier`: frames are imported as images
    /// with explicit plane layouts; without it, as buffers (LINEAR only).
    pub drm_format_modifier: bool,
    /// `VK_EXT_queue_family_foreign`: ownership moves from/to
    /// `QUEUE_FAMILY_FOREIGN_EXT` (else `QUEUE_FAMILY_EXTERNAL`).
    pub queue_family_foreign: bool,
    /// `VK_KHR_external_semaphore_fd` with SYNC_FD import and export: the
    /// producer's sync_file is waited on by the GPU, and the output gets
    /// the conversion's fence as a sync_file.
    pub sync_fd_semaphore: bool,
    /// Storage buffers can be exported as DMA_BUF handles.
    pub export_dma_buf: bool,
    /// The DRM render node (major, minor), where the device reports it.
    pub render_node: Option<(u32, u32)>,
    pub primary_node: Option<(u32, u32)>,
}

/// One physical device as seen when choosing.
#[derive(Clone, Debug)]
pub struct DeviceInfo {
    pub index: usize,
    pub name: String,
    pub driver: String,
    /// The driver's `VkDriverId` (what `Context::closes_fd_on_failed_import`
    /// goes by).
    pub driver_id: vk::DriverId,
    /// Missing required extensions; empty if it can import dma-bufs.
    pub missing: Vec<&'static str>,
    pub capabilities: Capabilities,
}

impl fmt::Display for DeviceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {} ({})", self.index, self.name, self.driver)?;
        if let Some((major, minor)) = self.capabilities.render_node {
            write!(f, " render node {major}:{minor}")?;
        }
        if !self.missing.is_empty() {
            write!(f, " lacking {}", self.missing.join(", "))?;
        }
        Ok(())
    }
}

const REQUIRED: [&CStr; 2] = [
    khr::external_memory_fd::NAME,
    ext::external_memory_dma_buf::NAME,
];

/// The instance, the chosen device, its compute queue and extension tables.
/// Shared by `Arc`; dropped last, after every image, buffer and pipeline
/// made from it (they hold the `Arc`).
pub struct Context {
    _entry: ash::Entry,
    instance: ash::Instance,
    pub(crate) physical: vk::PhysicalDevice,
    pub(crate) device: ash::Device,
    pub(crate) queue: vk::Queue,
    pub(crate) queue_family: u32,
    pub(crate) memory_fd: khr::external_memory_fd::Device,
    /// Present when the device imports and exports SYNC_FD semaphores.
    pub(crate) semaphore_fd: Option<khr::external_semaphore_fd::Device>,
    pub(crate) memory_properties: vk::PhysicalDeviceMemoryProperties,
    info: DeviceInfo,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("device", &self.info)
            .finish()
    }
}

fn has_ext(exts: &[vk::ExtensionProperties], name: &CStr) -> bool {
    exts.iter()
        .any(|e| e.extension_name_as_c_str().is_ok_and(|n| n == name))
}

fn node_of(path: &std::path::Path) -> Option<(u32, u32)> {
    let rdev = std::fs::metadata(path).ok()?.rdev();
    Some((libc::major(rdev), libc::minor(rdev)))
}

impl Context {
    /// Load Vulkan, pick a device by `choice`, and open it with the
    /// extensions zc uses.
    pub fn new(choice: &DeviceChoice) -> Result<std::sync::Arc<Context>> {
        // SAFETY: loading libvulkan runs its initialisers; the loader is
        // designed to be dlopen'ed and we keep the Entry for the lifetime of
        // every object made from it (it is a field of Context).
        let entry = unsafe { ash::Entry::load() }.map_err(|e| Error::Loader(e.to_string()))?;
        let app = vk::ApplicationInfo::default()
            .application_name(c"zc")
            .api_version(vk::API_VERSION_1_2);
        let create = vk::InstanceCreateInfo::default().application_info(&app);
        // SAFETY: the create info and what it points to live across the call.
        let instance = unsafe { entry.create_instance(&create, None) }
            .map_err(Error::vk("vkCreateInstance"))?;
        // From here the instance is destroyed on every early return.
        let guard = InstanceGuard {
            instance,
            armed: true,
        };
        let instance = &guard.instance;
        let devices = list(instance)?;
        let seen = || {
            devices
                .iter()
                .map(|(_, d)| d.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        };
        let usable = |d: &&(vk::PhysicalDevice, DeviceInfo)| d.1.missing.is_empty();
        let chosen = match choice {
            DeviceChoice::Auto => devices
                .iter()
                .find(usable)
                .ok_or_else(|| Error::NoDevice { seen: seen() })?,
            DeviceChoice::Index(i) => devices
                .iter()
                .filter(usable)
                .find(|(_, d)| d.index == *i)
                .ok_or_else(|| Error::DeviceNotFound {
                    wanted: choice.to_string(),
                    seen: seen(),
                })?,
            DeviceChoice::DrmNode(path) => {
                let node = node_of(path);
                devices
                    .iter()
                    .filter(usable)
                    .find(|(_, d)| {
                        node.is_some()
                            && (d.capabilities.render_node == node
                                || d.capabilities.primary_node == node)
                    })
                    .ok_or_else(|| Error::DeviceNotFound {
                        wanted: choice.to_string(),
                        seen: seen(),
                    })?
            }
        };
        let (physical, info) = chosen.clone();
        let (device, queue_family) = open_device(instance, physical, &info.capabilities)?;
        let instance = guard.take();
        // SAFETY: the device was created with one queue in `queue_family`.
        let queue = unsafe { device.get_device_queue(queue_family, 0) };
        let memory_fd = khr::external_memory_fd::Device::new(&instance, &device);
        let semaphore_fd = info
            .capabilities
            .sync_fd_semaphore
            .then(|| khr::external_semaphore_fd::Device::new(&instance, &device));
        // SAFETY: `physical` came from this instance.
        let memory_properties = unsafe { instance.get_physical_device_memory_properties(physical) };
        log::info!("Vulkan device {info}; capabilities {:?}", info.capabilities);
        Ok(std::sync::Arc::new(Context {
            _entry: entry,
            instance,
            physical,
            device,
            queue,
            queue_family,
            memory_fd,
            semaphore_fd,
            memory_properties,
            info,
        }))
    }

    /// The chosen device.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// Whether a failed memory import closes the fd it was given. The spec
    /// leaves the fd to the application when the import fails; lavapipe
    /// (Mesa 25, seen: the fd is gone right after a refused read-only
    /// memfd) closes it anyway. After the call nothing can tell "the driver
    /// closed ours" from "another thread got the same number": a file's
    /// (device, inode) is shared by every dup of a dma-buf. So the rule goes
    /// by driver: where it closes, we never close; elsewhere we close, as the
    /// spec says. Should lavapipe start following the spec, the cost is one
    /// fd leaked per failed import, never someone else's fd closed.
    pub(crate) fn closes_fd_on_failed_import(&self) -> bool {
        self.info.driver_id == vk::DriverId::MESA_LLVMPIPE
    }

    pub fn capabilities(&self) -> &Capabilities {
        &self.info.capabilities
    }

    pub(crate) fn instance(&self) -> &ash::Instance {
        &self.instance
    }

    /// The queue family that owns imported resources outside Vulkan.
    pub(crate) fn foreign_family(&self) -> u32 {
        if self.info.capabilities.queue_family_foreign {
            vk::QUEUE_FAMILY_FOREIGN_EXT
        } else {
            vk::QUEUE_FAMILY_EXTERNAL
        }
    }

    /// A memory type in `bits` (and `required` flags), if any.
    pub(crate) fn memory_type(&self, bits: u32, required: vk::MemoryPropertyFlags) -> Option<u32> {
        let props = &self.memory_properties;
        (0..props.memory_type_count).find(|&i| {
            bits & (1 << i) != 0
                && props.memory_types[i as usize]
                    .property_flags
                    .contains(required)
        })
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: every object made from the device holds an Arc<Context>,
        // so none is left when this runs; waiting idle first makes sure no
        // submitted work still references the device.
        unsafe {
            let _ = self.device.device_wait_idle();
            self.device.destroy_device(None);
            self.instance.destroy_instance(None);
        }
    }
}

/// Destroys the instance unless taken: for the error paths of `Context::new`.
struct InstanceGuard {
    instance: ash::Instance,
    armed: bool,
}

impl InstanceGuard {
    /// The instance, no longer destroyed by the guard.
    fn take(mut self) -> ash::Instance {
        self.armed = false;
        // `ash::Instance` is a handle and its function table: the clone is
        // the same instance.
        self.instance.clone()
    }
}

impl Drop for InstanceGuard {
    fn drop(&mut self) {
        if self.armed {
            // SAFETY: nothing was created from the instance that outlives
            // this guard (the device is created only on the success path).
            unsafe { self.instance.destroy_instance(None) };
        }
    }
}

/// Every physical device with what it lacks and what it can do.
fn list(instance: &ash::Instance) -> Result<Vec<(vk::PhysicalDevice, DeviceInfo)>> {
    // SAFETY: a valid instance.
    let physicals = unsafe { instance.enumerate_physical_devices() }
        .map_err(Error::vk("vkEnumeratePhysicalDevices"))?;
    let mut out = Vec::new();
    for (index, &pd) in physicals.iter().enumerate() {
        // SAFETY: `pd` came from this instance.
        let exts = unsafe { instance.enumerate_device_extension_properties(pd) }
            .map_err(Error::vk("vkEnumerateDeviceExtensionProperties"))?;
        let mut missing: Vec<&'static str> = REQUIRED
            .iter()
            .filter(|n| !has_ext(&exts, n))
            .map(|n| n.to_str().unwrap_or("?"))
            .collect();
        if compute_family(instance, pd).is_none() {
            missing.push("a compute queue");
        }
        let has_drm = has_ext(&exts, ext::physical_device_drm::NAME);
        let mut drm = vk::PhysicalDeviceDrmPropertiesEXT::default();
        let mut driver = vk::PhysicalDeviceDriverProperties::default();
        let mut props2 = vk::PhysicalDeviceProperties2::default().push_next(&mut driver);
        if has_drm {
            props2 = props2.push_next(&mut drm);
        }
        // SAFETY: the pNext chain holds structs that live across the call
        // and that the device supports (DRM properties only with the extension).
        unsafe { instance.get_physical_device_properties2(pd, &mut props2) };
        let name = props2
            .properties
            .device_name_as_c_str()
            .map(|c| c.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        let driver_id = driver.driver_id;
        let driver = driver
            .driver_name_as_c_str()
            .map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_default();
        let sync_fd_semaphore = has_ext(&exts, khr::external_semaphore_fd::NAME) && {
            let info = vk::PhysicalDeviceExternalSemaphoreInfo::default()
                .handle_type(vk::ExternalSemaphoreHandleTypeFlags::SYNC_FD);
            let mut props = vk::ExternalSemaphoreProperties::default();
            // SAFETY: plain query with valid structs.
            unsafe {
                instance.get_physical_device_external_semaphore_properties(pd, &info, &mut props)
            };
            props.external_semaphore_features.contains(
                vk::ExternalSemaphoreFeatureFlags::IMPORTABLE
                    | vk::ExternalSemaphoreFeatureFlags::EXPORTABLE,
            )
        };
        let export_dma_buf = {
            let info = vk::PhysicalDeviceExternalBufferInfo::default()
                .usage(vk::BufferUsageFlags::STORAGE_BUFFER)
                .handle_type(vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT);
            let mut props = vk::ExternalBufferProperties::default();
            // SAFETY: plain query with valid structs.
            unsafe {
                instance.get_physical_device_external_buffer_properties(pd, &info, &mut props)
            };
            props
                .external_memory_properties
                .external_memory_features
                .contains(vk::ExternalMemoryFeatureFlags::EXPORTABLE)
        };
        let capabilities = Capabilities {
            drm_format_modifier: has_ext(&exts, ext::image_drm_format_modifier::NAME),
            queue_family_foreign: has_ext(&exts, ext::queue_family_foreign::NAME),
            sync_fd_semaphore,
            export_dma_buf,
            render_node: (has_drm && drm.has_render != 0)
                .then_some((drm.render_major as u32, drm.render_minor as u32)),
            primary_node: (has_drm && drm.has_primary != 0)
                .then_some((drm.primary_major as u32, drm.primary_minor as u32)),
        };
        out.push((
            pd,
            DeviceInfo {
                index,
                name,
                driver,
                driver_id,
                missing,
                capabilities,
            },
        ));
    }
    Ok(out)
}

fn compute_family(instance: &ash::Instance, pd: vk::PhysicalDevice) -> Option<u32> {
    // SAFETY: `pd` came from this instance.
    let families = unsafe { instance.get_physical_device_queue_family_properties(pd) };
    families
        .iter()
        .position(|f| f.queue_flags.contains(vk::QueueFlags::COMPUTE))
        .and_then(|i| u32::try_from(i).ok())
}

fn open_device(
    instance: &ash::Instance,
    pd: vk::PhysicalDevice,
    caps: &Capabilities,
) -> Result<(ash::Device, u32)> {
    let family = compute_family(instance, pd).ok_or_else(|| Error::NoDevice {
        seen: "no compute queue".into(),
    })?;
    let mut names: Vec<*const std::ffi::c_char> = REQUIRED.iter().map(|n| n.as_ptr()).collect();
    if caps.drm_format_modifier {
        names.push(ext::image_drm_format_modifier::NAME.as_ptr());
    }
    if caps.queue_family_foreign {
        names.push(ext::queue_family_foreign::NAME.as_ptr());
    }
    if caps.sync_fd_semaphore {
        names.push(khr::external_semaphore_fd::NAME.as_ptr());
    }
    let priorities = [1.0];
    let queues = [vk::DeviceQueueCreateInfo::default()
        .queue_family_index(family)
        .queue_priorities(&priorities)];
    let create = vk::DeviceCreateInfo::default()
        .queue_create_infos(&queues)
        .enabled_extension_names(&names);
    // SAFETY: the extension names are static C strings the device reported;
    // the create info outlives the call.
    let device = unsafe { instance.create_device(pd, &create, None) }
        .map_err(Error::vk("vkCreateDevice"))?;
    Ok((device, family))
}

/// Every Vulkan device the loader reports, with what each lacks: for
/// `gst-inspect`, logs and tests. Opens no device.
pub fn list_devices() -> Result<Vec<DeviceInfo>> {
    // SAFETY: as in `Context::new`.
    let entry = unsafe { ash::Entry::load() }.map_err(|e| Error::Loader(e.to_string()))?;
    let app = vk::ApplicationInfo::default().api_version(vk::API_VERSION_1_2);
    // SAFETY: valid create info.
    let instance = unsafe {
        entry.create_instance(
            &vk::InstanceCreateInfo::default().application_info(&app),
            None,
        )
    }
    .map_err(Error::vk("vkCreateInstance"))?;
    let guard = InstanceGuard {
        instance,
        armed: true,
    };
    let result = list(&guard.instance);
    drop(guard);
    Ok(result?.into_iter().map(|(_, d)| d).collect())
}
