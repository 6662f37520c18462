//! Guest RAM found in a real QEMU process: it covers the guest's RAM, and what the test guest
//! wrote at a guest frame is readable at the host address we compute for that frame.

use crate::qemu_support;

use std::os::unix::fs::FileExt;
use std::time::Duration;

use qemu_support::{qemu_or_skip, Guest, GuestOptions};
use remus_tune::backend::qemu::qmp::Qmp;
use remus_tune::backend::qemu::ram::{Backing, GuestRam, GuestRamSource};
use remus_tune::backend::regions::RegionSource;

const MARKER: &[u8] = b"remus-tune test guest marker page";
const MAGIC: u32 = 0x5254_4753;
/// The guest writes from 16 MiB (its default `base`), so its marker sits at frame 4095.
const BASE_GFN: u64 = 4096;

fn read_guest_page(pid: i32, ram: &GuestRam, gfn: u64) -> Vec<u8> {
    let addr = ram.host_address(gfn).expect("frame is RAM");
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut page = vec![0u8; 4096];
    mem.read_exact_at(&mut page, addr).unwrap();
    page
}

fn word(page: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(page[i * 4..i * 4 + 4].try_into().unwrap())
}

fn check_marker_and_sweep(guest: &Guest, ram: &GuestRam) {
    let marker = read_guest_page(guest.pid(), ram, BASE_GFN - 1);
    assert_eq!(&marker[..MARKER.len()], MARKER);
    assert_eq!(word(&marker, 16) as u64, BASE_GFN - 1);
    // Swept pages carry their own frame number.
    std::thread::sleep(Duration::from_millis(300));
    for k in [0u64, 5, 100] {
        let page = read_guest_page(guest.pid(), ram, BASE_GFN + k);
        assert_eq!(
            word(&page, 2),
            MAGIC,
            "frame {} not written yet?",
            BASE_GFN + k
        );
        assert_eq!(word(&page, 1) as u64, BASE_GFN + k);
    }
}

#[test]
fn file_backed_ram_is_found_by_path_and_matches_the_file() {
    if !qemu_or_skip("file_backed_ram_is_found_by_path_and_matches_the_file") {
        return;
    }
    let guest = Guest::start(GuestOptions {
        file_ram: true,
        ..GuestOptions::with("mode=sweep rate=2000 pages=1024")
    });
    let mut qmp = Qmp::connect(&guest.qmp[0], Duration::from_secs(5)).unwrap();
    let ram = GuestRam::locate(&mut qmp, guest.pid()).unwrap();
    eprintln!("{ram:#x?}");
    assert_eq!(ram.bytes(), 256 << 20);
    assert_eq!(ram.blocks.len(), 1);
    let shm = guest.shm.clone().unwrap();
    assert_eq!(ram.blocks[0].backing, Backing::File(shm.clone()));
    let mut source = GuestRamSource::new(ram.clone());
    let regions = source.regions().unwrap();
    assert_eq!(regions.len(), 1);
    assert_eq!((regions[0].pages, regions[0].first_page_number), (65536, 0));
    assert_eq!(source.pid(), guest.pid());
    check_marker_and_sweep(&guest, &ram);
    // Independent of our maps parsing: the file holds the marker at the frame's offset.
    let file = std::fs::File::open(&shm).unwrap();
    let mut page = vec![0u8; 4096];
    file.read_exact_at(&mut page, (BASE_GFN - 1) * 4096)
        .unwrap();
    assert_eq!(&page[..MARKER.len()], MARKER);
}

#[test]
fn anonymous_ram_is_the_mapping_of_its_size() {
    if !qemu_or_skip("anonymous_ram_is_the_mapping_of_its_size") {
        return;
    }
    let guest = Guest::start(GuestOptions::with("mode=sweep rate=2000 pages=1024"));
    let mut qmp = Qmp::connect(&guest.qmp[0], Duration::from_secs(5)).unwrap();
    let ram = GuestRam::locate(&mut qmp, guest.pid()).unwrap();
    assert_eq!(ram.blocks[0].backing, Backing::Anonymous);
    assert_eq!(ram.blocks[0].id, "pc.ram");
    assert_eq!(ram.bytes(), 256 << 20);
    check_marker_and_sweep(&guest, &ram);
}

