// SPDX-License-Identifier: GPL-2.0

//! Android's `/dev/ashmem`, on `kernel::ashmem`.
//!
//! This driver decodes the userspace interface (ioctl numbers, user pointers, 32-bit callers)
//! and calls the region API, which holds every rule of ashmem. Its shrinker purges unpinned
//! pages of every region under memory pressure.

use core::mem::size_of;
use kernel::{
    ashmem::{self, ioctl, PinRange, PurgeShrinker, Region, NAME_LEN},
    c_str,
    fs::{File, Kiocb, LocalFile, OpeningFile},
    iov::IovIterDest,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration, Whence},
    mm::virt::VmaNew,
    prelude::*,
    seq_file::SeqFile,
    shrinker::ShrinkerRegistration,
    sync::{Arc, ArcBorrow},
    uaccess::UserSlice,
};

module! {
    type: AshmemModule,
    name: "rust_ashmem",
    author: "Rust Ashmem Developers",
    description: "Android's /dev/ashmem on kernel::ashmem",
    license: "GPL",
}

struct AshmemModule {
    _device: ashmem::Registration<Ashmem>,
    _shrinker: ShrinkerRegistration<PurgeShrinker>,
}

impl kernel::Module for AshmemModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // Every app opens /dev/ashmem.
        let options = MiscDeviceOptions {
            name: c_str!("ashmem"),
            mode: 0o666,
        };
        // The shrinker first, so that it is unregistered last: once the device is gone no
        // region is left to purge.
        let shrinker = ashmem::register_shrinker(ashmem::SHRINKER_NAME)?;
        Ok(Self {
            _device: ashmem::Registration::register(options)?,
            _shrinker: shrinker,
        })
    }
}

struct Ashmem;

/// Which ABI an ioctl comes from: commands whose argument follows the word size differ.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Abi {
    Native,
    #[cfg_attr(not(CONFIG_COMPAT), allow(dead_code))]
    Compat,
}

#[vtable]
impl MiscDevice for Ashmem {
    type Ptr = Arc<Region>;
    const OWNER: &'static ThisModule = &THIS_MODULE;

    fn open(_file: &OpeningFile, _misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Region>> {
        Region::new()
    }

    // Inlined into the misc device's trampoline: one call less on every ioctl.
    #[inline]
    fn ioctl(region: ArcBorrow<'_, Region>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        // The frequent commands, without the dispatch and the stack frame of the others; 32-bit
        // callers get them from `ioctl()` too.
        match cmd {
            // A size above `isize::MAX` reads as an error, as it always has.
            ioctl::GET_SIZE => Ok(region.size() as isize),
            ioctl::PIN => Ok(region.pin(read_pin_range(arg)?)?.as_raw()),
            ioctl::UNPIN => {
                region.unpin(read_pin_range(arg)?)?;
                Ok(0)
            }
            _ => ioctl(&region, cmd, arg, Abi::Native),
        }
    }

    #[cfg(CONFIG_COMPAT)]
    fn compat_ioctl(
        region: ArcBorrow<'_, Region>,
        _file: &File,
        cmd: u32,
        arg: usize,
    ) -> Result<isize> {
        let cmd = match cmd {
            ioctl::COMPAT_SET_SIZE => ioctl::SET_SIZE,
            ioctl::COMPAT_SET_PROT_MASK => ioctl::SET_PROT_MASK,
            ioctl::COMPAT_GET_FILE_ID => ioctl::GET_FILE_ID,
            cmd => cmd,
        };
        ioctl(&region, cmd, arg, Abi::Compat)
    }

    fn mmap(region: ArcBorrow<'_, Region>, _file: &File, vma: &VmaNew) -> Result {
        region.mmap(vma)
    }

    fn llseek(
        region: ArcBorrow<'_, Region>,
        _file: &LocalFile,
        pos: i64,
        offset: i64,
        whence: Whence,
    ) -> Result<i64> {
        region.llseek(pos, offset, whence)
    }

    fn read_iter(mut kiocb: Kiocb<'_, Arc<Region>>, dest: &mut IovIterDest<'_>) -> Result<usize> {
        let region = kiocb.file();
        region.read_iter(kiocb.ki_pos_mut(), dest)
    }

    fn show_fdinfo(region: ArcBorrow<'_, Region>, m: &SeqFile, _file: &File) {
        region.show_fdinfo(m);
    }
}

/// Reads the `struct ashmem_pin` at `arg`.
fn read_pin_range(arg: usize) -> Result<PinRange> {
    let [offset, len] = UserSlice::new(arg, 2 * size_of::<u32>())
        .reader()
        .read::<[u32; 2]>()?;
    Ok(PinRange { offset, len })
}

// The name commands have functions of their own, so that the others (GET_SIZE, PIN, UNPIN: the
// frequent ones) run without the stack frame of a name buffer.
#[inline(never)]
fn set_name(region: &Region, arg: usize) -> Result<isize> {
    // Copied before the region is locked; a bad pointer fails first.
    let mut buf = [0u8; NAME_LEN];
    let name = UserSlice::new(arg, NAME_LEN)
        .reader()
        .strcpy_into_buf(&mut buf)?;
    region.set_name(name)?;
    Ok(0)
}

#[inline(never)]
fn get_name(region: &Region, arg: usize) -> Result<isize> {
    let mut buf = [0u8; NAME_LEN];
    let len = region.name(&mut buf);
    UserSlice::new(arg, len).writer().write_slice(&buf[..len])?;
    Ok(0)
}

#[inline(never)]
fn ioctl(region: &Region, cmd: u32, arg: usize, abi: Abi) -> Result<isize> {
    match cmd {
        ioctl::SET_NAME => set_name(region, arg),
        ioctl::GET_NAME => get_name(region, arg),
        ioctl::SET_SIZE => {
            region.set_size(arg)?;
            Ok(0)
        }
        // A size above `isize::MAX` reads as an error, as it always has.
        ioctl::GET_SIZE => Ok(region.size() as isize),
        ioctl::SET_PROT_MASK => {
            region.set_prot_mask(u32::try_from(arg).map_err(|_| EINVAL)?)?;
            Ok(0)
        }
        ioctl::GET_PROT_MASK => Ok(region.prot_mask() as isize),
        ioctl::PIN => {
            let range = read_pin_range(arg)?;
            Ok(region.pin(range)?.as_raw())
        }
        ioctl::UNPIN => {
            let range = read_pin_range(arg)?;
            region.unpin(range)?;
            Ok(0)
        }
        ioctl::GET_PIN_STATUS => {
            let range = read_pin_range(arg)?;
            let unpinned = region.is_unpinned(range)?;
            let status = if unpinned {
                kernel::uapi::ASHMEM_IS_UNPINNED
            } else {
                kernel::uapi::ASHMEM_IS_PINNED
            };
            Ok(status as isize)
        }
        ioctl::PURGE_ALL_CACHES => Ok(ashmem::purge_all()? as isize),
        ioctl::GET_FILE_ID => {
            let id = region.file_id()?;
            let mut writer = UserSlice::new(arg, size_of::<usize>()).writer();
            match abi {
                // A 32-bit `unsigned long`.
                Abi::Compat => writer.write(&(id as u32))?,
                Abi::Native => writer.write(&(id as usize))?,
            }
            Ok(0)
        }
        _ => Err(ENOTTY),
    }
}
