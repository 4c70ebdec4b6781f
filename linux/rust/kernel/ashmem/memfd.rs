// SPDX-License-Identifier: GPL-2.0

//! Android's ashmem ioctls on memfds.
//!
//! Android userspace creates its shared memory with `memfd_create()` where the kernel answers
//! ashmem ioctls on the result, and apps that get such a file keep calling them. [`Memfd`] gives
//! each command's answer for a memfd, and [`ioctl`] decodes the commands. With
//! `CONFIG_RUST_ASHMEM_MEMFD`, `memfd_create()` gives its files an `ioctl` operation that hands
//! ashmem's commands to [`ioctl`]; other tmpfs files keep shmem's operations.
//!
//! A memfd has nothing to purge: pins report [`PinResult::NotPurged`], and the protection mask
//! is the file's write seals.

use super::{ioctl as cmd, region::Region, PinRange, PinResult, NAME_LEN};
use crate::{
    error::{code::*, Result},
    fs::LocalFile,
    memfd::{self, seal},
    mm::virt::prot,
    task::{capable, Capability},
    uaccess::UserSlice,
};
use core::mem::size_of;

/// A file made by `memfd_create()`, seen through the ashmem commands.
///
/// # Examples
///
/// ```
/// use kernel::{
///     ashmem::{memfd::Memfd, PinRange, PinResult, NAME_LEN},
///     c_str,
///     mm::virt::prot,
///     page::PAGE_SIZE,
///     shmem::ShmemFile,
/// };
///
/// // A shmem file named as `memfd_create()` names its files; the kernel's start sealed
/// // against new seals, as a memfd made without `MFD_ALLOW_SEALING`.
/// let shmem = ShmemFile::new(c_str!("memfd:kunit"), 3 * PAGE_SIZE, 0, None)?;
/// let memfd = Memfd::new(shmem.file()).ok_or(EINVAL)?;
/// assert_eq!(memfd.size(), 3 * PAGE_SIZE);
/// assert_eq!(memfd.file_id(), shmem.inode_number());
///
/// let mut name = [0u8; NAME_LEN];
/// let len = memfd.name(&mut name);
/// assert_eq!(&name[..len], b"kunit\0");
///
/// let all = prot::READ | prot::WRITE | prot::EXEC;
/// assert_eq!(memfd.prot_mask()?, all);
/// assert_eq!(memfd.set_prot_mask(all), Ok(()));
/// assert_eq!(memfd.set_prot_mask(all | 8), Err(EINVAL));
/// // Dropping `PROT_WRITE` adds `F_SEAL_FUTURE_WRITE`, which `F_SEAL_SEAL` forbids.
/// assert_eq!(memfd.set_prot_mask(prot::READ), Err(EPERM));
/// assert_eq!(memfd.prot_mask()?, all);
///
/// let page = PAGE_SIZE as u32;
/// assert_eq!(memfd.pin(PinRange { offset: page, len: 0 })?, PinResult::NotPurged);
/// assert_eq!(memfd.unpin(PinRange { offset: 0, len: page }), Ok(()));
/// assert_eq!(memfd.is_unpinned(PinRange { offset: 0, len: page }), Ok(false));
/// assert_eq!(memfd.pin(PinRange { offset: 1, len: 0 }).err(), Some(EINVAL));
/// assert_eq!(memfd.pin(PinRange { offset: 0, len: 4 * page }).err(), Some(EINVAL));
///
/// let other = ShmemFile::new(c_str!("kunit"), PAGE_SIZE, 0, None)?;
/// assert!(Memfd::new(other.file()).is_none());
/// # Ok::<(), Error>(())
/// ```
pub struct Memfd<'a> {
    file: &'a LocalFile,
}

impl<'a> Memfd<'a> {
    /// Returns `file` as a memfd, or `None` if `memfd_create()` did not make it (see
    /// [`memfd::is_memfd`]).
    pub fn new(file: &'a LocalFile) -> Option<Self> {
        memfd::is_memfd(file).then_some(Self { file })
    }

    /// Returns the size in bytes, or `usize::MAX` for a size too large for it.
    pub fn size(&self) -> usize {
        usize::try_from(self.file.size()).unwrap_or(usize::MAX)
    }

