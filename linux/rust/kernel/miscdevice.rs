// SPDX-License-Identifier: GPL-2.0

//! Miscellaneous character devices (`struct miscdevice`).
//!
//! A misc device is a character device with the misc major number and a minor of its own, whose
//! node appears as `/dev/<name>`. A driver implements [`MiscDevice`] and keeps a
//! [`MiscDeviceRegistration`] alive for as long as the device should exist.
//!
//! C header: [`include/linux/miscdevice.h`](srctree/include/linux/miscdevice.h)

use crate::{
    bindings, build_error,
    error::{to_result, Error, Result, VTABLE_DEFAULT_ERROR},
    ffi::{c_int, c_long, c_uint, c_ulong},
    fs::{File, Kiocb, LocalFile, OpeningFile, ReleasedFile},
    init::{pin_init_from_closure, PinInit},
    iov::IovIterDest,
    mm::virt::VmaNew,
    prelude::*,
    seq_file::SeqFile,
    str::CStr,
    types::{ForeignOwnable, Opaque},
    ThisModule,
};
use core::{marker::PhantomData, mem::MaybeUninit};

/// Where [`MiscDevice::llseek`] measures an offset from (`whence` of `lseek(2)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whence {
    /// `SEEK_SET`: from the start of the file.
    Set,
    /// `SEEK_CUR`: from the current position.
    Current,
    /// `SEEK_END`: from the end of the file.
    End,
    /// `SEEK_DATA`: to the next data at or after the offset.
    Data,
    /// `SEEK_HOLE`: to the next hole at or after the offset.
    Hole,
}

impl Whence {
    /// Returns the `whence` value of `lseek(2)` that this stands for.
    pub fn as_raw(self) -> c_int {
        let raw = match self {
            Self::Set => bindings::SEEK_SET,
            Self::Current => bindings::SEEK_CUR,
            Self::End => bindings::SEEK_END,
            Self::Data => bindings::SEEK_DATA,
            Self::Hole => bindings::SEEK_HOLE,
        };
        raw as c_int
    }

    /// Returns the [`Whence`] for a `whence` value of `lseek(2)`, or [`EINVAL`].
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::miscdevice::Whence;
    ///
    /// for whence in [Whence::Set, Whence::Current, Whence::End, Whence::Data, Whence::Hole] {
    ///     assert_eq!(Whence::from_raw(whence.as_raw()), Ok(whence));
    /// }
    /// assert_eq!(Whence::from_raw(5), Err(EINVAL));
    /// ```
    pub fn from_raw(whence: c_int) -> Result<Self> {
        [Self::Set, Self::Current, Self::End, Self::Data, Self::Hole]
            .into_iter()
            .find(|w| w.as_raw() == whence)
            .ok_or(EINVAL)
    }
}

/// How to register a misc device.
#[derive(Clone, Copy)]
pub struct MiscDeviceOptions {
    /// The device's name, and the name of its node in `/dev`.
    pub name: &'static CStr,
    /// The permissions of the device node, such as `0o666`; 0 keeps the default, `0o600`.
    pub mode: u16,
}

impl MiscDeviceOptions {
    /// Returns the `struct miscdevice` to register for `T`, with a dynamic minor.
    fn into_raw<T: MiscDevice>(self) -> bindings::miscdevice {
        // SAFETY: All zeros is a valid `struct miscdevice`: null pointers and zero numbers.
        let mut raw: bindings::miscdevice = unsafe { MaybeUninit::zeroed().assume_init() };
        raw.minor = bindings::MISC_DYNAMIC_MINOR as c_int;
        raw.name = self.name.as_char_ptr();
        raw.mode = self.mode;
        raw.fops = FileOperations::<T>::build();
        raw
    }
}

