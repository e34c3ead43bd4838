//! A value cached on a GstMemory, living exactly as long as the memory.
//!
//! Importers (a `wl_buffer`, a Vulkan import) and what was learnt of a
//! frame (its check, `frame::FrameKey`) are made once per buffer and must
//! go when the buffer goes: GStreamer's qdata on the memory gives both,
//! since a pooled buffer keeps its memories across reuse and frees them (and
//! their qdata) when the pool is freed.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use gst::glib;
use gst::glib::translate::IntoGlib;

use crate::lock;

/// Serialises reads and replacements of every cache's qdata, so a reader
/// never borrows a value that another thread (another element holding the
/// same memory) is replacing. Freeing the memory cannot race a reader: the
/// reader holds a reference to it.
static QDATA_LOCK: Mutex<()> = Mutex::new(());

/// Values of type `T` stored under one quark.
pub(crate) struct MemoryCache<T> {
    quark: glib::Quark,
    _value: PhantomData<fn() -> Arc<T>>,
}

unsafe extern "C" fn drop_value<T>(data: glib::ffi::gpointer) {
    // SAFETY: `data` is the `Box<Arc<T>>` leaked by `MemoryCache::set`;
    // GStreamer calls this exactly once, when the qdata is replaced or the
    // memory is freed.
    drop(unsafe { Box::from_raw(data as *mut Arc<T>) });
}

impl<T: Send + Sync + 'static> MemoryCache<T> {
    /// `name` should say what is cached, e.g. "zc-vulkan-import".
    pub(crate) fn new(name: &str) -> Self {
        MemoryCache {
            quark: glib::Quark::from_str(name),
            _value: PhantomData,
        }
    }

    /// The cached value, if any.
    pub(crate) fn get(&self, memory: &gst::MemoryRef) -> Option<Arc<T>> {
        let _guard = lock(&QDATA_LOCK);
        self.peek_locked(memory)
    }

    /// The cached value, or `make()`'s, cached now. Atomic: two threads
    /// asking at once get the same value.
    pub(crate) fn get_or_insert_with(
        &self,
        memory: &gst::MemoryRef,
        make: impl FnOnce() -> T,
    ) -> Arc<T> {
        let _guard = lock(&QDATA_LOCK);
        if let Some(value) = self.peek_locked(memory) {
            return value;
        }
        let value = Arc::new(make());
        // There was no previous value, so nothing is dropped under the lock.
        self.store_locked(memory, value.clone());
        value
    }

    /// Cache `value` on `memory`, replacing (and dropping) any previous one.
    pub(crate) fn set(&self, memory: &gst::MemoryRef, value: Arc<T>) {
        let _guard = lock(&QDATA_LOCK);
        self.store_locked(memory, value);
    }

    /// The value under this cache's quark; the caller holds QDATA_LOCK.
    fn peek_locked(&self, memory: &gst::MemoryRef) -> Option<Arc<T>> {
        // SAFETY: the memory is alive (we borrow it). Under this quark there
        // is only ever a `Box<Arc<T>>` set by `store_locked` (the quark's
        // name belongs to one cache and one `T`), which stays valid while
        // QDATA_LOCK is held: replacing it takes the lock, and freeing the
        // memory cannot happen while we hold a reference.
        let data = unsafe {
            gst::ffi::gst_mini_object_get_qdata(
                memory.as_ptr() as *mut gst::ffi::GstMiniObject,
                self.quark.into_glib(),
            )
        };
        if data.is_null() {
            return None;
        }
        // SAFETY: see above.
        Some(unsafe { &*(data as *const Arc<T>) }.clone())
    }

    /// Set `value` under this cache's quark; the caller holds QDATA_LOCK.
    fn store_locked(&self, memory: &gst::MemoryRef, value: Arc<T>) {
        let data = Box::into_raw(Box::new(value));
        // SAFETY: the memory is alive; GStreamer takes ownership of `data`
        // and frees it with `drop_value::<T>` (a previous value too).
        unsafe {
            gst::ffi::gst_mini_object_set_qdata(
                memory.as_ptr() as *mut gst::ffi::GstMiniObject,
                self.quark.into_glib(),
                data.cast(),
                Some(drop_value::<T>),
            );
        }
    }
}