#[test]
fn large_guests_split_at_the_pci_hole() {
    if !qemu_or_skip("large_guests_split_at_the_pci_hole") {
        return;
    }
    // RAM is only reserved, not touched: a 4.5 GiB guest costs the host little.
    for (machine, low_gib) in [("pc", 3u64), ("q35", 2)] {
        let guest = Guest::start(GuestOptions {
            mem_mib: 4608,
            machine,
            ..GuestOptions::with("mode=sweep rate=2000 pages=1024")
        });
        let mut qmp = Qmp::connect(&guest.qmp[0], Duration::from_secs(5)).unwrap();
        let ram = GuestRam::locate(&mut qmp, guest.pid()).unwrap();
        eprintln!("{machine}: {}", ram.layout);
        let regions = GuestRamSource::new(ram.clone()).regions().unwrap();
        assert_eq!(regions.len(), 2, "{machine}");
        assert_eq!(regions[0].first_page_number, 0);
        assert_eq!(regions[0].pages, low_gib << 18);
        assert_eq!(
            regions[1].first_page_number,
            1 << 20,
            "high RAM starts at 4 GiB"
        );
        assert_eq!(regions[1].start, regions[0].start + (low_gib << 30));
        assert_eq!(ram.bytes(), 4608 << 20);
        check_marker_and_sweep(&guest, &ram);
    }
}

#[test]
fn memfd_backed_ram_is_found() {
    if !qemu_or_skip("memfd_backed_ram_is_found") {
        return;
    }
    let guest = Guest::start(GuestOptions {
        extra: [
            "-object",
            "memory-backend-memfd,id=ram,size=256M",
            "-machine",
            "memory-backend=ram",
        ]
        .map(String::from)
        .to_vec(),
        ..GuestOptions::with("mode=sweep rate=2000 pages=1024")
    });
    let mut qmp = Qmp::connect(&guest.qmp[0], Duration::from_secs(5)).unwrap();
    let ram = GuestRam::locate(&mut qmp, guest.pid()).unwrap();
    assert_eq!(ram.blocks[0].backing, Backing::Memfd);
    assert_eq!(ram.bytes(), 256 << 20);
    check_marker_and_sweep(&guest, &ram);
}

#[test]
fn a_dimm_is_its_own_region_at_its_guest_address() {
    if !qemu_or_skip("a_dimm_is_its_own_region_at_its_guest_address") {
        return;
    }
    let guest = Guest::start(GuestOptions {
        extra: [
            "-m",
            "256,slots=2,maxmem=1G",
            "-object",
            "memory-backend-ram,id=mem1,size=128M",
            "-device",
            "pc-dimm,id=dimm1,memdev=mem1",
        ]
        .map(String::from)
        .to_vec(),
        ..GuestOptions::with("mode=sweep rate=2000 pages=1024")
    });
    let mut qmp = Qmp::connect(&guest.qmp[0], Duration::from_secs(5)).unwrap();
    let ram = GuestRam::locate(&mut qmp, guest.pid()).unwrap();
    eprintln!("{:#x?}", ram.blocks);
    assert_eq!(ram.blocks.len(), 2);
    assert_eq!(ram.blocks[1].id, "mem1");
    assert_eq!(ram.bytes(), 384 << 20);
    let dimm_gpa = ram.blocks[1].ranges[0].gpa;
    assert!(
        dimm_gpa >= 4 << 30,
        "DIMMs live above 4 GiB on pc: {dimm_gpa:#x}"
    );
    let regions = GuestRamSource::new(ram.clone()).regions().unwrap();
    assert!(regions
        .iter()
        .any(|r| r.first_page_number == dimm_gpa / 4096 && r.pages == 32768));
    check_marker_and_sweep(&guest, &ram);
}

#[test]
fn soft_dirty_is_not_used_on_huge_page_backed_ram() {
    if !qemu_or_skip("soft_dirty_is_not_used_on_huge_page_backed_ram") {
        return;
    }
    let thp =
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    if thp.contains("[never]") || thp.is_empty() {
        eprintln!(
            "*** SKIPPED: transparent huge pages are off here ({}) ***",
            thp.trim()
        );
        return;
    }
    use remus_tune::backend::qemu::{QemuBackend, QemuOptions, QemuTarget};
    use remus_tune::backend::Backend;
    use remus_tune::cli::MethodChoice;
    let guest = Guest::start(GuestOptions::with("mode=sweep rate=2000 pages=1024"));
    let target = QemuTarget::Socket(guest.qmp[0].clone());
    let mut b = QemuBackend::connect(
        &target,
        &QemuOptions {
            method: MethodChoice::SoftDirty,
            cross_check: false,
            ..QemuOptions::default()
        },
    )
    .unwrap();
    let err = b.start().expect_err("soft-dirty must be refused");
    eprintln!("{err}");
    assert!(err.to_string().contains("huge pages"), "{err}");
    drop(b);
    let mut b = QemuBackend::connect(
        &target,
        &QemuOptions {
            cross_check: false,
            epoch: Duration::from_millis(100),
            ..QemuOptions::default()
        },
    )
    .unwrap();
    b.start().unwrap();
    let method = b.method();
    eprintln!("auto: {} ({})", method.name, method.reason);
    assert_ne!(method.name, "soft-dirty");
    assert!(method.reason.contains("huge pages"), "{}", method.reason);
}