/// A registered misc device, which is deregistered when dropped.
///
/// Open files may outlive the registration: they keep the file operations, which live in the
/// driver's module and keep that module loaded (see [`MiscDevice::OWNER`]).
///
/// # Invariants
///
/// `inner` was registered with `misc_register()`, with the file operations of `T`, and stays so
/// until the registration is dropped.
///
/// # Examples
///
/// ```
/// use kernel::{
///     c_str,
///     fs::OpeningFile,
///     miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
///     prelude::*,
///     ThisModule,
/// };
///
/// struct Counter;
///
/// # // SAFETY: Code built into the kernel has a null module.
/// # static THIS_MODULE: ThisModule = unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };
/// #[vtable]
/// impl MiscDevice for Counter {
///     type Ptr = ();
///     const OWNER: &'static ThisModule = &THIS_MODULE;
///
///     fn open(_file: &OpeningFile, _misc: &MiscDeviceRegistration<Self>) -> Result {
///         Ok(())
///     }
/// }
///
/// let options = MiscDeviceOptions { name: c_str!("rust-misc-example"), mode: 0o666 };
/// let misc = KBox::pin_init(MiscDeviceRegistration::<Counter>::register(options), GFP_KERNEL)?;
///
/// // A dynamic minor under the misc major.
/// assert_ne!(misc.minor(), 255);
/// assert_eq!(misc.devt() >> 20, 10);
/// assert_eq!(misc.devt() & 0xfffff, misc.minor() as u32);
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
#[pin_data(PinnedDrop)]
pub struct MiscDeviceRegistration<T> {
    #[pin]
    inner: Opaque<bindings::miscdevice>,
    _t: PhantomData<T>,
}

// SAFETY: A registration only points at `'static` data and may be dropped (deregistered) from
// any thread.
unsafe impl<T> Send for MiscDeviceRegistration<T> {}

// SAFETY: Shared references only read the registration, which the misc core changes only in
// `misc_register()` and `misc_deregister()`, outside the registration's shared lifetime.
unsafe impl<T> Sync for MiscDeviceRegistration<T> {}

impl<T: MiscDevice> MiscDeviceRegistration<T> {
    /// Registers a misc device with `options`.
    ///
    /// Two devices with one name collide in sysfs; registering the second one fails.
    ///
    /// # Examples
    ///
    /// Dropping a registration frees its name and minor:
    ///
    /// ```
    /// use kernel::{
    ///     c_str,
    ///     fs::OpeningFile,
    ///     miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    ///     prelude::*,
    ///     ThisModule,
    /// };
    ///
    /// struct Nothing;
    ///
    /// # // SAFETY: Code built into the kernel has a null module.
    /// # static THIS_MODULE: ThisModule = unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };
    /// #[vtable]
    /// impl MiscDevice for Nothing {
    ///     type Ptr = ();
    ///     const OWNER: &'static ThisModule = &THIS_MODULE;
    ///
    ///     fn open(_file: &OpeningFile, _misc: &MiscDeviceRegistration<Self>) -> Result {
    ///         Err(ENODEV)
    ///     }
    /// }
    ///
    /// let first = MiscDeviceOptions { name: c_str!("rust-misc-a"), mode: 0 };
    /// let second = MiscDeviceOptions { name: c_str!("rust-misc-b"), mode: 0 };
    ///
    /// let a = KBox::pin_init(MiscDeviceRegistration::<Nothing>::register(first), GFP_KERNEL)?;
    /// let b = KBox::pin_init(MiscDeviceRegistration::<Nothing>::register(second), GFP_KERNEL)?;
    /// assert_ne!(a.minor(), b.minor());
    /// drop(a);
    ///
    /// let again = KBox::pin_init(MiscDeviceRegistration::<Nothing>::register(first), GFP_KERNEL)?;
    /// assert_ne!(again.minor(), b.minor());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn register(options: MiscDeviceOptions) -> impl PinInit<Self, Error> {
        let init = move |slot: *mut Self| {
            // `Self` is a transparent wrapper of `struct miscdevice`.
            let raw = slot.cast::<bindings::miscdevice>();
            // SAFETY: `slot` is valid for writes and pinned, as `misc_register()` needs: it links
            // the device into a global list.
            unsafe { raw.write(options.into_raw::<T>()) };
            // INVARIANT: On success the device is registered with `T`'s file operations.
            // SAFETY: `raw` is a valid `struct miscdevice` whose name and file operations live
            // for `'static`.
            to_result(unsafe { bindings::misc_register(raw) })
        };
        // SAFETY: The closure initialises every field (the other one is zero-sized) on success,
        // and on failure leaves nothing that needs dropping.
        unsafe { pin_init_from_closure(init) }
    }

    /// Returns the raw `struct miscdevice` pointer.
    pub fn as_raw(&self) -> *mut bindings::miscdevice {
        self.inner.get()
    }

    /// Returns the minor number the device was given.
    pub fn minor(&self) -> i32 {
        // SAFETY: The device is registered, by the type invariants, and its minor stays as
        // `misc_register()` set it.
        unsafe { (*self.as_raw()).minor }
    }

    /// Returns the device number of the device, as `stat(2)` reports it for the device node
    /// in `st_rdev` (in the kernel's encoding: major above bit 20).
    pub fn devt(&self) -> u32 {
        // SAFETY: The device is registered, by the type invariants, so `this_device` is the
        // valid device that `misc_register()` created.
        unsafe { (*(*self.as_raw()).this_device).devt }
    }
}

