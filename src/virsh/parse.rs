//! The query forms of `virsh vcpupin DOM`, `virsh iothreadinfo DOM` and `virsh emulatorpin
//! DOM`: a header, a line of dashes, then `ID  CPULIST` rows (or `*: CPULIST` for the
//! emulator). Pure functions over text.

use super::VirshError;
use crate::cpulist::CpuList;

/// The `ID  CPULIST` rows of `virsh vcpupin` (` VCPU   CPU Affinity`) or `virsh iothreadinfo`
/// (` IOThread ID   CPU Affinity`). `command` names the query in errors. Rows that do not
/// start with a number (the header, the dashes, "No IOThreads found") are not rows.
pub fn parse_pin_rows(command: &str, text: &str) -> Result<Vec<(u32, CpuList)>, VirshError> {
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if !line.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let bad = |problem: String| VirshError::Parse {
            command: command.to_string(),
            line: index + 1,
            text: line.to_string(),
            problem,
        };
        let (id, cpus) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| bad("expected `ID CPULIST`".into()))?;
        let id = id
            .trim_end_matches(':')
            .parse()
            .map_err(|_| bad(format!("`{id}` is not a number")))?;
        let cpus = CpuList::parse(cpus.trim()).map_err(|e| bad(e.to_string()))?;
        rows.push((id, cpus));
    }
    Ok(rows)
}

/// `emulator: CPU Affinity` / dashes / `       *: 0-3`.
pub fn parse_emulatorpin(text: &str) -> Result<CpuList, VirshError> {
    let (index, line) = text
        .lines()
        .enumerate()
        .find_map(|(i, l)| l.trim().strip_prefix("*:").map(|rest| (i, rest)))
        .ok_or_else(|| VirshError::Parse {
            command: "emulatorpin".into(),
            line: 1,
            text: text.lines().next().unwrap_or("").to_string(),
            problem: "no `*: CPUS` line".into(),
        })?;
    CpuList::parse(line.trim()).map_err(|e| VirshError::Parse {
        command: "emulatorpin".into(),
        line: index + 1,
        text: line.to_string(),
        problem: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_query_forms() {
        let err = parse_pin_rows(
            "vcpupin",
            " VCPU   CPU Affinity\n----------------------\n 0      0-3\n 1      0-3,^2\n",
        )
        .unwrap_err();
        assert!(
            matches!(err, VirshError::Parse { line: 4, .. }),
            "`^` is input syntax only and is rejected: {err}"
        );
        let rows = parse_pin_rows(
            "vcpupin",
            " VCPU   CPU Affinity\n----------------------\n 0      0-3\n 1      4\n",
        )
        .unwrap();
        assert_eq!(rows[1], (1, CpuList::parse("4").unwrap()));
        let io = parse_pin_rows(
            "iothreadinfo",
            " IOThread ID     CPU Affinity\n---------------------------------------------------\n 1               2\n 3               0-1\n",
        )
        .unwrap();
        assert_eq!(io.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 3]);
        assert!(
            parse_pin_rows("iothreadinfo", "No IOThreads found for the domain\n")
                .unwrap()
                .is_empty()
        );
        let emu = parse_emulatorpin(
            "emulator: CPU Affinity\n----------------------------------\n       *: 0-3\n",
        )
        .unwrap();
        assert_eq!(emu.to_string(), "0-3");
        assert!(parse_emulatorpin("").is_err());
    }
}
