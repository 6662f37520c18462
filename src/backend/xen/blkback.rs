//! A domain's disk writes: blkback's sysfs counters, and QMP for disks QEMU serves.
//!
//! blkback (`phy:` disks) keeps per-ring counters in
//! `/sys/bus/xen-backend/devices/vbd-<domid>-<devid>/statistics/`: `wr_req` (write requests)
//! and `wr_sect` (512-byte sectors, counted at submission), summed over rings
//! (drivers/block/xen-blkback/xenbus.c). They live in the ring, so they **reset** when the
//! frontend reconnects (guest reboot, migration, failover): a counter that goes down is
//! taken as restarted from zero. qdisk disks (QEMU) have no such files; their counters come
//! from QMP `query-blockstats` on `/var/run/xen/qmp-libxenstat-<domid>` — the socket xentop
//! uses — never `qmp-libxl-<domid>`, which libxl needs for every Remus checkpoint
//! (interfaces.md §0 item 12, §3.1).

use crate::xl::block::{BlockDevice, DiskBackend};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Bytes per blkback sector (Linux sectors, whatever the disk's own).
pub const SECTOR: u64 = 512;

/// Write counters of one source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteCounts {
    pub requests: u64,
    pub bytes: u64,
}

/// Cumulative totals over readings of counters that may reset.
#[derive(Debug, Clone, Default)]
pub struct ResettingTotal {
    last: Option<WriteCounts>,
    pub total: WriteCounts,
    /// How many times the counters went backwards (a reconnect).
    pub resets: u32,
}

impl ResettingTotal {
    /// Adds a new reading: the difference from the previous, or, if a counter went down
    /// (the ring was re-created), everything counted since the reset.
    pub fn push(&mut self, now: WriteCounts) {
        if let Some(last) = self.last {
            if now.requests < last.requests || now.bytes < last.bytes {
                self.resets += 1;
                self.total.requests += now.requests;
                self.total.bytes += now.bytes;
            } else {
                self.total.requests += now.requests - last.requests;
                self.total.bytes += now.bytes - last.bytes;
            }
        }
        self.last = Some(now);
    }
}

/// Reads one blkback vbd's counters: `None` while the device is gone (reconnecting).
pub fn read_vbd(sysfs: &Path, domid: u32, devid: u32) -> Option<WriteCounts> {
    let dir = sysfs.join(format!(
        "bus/xen-backend/devices/vbd-{domid}-{devid}/statistics"
    ));
    let read = |name: &str| -> Option<u64> {
        std::fs::read_to_string(dir.join(name))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    Some(WriteCounts {
        requests: read("wr_req")?,
        bytes: read("wr_sect")? * SECTOR,
    })
}

/// Sums the device-level `wr_operations` and `wr_bytes` of a `query-blockstats` reply.
pub fn parse_blockstats(reply: &serde_json::Value) -> Option<WriteCounts> {
    let list = reply.get("return")?.as_array()?;
    let mut counts = WriteCounts::default();
    for entry in list {
        let stats = entry.get("stats")?;
        counts.requests += stats.get("wr_operations")?.as_u64()?;
        counts.bytes += stats.get("wr_bytes")?.as_u64()?;
    }
    Some(counts)
}

/// Asks QEMU for its block statistics over the QMP socket at `path`, and disconnects.
pub fn query_blockstats(path: &Path, timeout: Duration) -> std::io::Result<WriteCounts> {
    let stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    // Greeting, then capabilities negotiation, then the query; events are skipped.
    let next = |reader: &mut BufReader<UnixStream>| -> std::io::Result<serde_json::Value> {
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Err(bad("QMP socket closed"));
            }
            let value: serde_json::Value =
                serde_json::from_str(&line).map_err(|_| bad("QMP sent something not JSON"))?;
            if value.get("event").is_none() {
                return Ok(value);
            }
        }
    };
    next(&mut reader)?;
    writer.write_all(b"{\"execute\":\"qmp_capabilities\"}\n")?;
    next(&mut reader)?;
    writer.write_all(b"{\"execute\":\"query-blockstats\"}\n")?;
    let reply = next(&mut reader)?;
    if let Some(err) = reply.get("error") {
        return Err(bad(&format!("query-blockstats failed: {err}")));
    }
    parse_blockstats(&reply).ok_or_else(|| bad("query-blockstats reply without write counters"))
}

/// Least time between two QMP queries: a socket xentop shares is not polled per 25 ms epoch.
pub const QMP_MIN_GAP: Duration = Duration::from_millis(200);

/// The disks of one domain and their running write totals.
#[derive(Debug)]
pub struct DiskWatch {
    domid: u32,
    sysfs: PathBuf,
    qmp_socket: PathBuf,
    vbds: BTreeMap<u32, ResettingTotal>,
    qdisk: Option<ResettingTotal>,
    last_qmp: Option<Instant>,
    /// Disks whose statistics nothing here can read (e.g. tapdisk3), for the message.
    pub unread: Vec<String>,
    /// The first QMP failure, said once.
    pub qmp_error: Option<String>,
}