#[pinned_drop]
impl<T> PinnedDrop for MiscDeviceRegistration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: The device is registered, by the type invariants.
        unsafe { bindings::misc_deregister(self.inner.get()) };
    }
}

/// The file operations of a misc device.
///
/// Each open file holds a [`MiscDevice::Ptr`] made by [`MiscDevice::open`]; the other operations
/// borrow it, and [`MiscDevice::release`] gets it back when the last reference to the file goes.
/// Operations that are not implemented are left out of the file operations, so the VFS applies
/// its default: `ENOTTY` for ioctls, `ESPIPE` for seeks, `EINVAL` for reads.
#[vtable]
pub trait MiscDevice: Sized {
    /// What each open file holds.
    type Ptr: ForeignOwnable + Send + Sync;

    /// The module that implements the device, normally `&THIS_MODULE`.
    ///
    /// Open files keep it loaded, since they call into its code.
    const OWNER: &'static ThisModule;

    /// Opens a file on the device.
    ///
    /// `misc` is the registration being opened; it stays registered only during the call, which
    /// runs under the misc core's lock, so this must not register or deregister misc devices.
    /// The file is not open yet, so it cannot be kept (see [`OpeningFile`]).
    fn open(file: &OpeningFile, misc: &MiscDeviceRegistration<Self>) -> Result<Self::Ptr>;

    /// Releases a file when its last reference goes.
    ///
    /// The file can no longer be reference-counted ([`ReleasedFile`]): it is freed once this
    /// returns.
    fn release(device: Self::Ptr, _file: &ReleasedFile) {
        drop(device);
    }

