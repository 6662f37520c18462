//! Disk writes of a QEMU guest, from `query-blockstats`.
//!
//! The counters are cumulative per block device (qapi/block-core.json `BlockDeviceStats`); we
//! take the device-level entry (not its `parent`, which counts image-file writes including
//! qcow2 metadata). Devices without a medium (the empty CD-ROM, floppy and SD card slots a PC
//! machine always has) are skipped: `query-block` lists them without `inserted`.

use serde_json::Value;

use super::qmp::{Execute, QmpError};

/// Cumulative write counters of one disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskStats {
    /// `device` name, or the qdev path when `-blockdev` left the device name empty.
    pub name: String,
    pub wr_bytes: u64,
    pub wr_operations: u64,
    pub flush_operations: u64,
}

/// The sum over all real disks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskTotals {
    pub wr_bytes: u64,
    pub wr_operations: u64,
    pub flush_operations: u64,
}

/// Reads the write counters of every disk that has a medium.
pub fn read(qmp: &mut dyn Execute) -> Result<Vec<DiskStats>, QmpError> {
    let block = qmp.execute("query-block", None)?;
    let stats = qmp.execute("query-blockstats", None)?;
    Ok(real_disks(&block, &stats))
}

/// Sums disks.
pub fn totals(disks: &[DiskStats]) -> DiskTotals {
    disks.iter().fold(DiskTotals::default(), |t, d| DiskTotals {
        wr_bytes: t.wr_bytes + d.wr_bytes,
        wr_operations: t.wr_operations + d.wr_operations,
        flush_operations: t.flush_operations + d.flush_operations,
    })
}

/// Joins `query-block` (which devices have a medium) with `query-blockstats`.
pub fn real_disks(block: &Value, stats: &Value) -> Vec<DiskStats> {
    let with_medium: Vec<(&str, &str)> = block
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b.get("inserted").is_some())
        .map(|b| {
            (
                b["device"].as_str().unwrap_or(""),
                b["qdev"].as_str().unwrap_or(""),
            )
        })
        .collect();
    stats
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let device = s["device"].as_str().unwrap_or("");
            let qdev = s["qdev"].as_str().unwrap_or("");
            let known = with_medium.iter().any(|(d, q)| {
                (!device.is_empty() && *d == device) || (!qdev.is_empty() && *q == qdev)
            });
            if !known {
                return None;
            }
            let st = &s["stats"];
            let n = |k: &str| st[k].as_u64().unwrap_or(0);
            Some(DiskStats {
                name: if device.is_empty() { qdev } else { device }.to_string(),
                wr_bytes: n("wr_bytes"),
                wr_operations: n("wr_operations"),
                flush_operations: n("flush_operations"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_removable_devices_are_skipped() {
        // Shapes as QEMU 7.2 answers for `-M pc` with one IDE disk.
        let block = json!([
            {"device": "ide0-hd0", "removable": false, "qdev": "/machine/unattached/device[22]",
             "inserted": {"ro": false, "drv": "raw", "file": "disk.img"}},
            {"device": "ide1-cd0", "removable": true, "qdev": "/machine/unattached/device[23]", "tray_open": false},
            {"device": "floppy0", "removable": true, "qdev": "/machine/unattached/device[16]"},
            {"device": "sd0", "removable": true}
        ]);
        let stats = json!([
            {"device": "ide0-hd0", "qdev": "/machine/unattached/device[22]",
             "stats": {"wr_bytes": 40960, "wr_operations": 10, "flush_operations": 2},
             "parent": {"stats": {"wr_bytes": 99999, "wr_operations": 99, "flush_operations": 9}}},
            {"device": "ide1-cd0", "qdev": "/machine/unattached/device[23]",
             "stats": {"wr_bytes": 0, "wr_operations": 0, "flush_operations": 0}},
            {"device": "floppy0", "stats": {"wr_bytes": 0}},
            {"device": "sd0", "stats": {"wr_bytes": 0}}
        ]);
        let disks = real_disks(&block, &stats);
        assert_eq!(
            disks,
            vec![DiskStats {
                name: "ide0-hd0".into(),
                wr_bytes: 40960,
                wr_operations: 10,
                flush_operations: 2
            }]
        );
        assert_eq!(totals(&disks).wr_bytes, 40960);
    }

    #[test]
    fn blockdev_disks_match_by_qdev() {
        let block = json!([{"device": "", "qdev": "/machine/peripheral/disk0/virtio-backend",
                            "inserted": {"ro": false}}]);
        let stats = json!([{"device": "", "qdev": "/machine/peripheral/disk0/virtio-backend",
                            "stats": {"wr_bytes": 4096, "wr_operations": 1, "flush_operations": 0}}]);
        let disks = real_disks(&block, &stats);
        assert_eq!(disks.len(), 1);
        assert_eq!(disks[0].name, "/machine/peripheral/disk0/virtio-backend");
    }
}
