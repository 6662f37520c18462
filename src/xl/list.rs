//! `xl list -l`: a JSON array of `{"domid": N, "config": <libxl_domain_config>}`.
//!
//! Only what pinning needs is read. This is the *creation* configuration: live pinning is not
//! in it (interfaces.md §0 item 10), so it tells what survives a reboot or a Remus failover,
//! while `xl vcpu-list` tells what is in force now. Fields left at their default are omitted
//! by libxl, hence all the `Option`s. Dom-0 usually has no stored config and is absent.

use super::ParseError;
use crate::cpulist::CpuList;
use serde::{Deserialize, Serialize};

/// One domain's stored configuration, as far as pinning cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainConfig {
    pub domid: u32,
    pub name: String,
    /// "pv", "pvh" or "hvm".
    pub kind: Option<String>,
    pub pool_name: Option<String>,
    pub max_vcpus: Option<u32>,
    pub online_vcpus: Option<u32>,
    /// `cpus=` per vCPU, if the config set it.
    pub hard_affinity: Option<Vec<CpuList>>,
    /// `cpus_soft=` per vCPU, if the config set it.
    pub soft_affinity: Option<Vec<CpuList>>,
}

#[derive(Deserialize)]
struct Entry {
    domid: u32,
    config: Config,
}

#[derive(Deserialize)]
struct Config {
    c_info: CInfo,
    #[serde(default)]
    b_info: BInfo,
}

#[derive(Deserialize)]
struct CInfo {
    name: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    pool_name: Option<String>,
}

#[derive(Deserialize, Default)]
struct BInfo {
    max_vcpus: Option<u32>,
    avail_vcpus: Option<Vec<u32>>,
    vcpu_hard_affinity: Option<Vec<CpuList>>,
    vcpu_soft_affinity: Option<Vec<CpuList>>,
}

/// Parses `xl list -l` JSON output.
pub fn parse_list_long(text: &str) -> Result<Vec<DomainConfig>, ParseError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('(') {
        return Err(ParseError::new(
            "list -l",
            1,
            trimmed.lines().next().unwrap_or(""),
            "this is SXP, not JSON: set output_format=\"json\" in /etc/xen/xl.conf",
        ));
    }
    let entries: Vec<Entry> = serde_json::from_str(text).map_err(|e| {
        let line = e.line();
        let shown = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
        ParseError::new(
            "list -l",
            line,
            shown,
            format!("not the expected JSON: {e}"),
        )
    })?;
    Ok(entries
        .into_iter()
        .map(|e| DomainConfig {
            domid: e.domid,
            name: e.config.c_info.name,
            kind: e.config.c_info.kind,
            pool_name: e.config.c_info.pool_name,
            max_vcpus: e.config.b_info.max_vcpus,
            online_vcpus: e.config.b_info.avail_vcpus.map(|v| v.len() as u32),
            hard_affinity: e.config.b_info.vcpu_hard_affinity,
            soft_affinity: e.config.b_info.vcpu_soft_affinity,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pinned_config() {
        let text = r#"[{"domid": 3, "config": {"c_info": {"type": "hvm", "name": "vm1", "pool_name": "Pool-0"},
            "b_info": {"max_vcpus": 2, "avail_vcpus": [0, 1], "vcpu_hard_affinity": [[4,5,6,7],[4,5,6,7]]}}}]"#;
        let doms = parse_list_long(text).unwrap();
        assert_eq!(doms[0].name, "vm1");
        assert_eq!(doms[0].online_vcpus, Some(2));
        assert_eq!(
            doms[0].hard_affinity.as_ref().unwrap()[1].to_string(),
            "4-7"
        );
        assert_eq!(doms[0].soft_affinity, None);
    }

    #[test]
    fn sxp_and_garbage_are_explained() {
        assert!(parse_list_long("(domain (domid 1))")
            .unwrap_err()
            .to_string()
            .contains("output_format"));
        assert!(parse_list_long("[{\"domid\": 1}]")
            .unwrap_err()
            .to_string()
            .contains("expected JSON"));
        assert_eq!(parse_list_long("[]").unwrap(), vec![]);
    }
}