    /// Handles an ioctl: `cmd` and `arg` are as userspace passed them.
    ///
    /// The result is returned to userspace; a positive one is capped at `isize::MAX` by the type.
    fn ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Handles an ioctl from a 32-bit process on a 64-bit kernel.
    ///
    /// Without it, a driver with [`MiscDevice::ioctl`] gets 32-bit ioctls there with `arg`
    /// converted to a 64-bit pointer by `compat_ptr()`, which suits commands that take a pointer
    /// to a structure whose layout does not depend on the word size.
    #[cfg(CONFIG_COMPAT)]
    fn compat_ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Sets up a mapping of the file, see [`VmaNew`].
    fn mmap(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _vma: &VmaNew,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Moves the file position: returns the new position, which is then stored in the file. A
    /// negative one is not stored, and the seek fails with `EINVAL`, as `vfs_setpos()` does.
    ///
    /// `pos` is the current position; the file may be shared with another thread seeking at the
    /// same time, as in C.
    fn llseek(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &LocalFile,
        _pos: i64,
        _offset: i64,
        _whence: Whence,
    ) -> Result<i64> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reads from the file at `kiocb.ki_pos()` into `dest`, moves the position on and returns
    /// how many bytes were read; 0 means the end of the file.
    fn read_iter(_kiocb: Kiocb<'_, Self::Ptr>, _dest: &mut IovIterDest<'_>) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Describes the file in `/proc/<pid>/fdinfo/<fd>`, after the lines the VFS prints.
    fn show_fdinfo(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _m: &SeqFile,
        _file: &File,
    ) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The `file_operations` of a [`MiscDevice`], with C-callable trampolines.
struct FileOperations<T>(PhantomData<T>);

impl<T: MiscDevice> FileOperations<T> {
    /// The table. Being a constant, it is promoted to a static in the crate that registers `T`
    /// (`T`'s driver), so it lives as long as that module, which open files keep loaded through
    /// `owner`.
    const VTABLE: bindings::file_operations = bindings::file_operations {
        owner: T::OWNER.as_ptr(),
        open: Some(Self::open),
        release: Some(Self::release),
        unlocked_ioctl: if T::HAS_IOCTL {
            Some(Self::ioctl)
        } else {
            None
        },
        #[cfg(CONFIG_COMPAT)]
        compat_ioctl: if T::HAS_COMPAT_IOCTL {
            Some(Self::compat_ioctl)
        } else if T::HAS_IOCTL {
            Some(bindings::compat_ptr_ioctl)
        } else {
            None
        },
        mmap: if T::HAS_MMAP { Some(Self::mmap) } else { None },
        llseek: if T::HAS_LLSEEK {
            Some(Self::llseek)
        } else {
            None
        },
        read_iter: if T::HAS_READ_ITER {
            Some(Self::read_iter)
        } else {
            None
        },
        show_fdinfo: if T::HAS_SHOW_FDINFO {
            Some(Self::show_fdinfo)
        } else {
            None
        },
        // SAFETY: All zeros is a valid `file_operations`: no operation.
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };

    const fn build() -> &'static bindings::file_operations {
        &Self::VTABLE
    }

    /// # Safety
    ///
    /// Called by `misc_open()` for a device registered with this table: `file->private_data`
    /// points at the `struct miscdevice` of a `MiscDeviceRegistration<T>`, which stays
    /// registered during the call.
    unsafe extern "C" fn open(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: Per the safety requirements, `private_data` is the registration, which is a
        // transparent wrapper of the `struct miscdevice`, valid during the call.
        let misc = unsafe { &*(*file).private_data.cast::<MiscDeviceRegistration<T>>() };
        // SAFETY: `misc_open()`, which `do_dentry_open()` calls through `chrdev_open()`, calls
        // this for the file being opened, on this thread; the reference lives only during the
        // call.
        let opening = unsafe { OpeningFile::from_raw_file(file) };
        match T::open(opening, misc) {
            Ok(ptr) => {
                // SAFETY: The file is valid and being opened by this thread. From now on its
                // private data is `T::Ptr`'s, which the other trampolines rely on.
                unsafe { (*file).private_data = ptr.into_foreign().cast_mut() };
                0
            }
            Err(err) => err.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the VFS when the last reference to a file opened by `open` goes.
    unsafe extern "C" fn release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `__fput()` calls `release` only for a file with `FMODE_OPENED`, which is set
        // only once `open` returned 0 (a later failure, as for `O_DIRECT`, still releases): so
        // `open` stored a `T::Ptr` in the private data, and this is the last use.
        let device = unsafe { T::Ptr::from_foreign((*file).private_data) };
        // SAFETY: The VFS calls `release` from `__fput()` for this file, which it frees once
        // `release` returns; the reference lives only during the call.
        T::release(device, unsafe { ReleasedFile::from_raw_file(file) });
        0
    }

    /// # Safety
    ///
    /// Called by the VFS for an ioctl on a file opened by `open`.
    unsafe extern "C" fn ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
        // SAFETY: `open` stored a `T::Ptr` in the private data, which `release` cannot free
        // while the VFS holds the file for this call.
        let device = unsafe { T::Ptr::borrow((*file).private_data) };
        // SAFETY: The VFS holds the file during the call. A misc device is a character device,
        // which `do_dentry_open()` never gives `FMODE_ATOMIC_POS`, so no `fdget_pos()` skips a
        // position lock on it.
        match T::ioctl(device, unsafe { File::from_raw_file(file) }, cmd, arg) {
            Ok(ret) => ret,
            Err(err) => err.to_errno() as c_long,
        }
    }

    /// # Safety
    ///
    /// Called by the VFS for a 32-bit ioctl on a file opened by `open`.
    #[cfg(CONFIG_COMPAT)]
    unsafe extern "C" fn compat_ioctl(
        file: *mut bindings::file,
        cmd: c_uint,
        arg: c_ulong,
    ) -> c_long {
        // SAFETY: As in `ioctl`.
        let device = unsafe { T::Ptr::borrow((*file).private_data) };
        // SAFETY: As in `ioctl`.
        match T::compat_ioctl(device, unsafe { File::from_raw_file(file) }, cmd, arg) {
            Ok(ret) => ret,
            Err(err) => err.to_errno() as c_long,
        }
    }

    /// # Safety
    ///
    /// Called by the mm core to map a file opened by `open`, on a VMA it is setting up with
    /// the `mmap_lock` held for writing.
    unsafe extern "C" fn mmap(
        file: *mut bindings::file,
        vma: *mut bindings::vm_area_struct,
    ) -> c_int {
        // SAFETY: As in `ioctl`.
        let device = unsafe { T::Ptr::borrow((*file).private_data) };
        // SAFETY: Per the safety requirements.
        let vma = unsafe { VmaNew::from_raw(vma) };
        // SAFETY: As in `ioctl`.
        match T::mmap(device, unsafe { File::from_raw_file(file) }, vma) {
            Ok(()) => 0,
            Err(err) => err.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the VFS for a seek on a file opened by `open`.
    unsafe extern "C" fn llseek(file: *mut bindings::file, offset: i64, whence: c_int) -> i64 {
        let whence = match Whence::from_raw(whence) {
            Ok(whence) => whence,
            Err(err) => return err.to_errno().into(),
        };
        // SAFETY: As in `ioctl`.
        let device = unsafe { T::Ptr::borrow((*file).private_data) };
        // SAFETY: The VFS holds the file during the call, possibly under `fdget_pos()`, which
        // `LocalFile` allows. The position is read and written as C's `llseek` implementations
        // do: `fdget_pos()` does not serialise it for a character device.
        let local = unsafe { LocalFile::from_raw_file(file) };
        // SAFETY: The file is valid during the call. Reads and seeks on other threads may
        // access the position at the same time, as they do for C drivers: volatile accesses.
        let pos = unsafe { core::ptr::addr_of!((*file).f_pos).read_volatile() };
        match T::llseek(device, local, pos, offset, whence) {
            // As `vfs_setpos()`, which C's `llseek` implementations use, refuses.
            Ok(new) if new < 0 => EINVAL.to_errno().into(),
            Ok(new) => {
                // SAFETY: As above.
                unsafe { core::ptr::addr_of_mut!((*file).f_pos).write_volatile(new) };
                new
            }
            Err(err) => err.to_errno().into(),
        }
    }

    /// # Safety
    ///
    /// Called by the VFS for a read on a file opened by `open`.
    unsafe extern "C" fn read_iter(
        kiocb: *mut bindings::kiocb,
        dest: *mut bindings::iov_iter,
    ) -> isize {
        // SAFETY: The kiocb is valid and ours during the call, and its file's private data is a
        // `T::Ptr` stored by `open`.
        let kiocb = unsafe { Kiocb::<T::Ptr>::from_raw(kiocb) };
        // SAFETY: The VFS passes a valid `ITER_DEST` iterator, ours during the call.
        let dest = unsafe { IovIterDest::from_raw(dest) };
        match T::read_iter(kiocb, dest) {
            Ok(read) => read as isize,
            Err(err) => err.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// Called by the VFS to fill in `/proc/<pid>/fdinfo` for a file opened by `open`.
    unsafe extern "C" fn show_fdinfo(m: *mut bindings::seq_file, file: *mut bindings::file) {
        // SAFETY: As in `ioctl`.
        let device = unsafe { T::Ptr::borrow((*file).private_data) };
        // SAFETY: The seq_file is valid and written by this thread only during the call.
        let m = unsafe { SeqFile::from_raw(m) };
        // SAFETY: As in `ioctl`.
        T::show_fdinfo(device, m, unsafe { File::from_raw_file(file) });
    }
}
