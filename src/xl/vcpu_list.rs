//! `xl vcpu-list` in the three affinity formats Xen has printed (xl_vcpu.c, xl_cmdimpl.c):
//!
//! - Xen ≤ 4.3: one `CPU Affinity` column, `any cpu` when unpinned;
//! - Xen 4.4: the same column, `all` when unpinned;
//! - Xen ≥ 4.5: `Affinity (Hard / Soft)`, two maps separated by ` / `.
//!
//! A domain name may contain spaces and is never truncated, so rows are read from the right.
//! An offline vCPU prints `-` as its CPU and `--p` as its state.

use super::table::with_header;
use super::ParseError;
use crate::cpulist::{CpuList, CpuListError};
use serde::Serialize;
use std::fmt;

/// Which header the output had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AffinityFormat {
    /// Xen ≤ 4.4: hard affinity only.
    SingleColumn,
    /// Xen ≥ 4.5.
    HardSoft,
}

/// An affinity as xl prints it: `all` (every CPU up to max_cpu_id) or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Affinity {
    All,
    Cpus(CpuList),
}

impl Affinity {
    fn parse(text: &str) -> Result<Self, CpuListError> {
        match text.trim() {
            "all" | "any cpu" => Ok(Affinity::All),
            other => CpuList::parse(other).map(Affinity::Cpus),
        }
    }

    /// The CPUs meant, given the bitmap size (max_cpu_id + 1).
    pub fn resolve(&self, cpu_count: u32) -> CpuList {
        match self {
            Affinity::All => (0..cpu_count).collect(),
            Affinity::Cpus(list) => list.clone(),
        }
    }
}

impl fmt::Display for Affinity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Affinity::All => f.write_str("all"),
            Affinity::Cpus(list) => list.fmt(f),
        }
    }
}

impl Serialize for Affinity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// One vCPU.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VcpuRow {
    pub name: String,
    pub domid: u32,
    pub vcpu: u32,
    /// The pCPU it runs on; `None` when the vCPU is offline.
    pub cpu: Option<u32>,
    pub state: String,
    pub time_s: f64,
    pub hard: Affinity,
    /// `None` before Xen 4.5, which had no soft affinity.
    pub soft: Option<Affinity>,
}

impl VcpuRow {
    pub fn online(&self) -> bool {
        self.cpu.is_some()
    }
}

/// The whole listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VcpuList {
    pub format: AffinityFormat,
    pub rows: Vec<VcpuRow>,
}

impl VcpuList {
    /// Domains in the order listed: (name, domid, number of vCPUs).
    pub fn domains(&self) -> Vec<(String, u32, u32)> {
        let mut out: Vec<(String, u32, u32)> = Vec::new();
        for row in &self.rows {
            match out.iter_mut().find(|(_, id, _)| *id == row.domid) {
                Some(entry) => entry.2 += 1,
                None => out.push((row.name.clone(), row.domid, 1)),
            }
        }
        out
    }

    pub fn find(&self, domain: &str, vcpu: u32) -> Option<&VcpuRow> {
        self.rows
            .iter()
            .find(|r| r.vcpu == vcpu && (r.name == domain || r.domid.to_string() == domain))
    }
}

/// Parses `xl vcpu-list` output of any Xen version.
pub fn parse_vcpu_list(text: &str) -> Result<VcpuList, ParseError> {
    let (header, lines) = with_header(
        "vcpu-list",
        text,
        |h| h.starts_with("Name") && h.contains("VCPU"),
        "Name ID VCPU CPU State Time(s) …",
    )?;
    let format = if header.contains("Hard / Soft") {
        AffinityFormat::HardSoft
    } else if header.contains("Affinity") {
        AffinityFormat::SingleColumn
    } else {
        return Err(ParseError::new(
            "vcpu-list",
            1,
            header,
            "no affinity column in the header: unknown xl version",
        ));
    };
    let mut rows = Vec::new();
    for row in lines {
        rows.push(parse_row(row.text, format).map_err(|p| row.error(p))?);
    }
    Ok(VcpuList { format, rows })
}

