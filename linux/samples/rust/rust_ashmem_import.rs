// SPDX-License-Identifier: GPL-2.0

//! A driver that takes ashmem regions and memfds from userspace, as a camera or codec driver
//! takes the buffer an app allocated: `/dev/ashmem_import`.
//!
//! `ASHMEM_IMPORT` takes a file descriptor and keeps what it refers to (the region, or the
//! memfd's file) under a handle of the open file, until `ASHMEM_IMPORT_RELEASE` or the file's
//! release, whether or not userspace closes the descriptor meanwhile. `ASHMEM_IMPORT_INFO` tells
//! what a handle holds. `ASHMEM_IMPORT_PIN` pins a page range of an import from the kernel, as
//! a driver does before a device uses the buffer; `ASHMEM_IMPORT_CHECKSUM` reads the pinned
//! pages (an FNV-1a hash), `ASHMEM_IMPORT_FILL` writes them, as a device would, and
//! `ASHMEM_IMPORT_UNPIN` lets them go. The structures have the same layout for 32-bit callers.
//!
//! Locks nest in this order: an open file's table, then the locks of a region. Nothing under the
//! table's lock waits for `mmap_lock` but copies to userspace, and nothing takes the table's lock
//! under `mmap_lock`: the device has no `mmap`.

use core::mem::size_of;
use kernel::{
    ashmem::{Import, KernelPin, Kind, PinResult, NAME_LEN},
    c_str,
    fs::{File, LocalFile, OpeningFile},
    ioctl::{_IOW, _IOWR},
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    new_mutex,
    prelude::*,
    sync::Mutex,
    uaccess::UserSlice,
};

module! {
    type: ImportModule,
    name: "rust_ashmem_import",
    author: "Rust Ashmem Developers",
    description: "A driver importing ashmem regions and memfds from userspace",
    license: "GPL",
}

/// `struct ashmem_import { __s32 fd; __u32 kind; __u64 size; __u32 handle; __u32 pad;
/// char name[256]; }`: `fd` in, the rest out (for `INFO`, `handle` in).
const IMPORT_SIZE: usize = 24 + NAME_LEN;
/// `struct ashmem_import_pin { __u32 handle; __u32 pin; __u64 offset; __u64 len;
/// __u32 was_purged; __u32 pad; }`: `handle`, `offset` and `len` in, `pin` and `was_purged` out.
const PIN_SIZE: usize = 32;
/// `struct ashmem_import_io { __u32 pin; __u32 pattern; __u64 offset; __u64 len; __u64 sum; }`:
/// bytes `offset..offset + len` of a pin; `sum` out for `CHECKSUM`, `pattern` in for `FILL`.
const IO_SIZE: usize = 32;
const IMPORT: u32 = _IOWR::<[u8; IMPORT_SIZE]>(0xB9, 1);
const PIN: u32 = _IOWR::<[u8; PIN_SIZE]>(0xB9, 2);
const UNPIN: u32 = _IOW::<u32>(0xB9, 3);
const CHECKSUM: u32 = _IOWR::<[u8; IO_SIZE]>(0xB9, 4);
const FILL: u32 = _IOW::<[u8; IO_SIZE]>(0xB9, 5);
const RELEASE: u32 = _IOW::<u32>(0xB9, 6);
const INFO: u32 = _IOWR::<[u8; IMPORT_SIZE]>(0xB9, 7);

/// What `kind` says.
const KIND_REGION: u32 = 1;
const KIND_MEMFD: u32 = 2;

/// Imports one open file may hold.
const MAX_IMPORTS: usize = 16;
/// Kernel pins one open file may hold.
const MAX_PINS: usize = 64;
/// Bytes one open file may keep pinned: pinned memory is charged to nobody, so it is bounded.
const MAX_PINNED_BYTES: usize = 64 << 20;

struct ImportModule {
    _misc: Pin<KBox<MiscDeviceRegistration<Importer>>>,
}

impl kernel::Module for ImportModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let options = MiscDeviceOptions {
            name: c_str!("ashmem_import"),
            mode: 0o600,
        };
        Ok(Self {
            _misc: KBox::pin_init(MiscDeviceRegistration::register(options), GFP_KERNEL)?,
        })
    }
}

/// A kernel pin and the handle of the import it pins.
struct Pinned {
    handle: usize,
    pin: KernelPin,
}

/// What one open file holds.
#[derive(Default)]
struct Table {
    imports: KVec<Option<Import>>,
    pins: KVec<Option<Pinned>>,
    pinned_bytes: usize,
}

