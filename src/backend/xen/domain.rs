//! Finding the Xen domain a user named, and what `xl` says about it.
//!
//! A name or a domid goes to `xl domid` / `xl domname` as one argument (never through a
//! shell); `xl list -l DOMID` gives the guest type and memory, `xl vcpu-list` the live vCPUs
//! and their affinity (the stored config's affinity is the creation one, interfaces.md §0
//! item 10), `xl info` the Xen version, `xl block-list` the disks.

use crate::xl::block::{parse_block_list, BlockDevice};
use crate::xl::{parse_info, parse_list_long, parse_vcpu_list, VcpuList, Xl, XlError};
use anyhow::{bail, Context, Result};

/// A domain as `xl` describes it.
#[derive(Debug, Clone)]
pub struct XenDomain {
    pub name: String,
    pub domid: u32,
    /// `pv`, `pvh` or `hvm` from the stored config; `None` when xl has no stored config.
    pub guest_type: Option<String>,
    /// `max_memkb` × 1024 from the stored config.
    pub max_memory_bytes: Option<u64>,
    pub vcpus: u32,
    /// `4.17.7`.
    pub xen_version: Option<String>,
    pub disks: Vec<BlockDevice>,
    /// The whole `xl vcpu-list`, for Dom-0's vCPUs.
    pub vcpu_list: VcpuList,
}

impl XenDomain {
    pub fn is_pv(&self) -> bool {
        self.guest_type.as_deref() == Some("pv")
    }
}

/// Whether `xl` runs here and knows `name` as a domain: what `--backend auto` asks.
pub fn is_domain(xl: &Xl, name: &str) -> bool {
    xl.run(&["domid", name]).is_ok()
}

/// The domid of `name` (a name, or a domid that exists).
pub fn domid_of(xl: &Xl, name: &str) -> Result<(String, u32)> {
    if let Ok(domid) = name.parse::<u32>() {
        let out = xl.run(&["domname", name])?;
        return Ok((out.trim().to_string(), domid));
    }
    match xl.run(&["domid", name]) {
        Ok(out) => {
            let domid = out
                .trim()
                .parse()
                .with_context(|| format!("`xl domid {name}` printed {out:?}, not a domid"))?;
            Ok((name.to_string(), domid))
        }
        Err(err @ XlError::NotFound { .. }) => Err(err.into()),
        Err(err) => {
            // During Remus or a migration the copies carry suffixes (xl_vmcontrol.c,
            // xl_migrate.c): say which one is here.
            if let Ok(Ok(list)) = xl.vcpu_list().map(|t| parse_vcpu_list(&t)) {
                {
                    let prefix = format!("{name}--");
                    if let Some(row) = list.rows.iter().find(|r| r.name.starts_with(&prefix)) {
                        bail!(
                            "{err}\n  this host has `{}` (domid {}): the {} copy of {name}. \
                             Measure the running primary on its own host",
                            row.name,
                            row.domid,
                            if row.name.ends_with("--incoming") {
                                "Remus backup or incoming migration"
                            } else {
                                "migrated-away"
                            }
                        );
                    }
                }
            }
            Err(err.into())
        }
    }
}

/// Resolves `name` and reads the facts the backend needs.
pub fn resolve(xl: &Xl, name: &str) -> Result<XenDomain> {
    let (name, domid) = domid_of(xl, name)?;
    if domid == 0 {
        bail!(
            "`{name}` is Dom-0 (domid 0): Xen refuses log-dirty on the domain that asks, and \
             Dom-0 is not what Remus protects. Name a guest domain (see `xl list`)"
        );
    }
    let domid_arg = domid.to_string();
    let list_long = xl.run(&["list", "-l", &domid_arg])?;
    let configs = parse_list_long(&list_long)?;
    let config = configs.iter().find(|c| c.domid == domid);
    let vcpu_list = parse_vcpu_list(&xl.vcpu_list()?)?;
    let vcpus = vcpu_list.rows.iter().filter(|r| r.domid == domid).count() as u32;
    let xen_version = xl
        .info()
        .ok()
        .and_then(|t| parse_info(&t).ok())
        .and_then(|i| i.xen_version().map(str::to_string));
    let disks = parse_block_list(&xl.run(&["block-list", &domid_arg])?)?;
    let max_memory_bytes = max_memkb(&list_long).map(|kb| kb * 1024);
    Ok(XenDomain {
        guest_type: config.and_then(|c| c.kind.clone()),
        name,
        domid,
        max_memory_bytes,
        vcpus,
        xen_version,
        disks,
        vcpu_list,
    })
}

/// `config.b_info.max_memkb` of the first domain in `xl list -l` JSON.
pub fn max_memkb(json: &str) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    value
        .as_array()?
        .first()?
        .pointer("/config/b_info/max_memkb")?
        .as_u64()
}

/// Xen's `major.minor` from a version string such as `4.17.7`.
pub fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()?
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_from_the_lab_list_l() {
        let json = include_str!("../../../tests/fixtures/xen/xl-list-l-pv.json");
        assert_eq!(max_memkb(json), Some(131072));
    }

    #[test]
    fn versions() {
        assert_eq!(major_minor("4.17.7"), Some((4, 17)));
        assert_eq!(major_minor("4.18-unstable"), Some((4, 18)));
        assert_eq!(major_minor("x"), None);
    }
}
