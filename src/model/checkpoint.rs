//! The cost of one checkpoint, from its dirty pages and disk writes (model.md §3, §4, §7).
//!
//! `T_pause = t_suspend + t_devices + clean + D · c_pause_page` where the per-page pause cost
//! is the copy into a staging buffer (Remus 2008, Figure 5: ≈3.7 µs) or, on the Xen ≥ 4.6
//! stream (xg_sr_save.c writes batches of up to 1024 pages while the guest is suspended), the
//! per-page send time. What is not sent while paused is sent after the resume, then the backup
//! acknowledges (one RTT): `T_ckpt = T_pause + T_send_after + RTT`.

use super::dom0::checkpoint_cpu_s;
use super::params::{Costs, PausePolicy};

/// Bytes in a GiB, for the CLEAN walk's cost per GiB of guest memory.
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The fixed facts of the guest the checkpoints are taken of.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Guest {
    pub page_size: f64,
    pub memory_bytes: f64,
}

/// One checkpoint's timings, seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Checkpoint {
    /// The guest is suspended for this long.
    pub pause_s: f64,
    /// Sending left after the resume: pages under `staging`, and disk writes the link could
    /// not carry during the interval.
    pub send_after_s: f64,
    /// Everything the link carries for this checkpoint, plus the ack: `T_send` of §4.
    pub send_total_s: f64,
    /// Suspend to acknowledged commit: `T_ckpt`.
    pub ckpt_s: f64,
    /// Bytes on the link: `D · P · r + W`.
    pub bytes: f64,
    /// Dom-0 CPU seconds by the profile: `D · (c_page + c_send_cpu) + W · c_disk` (§7). The
    /// prediction may use a measured per-page cost instead (`dom0`).
    pub dom0_cpu_s: f64,
    /// Guest time lost to log-dirty faults while running: `D · c_fault` (§5).
    pub fault_s: f64,
}

/// Costs one checkpoint of `dirty_pages` pages and `write_bytes` of disk writes at configured
/// interval `interval_s`. Disk writes are mirrored to the backup as they happen (model.md §6,
/// DRBD protocol D), so only what the link cannot carry within the interval is left to send
/// after the resume. `shared` adds the wait for a Dom-0 vCPU at suspend when Dom-0 shares the
/// guest's cores (§7).
pub fn checkpoint(
    costs: &Costs,
    guest: &Guest,
    dirty_pages: f64,
    write_bytes: f64,
    interval_s: f64,
    shared: bool,
) -> Checkpoint {
    let dirty_pages = dirty_pages + costs.suspend_pages;
    let page_send = costs.page_send_s(guest.page_size);
    let pages_send = if dirty_pages == 0.0 {
        0.0
    } else {
        dirty_pages * page_send
    };
    let disk_send = costs.bytes_send_s(write_bytes);
    let disk_after = (disk_send - interval_s).max(0.0);
    let clean = costs.clean_per_gib_s * guest.memory_bytes / GIB;
    let (pause_pages, send_after) = match costs.pause_policy {
        PausePolicy::Stream => {
            // The first pages fill the stream's buffers at copy speed; the rest wait for
            // the link while the guest stays suspended.
            let page_bytes = guest.page_size * costs.compression_ratio;
            let absorbed = if page_bytes > 0.0 {
                dirty_pages.min(costs.stream_buffer_bytes / page_bytes)
            } else {
                dirty_pages
            };
            let pause = absorbed * costs.page_copy_s
                + (dirty_pages - absorbed) * costs.page_copy_s.max(page_send);
            // The link sends from the first page on; what it has not sent by the resume
            // drains after it.
            let drain = (pages_send - pause).max(0.0);
            (pause, drain + disk_after)
        }
        PausePolicy::Staging => (dirty_pages * costs.page_copy_s, pages_send + disk_after),
    };
    let wait = if shared {
        costs.shared_sched_wait_s
    } else {
        0.0
    };
    let pause_s = costs.suspend_s + costs.devices_s + clean + pause_pages + wait;
    Checkpoint {
        pause_s,
        send_after_s: send_after,
        send_total_s: pages_send + disk_send + costs.rtt_s,
        ckpt_s: pause_s + send_after + costs.rtt_s,
        bytes: dirty_pages * guest.page_size * costs.compression_ratio + write_bytes,
        dom0_cpu_s: checkpoint_cpu_s(
            costs.page_copy_s + costs.page_send_cpu_s,
            costs,
            dirty_pages,
            write_bytes,
        ),
        fault_s: dirty_pages * costs.fault_per_page_s(),
    }
}