    /// Copies the name `memfd_create()` was given (without its `memfd:` prefix) into `buf`,
    /// NUL-terminated, and returns its length with the NUL.
    pub fn name(&self, buf: &mut [u8; NAME_LEN]) -> usize {
        self.file.with_name(|name| {
            let name = name.strip_prefix(memfd::NAME_PREFIX).unwrap_or(name);
            // `memfd_create()` names hold at most 249 bytes; keep room for the NUL anyway.
            let len = name.len().min(NAME_LEN - 1);
            buf[..len].copy_from_slice(&name[..len]);
            buf[len] = 0;
            len + 1
        })
    }

    /// Returns the protections that shared mappings may have (`PROT_*` bits): all, less
    /// `PROT_WRITE` once the file is sealed against writes.
    pub fn prot_mask(&self) -> Result<u32> {
        let all = prot::READ | prot::WRITE | prot::EXEC;
        if memfd::seals(self.file)? & (seal::WRITE | seal::FUTURE_WRITE) != 0 {
            Ok(all & !prot::WRITE)
        } else {
            Ok(all)
        }
    }

    /// Reduces the protections that mappings may have to `mask` (`PROT_*` bits).
    ///
    /// A mask without `PROT_WRITE` adds `F_SEAL_FUTURE_WRITE` as `fcntl(F_ADD_SEALS)` does, and
    /// fails where that fails: `EPERM` if the file is not open for writing or is sealed with
    /// `F_SEAL_SEAL`. Fails with `EINVAL` for bits other than `PROT_*`, and for `PROT_WRITE` on a
    /// file sealed against writes.
    pub fn set_prot_mask(&self, mask: u32) -> Result {
        if mask & !(prot::READ | prot::WRITE | prot::EXEC) != 0 {
            return Err(EINVAL);
        }
        if mask & prot::WRITE == 0 {
            memfd::add_seals(self.file, seal::FUTURE_WRITE)
        } else if self.prot_mask()? & prot::WRITE == 0 {
            Err(EINVAL)
        } else {
            Ok(())
        }
    }

    /// Returns the inode number, as `fstat()` reports it in `st_ino`.
    pub fn file_id(&self) -> u64 {
        self.file.inode_number()
    }

    /// Pins `range`: checks it as [`Region::pin`] does, against the file's size; nothing was
    /// purged.
    pub fn pin(&self, range: PinRange) -> Result<PinResult> {
        Region::pages(self.size(), range)?;
        Ok(PinResult::NotPurged)
    }

    /// Unpins `range`: checks it as [`Region::unpin`] does; the kernel never purges a memfd.
    pub fn unpin(&self, range: PinRange) -> Result {
        Region::pages(self.size(), range)?;
        Ok(())
    }

    /// Returns whether any page of `range` is unpinned, which none is; checks it as
    /// [`Region::is_unpinned`] does.
    pub fn is_unpinned(&self, range: PinRange) -> Result<bool> {
        Region::pages(self.size(), range)?;
        Ok(false)
    }
}

/// Reads the `struct ashmem_pin` at user address `arg`.
fn read_pin_range(arg: usize) -> Result<PinRange> {
    let [offset, len] = UserSlice::new(arg, 2 * size_of::<u32>())
        .reader()
        .read::<[u32; 2]>()?;
    Ok(PinRange { offset, len })
}

