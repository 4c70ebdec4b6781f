// SPDX-License-Identifier: GPL-2.0

//! Files made by `memfd_create()`, and the seals of shmem files.
//!
//! C header: [`include/linux/memfd.h`](srctree/include/linux/memfd.h)

use crate::{
    bindings,
    error::{Error, Result},
    fs::LocalFile,
};

/// The seals of `fcntl(F_ADD_SEALS)`, each a bit.
pub mod seal {
    /// No seal may be added any more.
    pub const SEAL: u32 = bindings::F_SEAL_SEAL;
    /// The file may not shrink.
    pub const SHRINK: u32 = bindings::F_SEAL_SHRINK;
    /// The file may not grow.
    pub const GROW: u32 = bindings::F_SEAL_GROW;
    /// The file may not be written, nor mapped shared and writable.
    pub const WRITE: u32 = bindings::F_SEAL_WRITE;
    /// The file may not be written, nor mapped shared and writable, from now on; writable
    /// mappings made before stay.
    pub const FUTURE_WRITE: u32 = bindings::F_SEAL_FUTURE_WRITE;
    /// The file's exec bits may not change.
    pub const EXEC: u32 = bindings::F_SEAL_EXEC;
}

/// The prefix of the names `memfd_create()` gives its files.
pub const NAME_PREFIX: &[u8] = b"memfd:";

/// Returns whether `memfd_create()` made `file`, with shmem behind it.
///
/// Linux 6.12 marks no file as a memfd. This is the test: a shmem file on a kernel-internal
/// tmpfs mount (`SB_KERNMOUNT`: where `memfd_create()`, `shmem_file_setup()` and SysV shared
/// memory create their files, unlike any tmpfs that userspace mounts) whose name begins with
/// [`NAME_PREFIX`], which `memfd_create()` puts before every name. `MFD_HUGETLB` memfds, on
/// hugetlbfs, are not shmem files. A kernel user of `shmem_file_setup()` could name its file
/// `memfd:` too; the kernel's own ones do not.
///
/// # Examples
///
/// ```
/// use kernel::{c_str, fs::file::{flags, File}, memfd, page::PAGE_SIZE, shmem::ShmemFile};
///
/// let memfd = ShmemFile::new(c_str!("memfd:kunit"), PAGE_SIZE, 0, None)?;
/// assert!(memfd::is_memfd(memfd.file()));
///
/// let other = ShmemFile::new(c_str!("kunit"), PAGE_SIZE, 0, None)?;
/// assert!(!memfd::is_memfd(other.file()));
/// let root = File::open(c_str!("/"), flags::O_RDONLY)?;
/// assert!(!memfd::is_memfd(&root));
/// # Ok::<(), Error>(())
/// ```
pub fn is_memfd(file: &LocalFile) -> bool {
    let file_ptr = file.as_ptr();
    // SAFETY: The file is open, so its mapping is set and valid until it is freed;
    // `shmem_mapping()` only compares the mapping's operations.
    if !unsafe { bindings::shmem_mapping((*file_ptr).f_mapping) } {
        return false;
    }
    // SAFETY: The file is open, so its inode and the inode's superblock are valid until it is
    // freed. A remount may rewrite `s_flags` concurrently (with `WRITE_ONCE()`), but never
    // `SB_KERNMOUNT`: a volatile read, as C's `READ_ONCE()`, gets it right.
    let sb_flags =
        unsafe { core::ptr::addr_of!((*(*(*file_ptr).f_inode).i_sb).s_flags).read_volatile() };
    sb_flags & bindings::SB_KERNMOUNT != 0 && file.with_name(|name| name.starts_with(NAME_PREFIX))
}

/// Returns the seals of `file`, as `fcntl(F_GET_SEALS)` does.
///
/// Fails with `EINVAL` unless `file` is a shmem or hugetlbfs file.
///
/// # Examples
///
/// The kernel's shmem files start sealed against new seals, as memfds made without
/// `MFD_ALLOW_SEALING` do:
///
/// ```
/// use kernel::{c_str, fs::file::{flags, File}, memfd::{self, seal}, shmem::ShmemFile};
///
/// let shmem = ShmemFile::new(c_str!("memfd:kunit"), 0, 0, None)?;
/// assert_eq!(memfd::seals(shmem.file())?, seal::SEAL);
/// assert_eq!(memfd::add_seals(shmem.file(), seal::FUTURE_WRITE), Err(EPERM));
/// assert_eq!(memfd::seals(shmem.file())?, seal::SEAL);
///
/// let root = File::open(c_str!("/"), flags::O_RDONLY)?;
/// assert_eq!(memfd::seals(&root), Err(EINVAL));
/// # Ok::<(), Error>(())
/// ```
pub fn seals(file: &LocalFile) -> Result<u32> {
    // SAFETY: The file is open; `memfd_fcntl()` takes any file and reads the seals of a shmem or
    // hugetlbfs one.
    let ret = unsafe { bindings::memfd_fcntl(file.as_ptr(), bindings::F_GET_SEALS, 0) };
    if ret < 0 {
        Err(Error::from_errno(ret as i32))
    } else {
        Ok(ret as u32)
    }
}

/// Adds `seals` to those of `file` through `fcntl(F_ADD_SEALS)`'s own code, with its checks.
///
/// Fails as `fcntl(F_ADD_SEALS)` does, in its order: `EPERM` if `file` is not open for writing,
/// `EINVAL` for an unknown seal or a file that is not shmem or hugetlbfs, `EPERM` if it is
/// sealed with [`seal::SEAL`], `EBUSY` when [`seal::WRITE`] meets a writable mapping or pinned
/// pages.
pub fn add_seals(file: &LocalFile, seals: u32) -> Result {
    // SAFETY: The file is open; `memfd_fcntl()` takes any file, and checks the seals and the
    // file's mode under the inode lock.
    let ret = unsafe { bindings::memfd_fcntl(file.as_ptr(), bindings::F_ADD_SEALS, seals) };
    if ret < 0 {
        Err(Error::from_errno(ret as i32))
    } else {
        Ok(())
    }
}
