//! The Xen host record: per base epoch, what the trace's per-epoch fields have no room for —
//! Dom-0's CPU time, the save helper's CPU time while Remus runs, and the raw `dirty_count`
//! Xen reported. Written beside the trace (`X.trace.yaml` → `X.xen.yaml`), one line per
//! epoch as it ends, so an interrupted run leaves it valid too. Each line is a JSON object,
//! which is also YAML flow syntax.

use super::domain::XenDomain;
use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// The value of `schema`.
pub const SCHEMA: &str = "remus-tune-xen-host-record";

/// One epoch's host costs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HostRecord {
    pub n: u64,
    /// Dom-0's CPU seconds (all its vCPUs) in this epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dom0_cpu_s: Option<f64>,
    /// CPU seconds of the save helper(s) in this epoch, once one has been seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub save_helper_cpu_s: Option<f64>,
    /// What the save helper runs (Remus, COLO, a save), when one exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub save_helper: Option<String>,
    /// `stats.dirty_count` as Xen reported it (CLEAN: the epoch's frames; PEEK: since the last
    /// CLEAN by anyone).
    pub dirty_count: u32,
    /// True when only a count was read (observe mode).
    pub count_only: bool,
}

/// Appends records to the companion file.
pub struct RecordWriter {
    out: BufWriter<File>,
}

impl RecordWriter {
    pub fn create(path: &Path, domain: &XenDomain) -> anyhow::Result<Self> {
        let file = File::create(path)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
        let mut out = BufWriter::new(file);
        let header = serde_json::json!({
            "name": domain.name,
            "domid": domain.domid,
            "type": domain.guest_type,
            "vcpus": domain.vcpus,
            "xen_version": domain.xen_version,
            "dom0_vcpus": super::dom0::dom0_vcpus(&domain.vcpu_list),
        });
        writeln!(
            out,
            "schema: {SCHEMA}\nschema_version: 1\ndomain: {header}\nepochs:"
        )?;
        out.flush()?;
        Ok(Self { out })
    }

    pub fn append(&mut self, record: &HostRecord) -> std::io::Result<()> {
        let line = serde_json::to_string(record).map_err(std::io::Error::other)?;
        writeln!(self.out, "- {line}")?;
        self.out.flush()
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