/// Answers the ashmem ioctl `command` with argument `arg` on `file`, from a 32-bit process if
/// `compat`.
///
/// Fails with `ENOTTY` unless `file` is a memfd and `command` an ashmem command. `SET_NAME` and
/// `SET_SIZE` fail with `EINVAL`: a memfd's name is fixed, and Android seals its size.
/// `PURGE_ALL_CACHES` needs `CAP_SYS_ADMIN`, as on `/dev/ashmem`, and purges nothing.
///
/// # Examples
///
/// ```
/// use kernel::{
///     ashmem::{ioctl as cmd, memfd, NAME_LEN},
///     c_str, ioctl::_IO, kunit,
///     page::PAGE_SIZE,
///     shmem::ShmemFile,
///     uaccess::UserSlice,
/// };
///
/// let shmem = ShmemFile::new(c_str!("memfd:kunit-ioctl"), 2 * PAGE_SIZE, 0, None)?;
/// let file = shmem.file();
/// assert_eq!(memfd::ioctl(file, cmd::GET_SIZE, 0, false)?, 2 * PAGE_SIZE as isize);
/// assert_eq!(memfd::ioctl(file, cmd::SET_SIZE, PAGE_SIZE, false), Err(EINVAL));
/// assert_eq!(memfd::ioctl(file, _IO(0x77, 99), 0, false), Err(ENOTTY));
///
/// let addr = kunit::map_user_memory(NAME_LEN)?;
/// assert_eq!(memfd::ioctl(file, cmd::GET_NAME, addr, false)?, 0);
/// let mut name = [0u8; 12];
/// UserSlice::new(addr, name.len()).reader().read_slice(&mut name)?;
/// assert_eq!(&name, b"kunit-ioctl\0");
///
/// let other = ShmemFile::new(c_str!("kunit"), PAGE_SIZE, 0, None)?;
/// assert_eq!(memfd::ioctl(other.file(), cmd::GET_SIZE, 0, false), Err(ENOTTY));
/// # Ok::<(), Error>(())
/// ```
pub fn ioctl(file: &LocalFile, command: u32, arg: usize, compat: bool) -> Result<isize> {
    let memfd = Memfd::new(file).ok_or(ENOTTY)?;
    let command = match command {
        cmd::COMPAT_SET_SIZE if compat => cmd::SET_SIZE,
        cmd::COMPAT_SET_PROT_MASK if compat => cmd::SET_PROT_MASK,
        cmd::COMPAT_GET_FILE_ID if compat => cmd::GET_FILE_ID,
        command => command,
    };
    match command {
        cmd::GET_SIZE => {
            // A 32-bit caller gets a 32-bit result: clamp rather than wrap into an error.
            let max = if compat {
                i32::MAX as usize
            } else {
                isize::MAX as usize
            };
            Ok(memfd.size().min(max) as isize)
        }
        cmd::GET_NAME => {
            let mut buf = [0u8; NAME_LEN];
            let len = memfd.name(&mut buf);
            UserSlice::new(arg, len).writer().write_slice(&buf[..len])?;
            Ok(0)
        }
        cmd::SET_NAME | cmd::SET_SIZE => Err(EINVAL),
        cmd::GET_PROT_MASK => Ok(memfd.prot_mask()? as isize),
        cmd::SET_PROT_MASK => {
            memfd.set_prot_mask(u32::try_from(arg).map_err(|_| EINVAL)?)?;
            Ok(0)
        }
        cmd::PIN => Ok(memfd.pin(read_pin_range(arg)?)?.as_raw()),
        cmd::UNPIN => {
            memfd.unpin(read_pin_range(arg)?)?;
            Ok(0)
        }
        cmd::GET_PIN_STATUS => {
            let status = if memfd.is_unpinned(read_pin_range(arg)?)? {
                crate::uapi::ASHMEM_IS_UNPINNED
            } else {
                crate::uapi::ASHMEM_IS_PINNED
            };
            Ok(status as isize)
        }
        cmd::PURGE_ALL_CACHES if !capable(Capability::SYS_ADMIN) => Err(EPERM),
        cmd::PURGE_ALL_CACHES => Ok(0),
        cmd::GET_FILE_ID => {
            let id = memfd.file_id();
            let mut writer = UserSlice::new(arg, size_of::<usize>()).writer();
            if compat {
                // A 32-bit `unsigned long`.
                writer.write(&(id as u32))?;
            } else {
                writer.write(&(id as usize))?;
            }
            Ok(0)
        }
        _ => Err(ENOTTY),
    }
}

/// The `ioctl` and `compat_ioctl` operations of memfds call this for ashmem's commands, with the
/// argument made a user pointer for a 32-bit caller (`compat`).
///
/// # Safety
///
/// `file` is an open file that the caller holds for the duration of the call, from `ioctl(2)`
/// on the current thread.
#[cfg(CONFIG_RUST_ASHMEM_MEMFD)]
#[no_mangle]
pub unsafe extern "C" fn ashmem_memfd_ioctl(
    file: *mut bindings::file,
    command: crate::ffi::c_uint,
    arg: crate::ffi::c_ulong,
    compat: bool,
) -> crate::ffi::c_long {
    // SAFETY: The file is open and `ioctl(2)` holds it (`fdget()`) for the call, on this
    // thread. An `fdget_pos()` that skipped the position lock needed the file unshared when it
    // began; one on another thread is still possible if `pidfd_getfd()` shared it since (files
    // made by `memfd_create()` have no `FMODE_ATOMIC_POS`, reopened ones do), a gap
    // `LocalFile::fget` has too. Nothing here reads or writes the position, and the reference
    // does not leave the call.
    let file = unsafe { LocalFile::from_raw_file(file) };
    match ioctl(file, command, arg, compat) {
        Ok(ret) => ret as crate::ffi::c_long,
        Err(err) => err.to_errno() as crate::ffi::c_long,
    }
}