fn parse_row(line: &str, format: AffinityFormat) -> Result<VcpuRow, String> {
    let line = line.trim_end();
    let (rest, hard, soft) = match format {
        AffinityFormat::HardSoft => {
            let (left, soft) = line
                .rsplit_once(" / ")
                .ok_or("expected `HARD / SOFT` at the end of the row")?;
            let (rest, hard) = left
                .trim_end()
                .rsplit_once(char::is_whitespace)
                .ok_or("no hard affinity")?;
            (rest, hard, Some(soft))
        }
        AffinityFormat::SingleColumn => {
            if let Some(rest) = line.strip_suffix("any cpu") {
                (rest, "any cpu", None)
            } else {
                line.rsplit_once(char::is_whitespace)
                    .map(|(rest, aff)| (rest, aff, None))
                    .ok_or("no affinity column")?
            }
        }
    };
    let mut words: Vec<&str> = rest.split_whitespace().collect();
    if words.len() < 6 {
        return Err("expected `NAME ID VCPU CPU STATE TIME AFFINITY`".into());
    }
    let tail = words.split_off(words.len() - 5);
    // The name is everything before the id, spaces kept as printed.
    let name_end = find_name_end(rest, &words);
    let name = rest[..name_end].trim().to_string();
    let number = |s: &str, what: &str| {
        s.parse::<u32>()
            .map_err(|_| format!("`{s}` is not a {what}"))
    };
    let cpu = match tail[2] {
        "-" => None,
        s => Some(number(s, "CPU number")?),
    };
    let state = tail[3];
    if state.len() != 3 || !state.chars().all(|c| "rbp-".contains(c)) {
        return Err(format!("`{state}` is not a vCPU state like `r--` or `-b-`"));
    }
    let parse_aff = |s: &str| Affinity::parse(s).map_err(|e| e.to_string());
    Ok(VcpuRow {
        name,
        domid: number(tail[0], "domain id")?,
        vcpu: number(tail[1], "vCPU number")?,
        cpu,
        state: state.to_string(),
        time_s: tail[4]
            .parse()
            .map_err(|_| format!("`{}` is not a time in seconds", tail[4]))?,
        hard: parse_aff(hard)?,
        soft: soft.map(parse_aff).transpose()?,
    })
}

/// Byte offset in `rest` where the name's words end.
fn find_name_end(rest: &str, name_words: &[&str]) -> usize {
    let mut pos = 0;
    for word in name_words {
        let at = rest[pos..].find(word).map(|i| i + pos).unwrap_or(pos);
        pos = at + word.len();
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_soft_format_with_offline_vcpu_and_spaced_name() {
        let text = "\
Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)
Domain-0                             0     0    0   r--    1234.5  0 / all
vm1                                  3     0    6   -b-      55.0  4-7 / all
vm1                                  3     1    -   --p       0.0  all / 0-3,8-11
my vm                                4     0    2   -b-       1.0  none / all
";
        let list = parse_vcpu_list(text).unwrap();
        assert_eq!(list.format, AffinityFormat::HardSoft);
        assert_eq!(list.rows.len(), 4);
        assert_eq!(list.rows[0].hard.to_string(), "0");
        assert_eq!(list.rows[2].cpu, None);
        assert_eq!(list.rows[2].soft.as_ref().unwrap().to_string(), "0-3,8-11");
        assert_eq!(list.rows[3].name, "my vm");
        assert_eq!(list.rows[3].hard, Affinity::Cpus(CpuList::new()));
        assert_eq!(
            list.domains(),
            vec![
                ("Domain-0".into(), 0, 1),
                ("vm1".into(), 3, 2),
                ("my vm".into(), 4, 1)
            ]
        );
    }

    #[test]
    fn xen_4_3_any_cpu() {
        let text = "\
Name                                ID  VCPU   CPU State   Time(s) CPU Affinity
Domain-0                             0     0    0   r--      12.3 any cpu
guest                                1     0    1   -b-       2.0 1
";
        let list = parse_vcpu_list(text).unwrap();
        assert_eq!(list.format, AffinityFormat::SingleColumn);
        assert_eq!(list.rows[0].hard, Affinity::All);
        assert_eq!(list.rows[0].soft, None);
        assert_eq!(list.rows[1].hard.resolve(2).to_string(), "1");
    }

    #[test]
    fn xen_4_4_all() {
        let text = "\
Name                                ID  VCPU   CPU State   Time(s) CPU Affinity
Domain-0                             0     0    0   r--      12.3 all
";
        let list = parse_vcpu_list(text).unwrap();
        assert_eq!(list.rows[0].hard.resolve(4).to_string(), "0-3");
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse_vcpu_list(
            "Name ID VCPU CPU State Time(s) Affinity (Hard / Soft)\nvm 1 x 0 r-- 1.0 0 / all\n",
        )
        .unwrap_err();
        assert_eq!(err.line, 2);
        assert!(
            err.to_string().contains("`x` is not a vCPU number"),
            "{err}"
        );
        assert!(parse_vcpu_list("").is_err());
        assert!(parse_vcpu_list("hello\n").is_err());
    }
}