impl Table {
    fn pin(&self, id: usize) -> Result<&KernelPin> {
        match self.pins.get(id) {
            Some(Some(pinned)) => Ok(&pinned.pin),
            _ => Err(EINVAL),
        }
    }
}

/// Returns a free slot of `slots` (at most `max` of them), adding one if needed.
fn free_slot<T>(slots: &mut KVec<Option<T>>, max: usize) -> Result<usize> {
    if let Some(free) = slots.iter().position(Option::is_none) {
        return Ok(free);
    }
    if slots.len() == max {
        return Err(ENOSPC);
    }
    slots.push(None, GFP_KERNEL)?;
    Ok(slots.len() - 1)
}

/// The imports and pins of one open file.
#[pin_data]
struct Importer {
    #[pin]
    table: Mutex<Table>,
}

#[vtable]
impl MiscDevice for Importer {
    type Ptr = Pin<KBox<Importer>>;
    const OWNER: &'static ThisModule = &THIS_MODULE;

    fn open(_file: &OpeningFile, _misc: &MiscDeviceRegistration<Self>) -> Result<Self::Ptr> {
        KBox::try_pin_init(
            try_pin_init!(Importer {
                table <- new_mutex!(Table::default()),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(me: Pin<&Importer>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            IMPORT => me.import(arg),
            INFO => me.info(arg),
            RELEASE => me.release(arg),
            PIN => me.pin(arg),
            UNPIN => me.unpin(arg),
            CHECKSUM => me.checksum(arg),
            FILL => me.fill(arg),
            _ => Err(ENOTTY),
        }
    }
}

impl Importer {
    fn import(&self, arg: usize) -> Result<isize> {
        let fd = UserSlice::new(arg, size_of::<i32>())
            .reader()
            .read::<i32>()?;
        let fd = u32::try_from(fd).map_err(|_| EBADF)?;
        let file = LocalFile::fget(fd)?;
        // SAFETY: This thread is in `ioctl(2)`, which took its own file with `fdget()`, not
        // `fdget_pos()`: no `fdget_pos()` section that skipped the position lock of `file` is
        // active on this thread.
        let file = unsafe { LocalFile::assume_no_fdget_pos(file) };
        let import = Import::new(&file)?;
        let mut table = self.table.lock();
        let handle = free_slot(&mut table.imports, MAX_IMPORTS)?;
        let answer = describe(&import, handle, fd as i32);
        // Copied under the lock, which nothing takes under `mmap_lock`, so that a caller that
        // cannot read the handle leaves no import behind.
        UserSlice::new(arg, IMPORT_SIZE)
            .writer()
            .write_slice(&answer)?;
        if let Some(slot) = table.imports.get_mut(handle) {
            *slot = Some(import);
        }
        Ok(0)
    }

    fn info(&self, arg: usize) -> Result<isize> {
        let mut buf = [0u8; IMPORT_SIZE];
        UserSlice::new(arg, IMPORT_SIZE)
            .reader()
            .read_slice(&mut buf)?;
        let handle = u32_at(&buf, 16) as usize;
        let answer = match self.table.lock().imports.get(handle) {
            Some(Some(import)) => describe(import, handle, 0),
            _ => return Err(EINVAL),
        };
        UserSlice::new(arg, IMPORT_SIZE)
            .writer()
            .write_slice(&answer)?;
        Ok(0)
    }

    fn release(&self, arg: usize) -> Result<isize> {
        let handle = UserSlice::new(arg, size_of::<u32>())
            .reader()
            .read::<u32>()? as usize;
        let mut table = self.table.lock();
        if table
            .pins
            .iter()
            .flatten()
            .any(|pinned| pinned.handle == handle)
        {
            return Err(EBUSY);
        }
        let import = table.imports.get_mut(handle).and_then(Option::take);
        drop(table);
        import.map(|_| 0).ok_or(EINVAL)
    }

    fn pin(&self, arg: usize) -> Result<isize> {
        let mut buf = [0u8; PIN_SIZE];
        UserSlice::new(arg, PIN_SIZE)
            .reader()
            .read_slice(&mut buf)?;
        let handle = u32_at(&buf, 0) as usize;
        let offset = usize::try_from(u64_at(&buf, 8)).map_err(|_| EINVAL)?;
        let len = usize::try_from(u64_at(&buf, 16)).map_err(|_| EINVAL)?;
        let mut table = self.table.lock();
        let import = match table.imports.get(handle) {
            Some(Some(import)) => import,
            _ => return Err(EINVAL),
        };
        // Bounded before pinning, which allocates the pages; `Import::pin` checks the range.
        let asked = match len {
            0 => import.size().saturating_sub(offset),
            len => len,
        };
        if table.pinned_bytes.saturating_add(asked) > MAX_PINNED_BYTES {
            return Err(ENOSPC);
        }
        let pin = import.pin(offset, len)?;
        let pinned_bytes = table.pinned_bytes + pin.len();
        if pinned_bytes > MAX_PINNED_BYTES {
            return Err(ENOSPC);
        }
        let id = free_slot(&mut table.pins, MAX_PINS)?;
        buf[4..8].copy_from_slice(&(id as u32).to_ne_bytes());
        let was_purged = pin.result() == PinResult::WasPurged;
        buf[24..28].copy_from_slice(&u32::from(was_purged).to_ne_bytes());
        // As for `IMPORT`: a caller that cannot read the id leaves no pin behind.
        UserSlice::new(arg, PIN_SIZE).writer().write_slice(&buf)?;
        if let Some(slot) = table.pins.get_mut(id) {
            *slot = Some(Pinned { handle, pin });
            table.pinned_bytes = pinned_bytes;
        }
        Ok(0)
    }

    fn unpin(&self, arg: usize) -> Result<isize> {
        let id = UserSlice::new(arg, size_of::<u32>())
            .reader()
            .read::<u32>()? as usize;
        let mut table = self.table.lock();
        let pinned = table
            .pins
            .get_mut(id)
            .and_then(Option::take)
            .ok_or(EINVAL)?;
        table.pinned_bytes -= pinned.pin.len();
        drop(table);
        // Dropped after the table's lock, to keep it short; the lock order allows either.
        drop(pinned);
        Ok(0)
    }

    /// Reads a `struct ashmem_import_io`: the pin id, the pattern, the offset and the length.
    fn read_io(arg: usize) -> Result<(usize, u8, usize, usize)> {
        let mut buf = [0u8; IO_SIZE];
        UserSlice::new(arg, IO_SIZE).reader().read_slice(&mut buf)?;
        let offset = usize::try_from(u64_at(&buf, 8)).map_err(|_| EINVAL)?;
        let len = usize::try_from(u64_at(&buf, 16)).map_err(|_| EINVAL)?;
        Ok((u32_at(&buf, 0) as usize, u32_at(&buf, 4) as u8, offset, len))
    }

    fn checksum(&self, arg: usize) -> Result<isize> {
        let (id, _, offset, len) = Self::read_io(arg)?;
        let mut sum: u64 = 0xcbf2_9ce4_8422_2325;
        {
            let table = self.table.lock();
            let pin = table.pin(id)?;
            if offset.checked_add(len).map_or(true, |end| end > pin.len()) {
                return Err(EINVAL);
            }
            let mut chunk = [0u8; 256];
            let mut at = offset;
            while at < offset + len {
                let n = (offset + len - at).min(chunk.len());
                pin.read(at, &mut chunk[..n])?;
                for byte in &chunk[..n] {
                    sum = (sum ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3);
                }
                at += n;
            }
        }
        // `sum` is the last field.
        UserSlice::new(arg + 24, size_of::<u64>())
            .writer()
            .write(&sum)?;
        Ok(0)
    }

    fn fill(&self, arg: usize) -> Result<isize> {
        let (id, pattern, offset, len) = Self::read_io(arg)?;
        self.table.lock().pin(id)?.fill(offset, len, pattern)?;
        Ok(0)
    }
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut bytes = [0u8; 4];
    bytes.copy_from_slice(&buf[at..at + 4]);
    u32::from_ne_bytes(bytes)
}

fn u64_at(buf: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&buf[at..at + 8]);
    u64::from_ne_bytes(bytes)
}

/// The `struct ashmem_import` that describes `import` under `handle`.
fn describe(import: &Import, handle: usize, fd: i32) -> [u8; IMPORT_SIZE] {
    let mut name = [0u8; NAME_LEN];
    import.name(&mut name);
    let kind = match import.kind() {
        Kind::Region => KIND_REGION,
        Kind::Memfd => KIND_MEMFD,
    };
    let mut out = [0u8; IMPORT_SIZE];
    out[..4].copy_from_slice(&fd.to_ne_bytes());
    out[4..8].copy_from_slice(&kind.to_ne_bytes());
    out[8..16].copy_from_slice(&(import.size() as u64).to_ne_bytes());
    out[16..20].copy_from_slice(&(handle as u32).to_ne_bytes());
    out[24..].copy_from_slice(&name);
    out
}