/// Values of type `T` cached on a memory per key (one per element instance,
/// say): a memory that reaches several elements (a `tee`) keeps each one's
/// value, instead of each replacing the other's.
pub(crate) struct KeyedMemoryCache<T> {
    entries: MemoryCache<Entries<T>>,
}

/// Each key's value, behind a lock of its own (few keys: a linear search).
type Entries<T> = Mutex<Vec<(u64, Arc<T>)>>;

impl<T: Send + Sync + 'static> KeyedMemoryCache<T> {
    pub(crate) fn new(name: &str) -> Self {
        KeyedMemoryCache {
            entries: MemoryCache::new(name),
        }
    }

    /// `key`'s cached value, if any.
    pub(crate) fn get(&self, memory: &gst::MemoryRef, key: u64) -> Option<Arc<T>> {
        let entries = self.entries.get(memory)?;
        let entries = lock(&entries);
        entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, value)| value.clone())
    }

    /// Cache `value` for `key`, replacing that key's previous value (dropped
    /// here, outside every lock) and no other.
    pub(crate) fn set(&self, memory: &gst::MemoryRef, key: u64, value: Arc<T>) {
        let entries = self.entries.get_or_insert_with(memory, Mutex::default);
        let previous = {
            let mut entries = lock(&entries);
            match entries.iter_mut().find(|(k, _)| *k == key) {
                Some((_, slot)) => Some(std::mem::replace(slot, value)),
                None => {
                    entries.push((key, value));
                    None
                }
            }
        };
        drop(previous);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tracked(Arc<()>);

    #[test]
    fn a_value_lives_as_long_as_its_memory() {
        gst::init().expect("gst init");
        let cache = MemoryCache::<Tracked>::new("zc-test-tracked");
        let alive = Arc::new(());
        let memory = gst::Memory::with_size(16);
        assert!(cache.get(&memory).is_none());
        cache.set(&memory, Arc::new(Tracked(alive.clone())));
        assert!(
            cache
                .get(&memory)
                .is_some_and(|t| Arc::ptr_eq(&t.0, &alive))
        );
        assert_eq!(Arc::strong_count(&alive), 2);
        // Replacing drops the old value.
        cache.set(&memory, Arc::new(Tracked(alive.clone())));
        assert_eq!(Arc::strong_count(&alive), 2);
        drop(memory);
        assert_eq!(Arc::strong_count(&alive), 1, "freed with the memory");
    }

    #[test]
    fn keys_keep_their_own_values() {
        gst::init().expect("gst init");
        let cache = KeyedMemoryCache::<Tracked>::new("zc-test-keyed");
        let (one, two) = (Arc::new(()), Arc::new(()));
        let memory = gst::Memory::with_size(16);
        assert!(cache.get(&memory, 1).is_none());
        cache.set(&memory, 1, Arc::new(Tracked(one.clone())));
        cache.set(&memory, 2, Arc::new(Tracked(two.clone())));
        assert!(
            cache
                .get(&memory, 1)
                .is_some_and(|t| Arc::ptr_eq(&t.0, &one))
        );
        assert!(
            cache
                .get(&memory, 2)
                .is_some_and(|t| Arc::ptr_eq(&t.0, &two))
        );
        // Replacing key 1 drops only key 1's old value.
        cache.set(&memory, 1, Arc::new(Tracked(two.clone())));
        assert_eq!(Arc::strong_count(&one), 1);
        assert_eq!(Arc::strong_count(&two), 3);
        drop(memory);
        assert_eq!(Arc::strong_count(&two), 1, "freed with the memory");
    }
}