impl DiskWatch {
    /// `sysfs` is normally /sys and `run_dir` /var/run/xen (tests point them elsewhere).
    pub fn new(domid: u32, disks: &[BlockDevice], sysfs: &Path, run_dir: &Path) -> Self {
        let mut vbds = BTreeMap::new();
        let mut qdisk = None;
        let mut unread = Vec::new();
        for disk in disks {
            match &disk.backend {
                DiskBackend::Blkback if disk.backend_domid == 0 => {
                    vbds.insert(disk.devid, ResettingTotal::default());
                }
                DiskBackend::Qdisk if disk.backend_domid == 0 => {
                    qdisk = Some(ResettingTotal::default());
                }
                _ => unread.push(disk.backend_path.clone()),
            }
        }
        Self {
            domid,
            sysfs: sysfs.to_path_buf(),
            qmp_socket: run_dir.join(format!("qmp-libxenstat-{domid}")),
            vbds,
            qdisk,
            last_qmp: None,
            unread,
            qmp_error: None,
        }
    }

    /// Reads every counter and returns the totals since the first reading.
    pub fn read(&mut self) -> WriteCounts {
        for (devid, total) in self.vbds.iter_mut() {
            if let Some(now) = read_vbd(&self.sysfs, self.domid, *devid) {
                total.push(now);
            }
        }
        if let Some(total) = self.qdisk.as_mut() {
            let due = self.last_qmp.is_none_or(|t| t.elapsed() >= QMP_MIN_GAP);
            if due {
                self.last_qmp = Some(Instant::now());
                match query_blockstats(&self.qmp_socket, Duration::from_millis(500)) {
                    Ok(now) => total.push(now),
                    Err(err) if self.qmp_error.is_none() => {
                        self.qmp_error = Some(format!("{}: {err}", self.qmp_socket.display()))
                    }
                    Err(_) => {}
                }
            }
        }
        let mut sum = WriteCounts::default();
        for total in self.vbds.values().chain(self.qdisk.iter()) {
            sum.requests += total.total.requests;
            sum.bytes += total.total.bytes;
        }
        sum
    }

    /// Counter resets seen (reconnects), over all disks.
    pub fn resets(&self) -> u32 {
        self.vbds
            .values()
            .chain(self.qdisk.iter())
            .map(|t| t.resets)
            .sum()
    }

    pub fn vbd_count(&self) -> usize {
        self.vbds.len()
    }

    pub fn has_qdisk(&self) -> bool {
        self.qdisk.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_that_go_down_restarted_from_zero() {
        let mut t = ResettingTotal::default();
        let w = |requests, bytes| WriteCounts { requests, bytes };
        t.push(w(100, 5120)); // baseline
        t.push(w(110, 6144));
        assert_eq!(t.total, w(10, 1024));
        t.push(w(3, 512)); // reconnect: the ring's counters started again
        assert_eq!(t.total, w(13, 1536));
        assert_eq!(t.resets, 1);
        t.push(w(5, 1024));
        assert_eq!(t.total, w(15, 2048));
    }

    #[test]
    fn blockstats_sum_device_entries() {
        let reply: serde_json::Value = serde_json::from_str(
            r#"{"return":[{"device":"","qdev":"/machine/peripheral-anon/device[0]/xen-block",
                "stats":{"wr_bytes":4096,"wr_operations":2,"rd_bytes":0},
                "parent":{"stats":{"wr_bytes":999999,"wr_operations":99}}},
               {"device":"","stats":{"wr_bytes":512,"wr_operations":1}}]}"#,
        )
        .unwrap();
        assert_eq!(
            parse_blockstats(&reply),
            Some(WriteCounts {
                requests: 3,
                bytes: 4608
            })
        );
        assert_eq!(parse_blockstats(&serde_json::json!({"error": {}})), None);
    }

    #[test]
    fn qdisk_counters_come_over_the_libxenstat_socket() {
        use std::os::unix::net::UnixListener;
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("qmp-libxenstat-1");
        let listener = UnixListener::bind(&socket).unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut out = stream.try_clone().unwrap();
            let mut lines = BufReader::new(stream).lines();
            out.write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n")
                .unwrap();
            let mut seen = Vec::new();
            while let Some(Ok(line)) = lines.next() {
                seen.push(line.clone());
                if line.contains("qmp_capabilities") {
                    out.write_all(b"{\"return\": {}}\n").unwrap();
                } else if line.contains("query-blockstats") {
                    out.write_all(b"{\"event\": \"SOMETHING\", \"data\": {}}\n")
                        .unwrap();
                    out.write_all(b"{\"return\": [{\"device\": \"\", \"stats\": {\"wr_bytes\": 8192, \"wr_operations\": 2}}]}\n").unwrap();
                }
            }
            seen
        });
        let disks = crate::xl::block::parse_block_list(
            "51728 0   1      4     10     9        /local/domain/0/backend/qdisk/1/51728\n",
        )
        .unwrap();
        let mut watch = DiskWatch::new(1, &disks, dir.path(), dir.path());
        assert!(watch.has_qdisk() && watch.vbd_count() == 0);
        watch.read(); // the baseline
        assert_eq!(watch.qmp_error, None);
        let seen = server.join().unwrap();
        assert_eq!(seen.len(), 2, "{seen:?}");
        // Only the libxenstat socket is ever used: libxl's own is never touched.
        assert!(!dir.path().join("qmp-libxl-1").exists());
        assert_eq!(
            query_blockstats(&socket, Duration::from_millis(100))
                .map_err(|e| e.kind())
                .err(),
            Some(std::io::ErrorKind::ConnectionRefused)
        );
    }
}
