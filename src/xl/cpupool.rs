//! `xl cpupool-list [-c]` (xl_cpupool.c). Without `-c`: `Name CPUs Sched Active Domain count`;
//! with `-c`: `Name CPU list`, the CPUs as a plain comma list. A pool may hold no CPU at all
//! (an empty CPU list), which a plan must not try to use.

use super::table::with_header;
use super::ParseError;
use crate::cpulist::CpuList;
use serde::Serialize;

/// One pool. `cpus` is known with `-c`, `cpu_count`/`scheduler`/`domains` without.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CpuPool {
    pub name: String,
    pub cpus: Option<CpuList>,
    pub cpu_count: Option<u32>,
    pub scheduler: Option<String>,
    pub domains: Option<u32>,
}

/// Parses either form of `xl cpupool-list`.
pub fn parse_cpupool_list(text: &str) -> Result<Vec<CpuPool>, ParseError> {
    let (header, rows) = with_header(
        "cpupool-list",
        text,
        |h| h.starts_with("Name") && (h.contains("CPU list") || h.contains("Sched")),
        "Name CPU list` or `Name CPUs Sched …",
    )?;
    let with_cpus = header.contains("CPU list");
    let mut pools = Vec::new();
    for row in rows {
        let words = row.words();
        if with_cpus {
            // The name is padded to 19 columns; an empty pool has nothing after it.
            let (name, cpus) = match words.as_slice() {
                [name] => (*name, CpuList::new()),
                [name, cpus] => (
                    *name,
                    CpuList::parse(cpus).map_err(|e| row.error(e.to_string()))?,
                ),
                _ => return Err(row.error("expected `NAME CPU,CPU,…`")),
            };
            pools.push(CpuPool {
                name: name.to_string(),
                cpu_count: Some(cpus.len() as u32),
                cpus: Some(cpus),
                scheduler: None,
                domains: None,
            });
        } else {
            let [name, count, sched, _active, domains] = words.as_slice() else {
                return Err(row.error("expected `NAME CPUS SCHED ACTIVE DOMAINS`"));
            };
            pools.push(CpuPool {
                name: name.to_string(),
                cpus: None,
                cpu_count: Some(row.number(count, "count")?),
                scheduler: Some(sched.to_string()),
                domains: Some(row.number(domains, "count")?),
            });
        }
    }
    Ok(pools)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_and_an_empty_pool() {
        let c = parse_cpupool_list(
            "Name               CPU list\nPool-0             0,1,2,3\nremus              \n",
        )
        .unwrap();
        assert_eq!(c[0].cpus.as_ref().unwrap().to_string(), "0-3");
        assert!(c[1].cpus.as_ref().unwrap().is_empty());
        let plain = parse_cpupool_list(
            "Name               CPUs   Sched     Active   Domain count\nPool-0               2  credit2       y          2\n",
        )
        .unwrap();
        assert_eq!(plain[0].scheduler.as_deref(), Some("credit2"));
        assert_eq!(plain[0].domains, Some(2));
        assert!(parse_cpupool_list("Pool-0 0,1\n").is_err());
    }
}
