//! `xl block-list DOMAIN`: a domain's virtual disks, their device ids and backends.
//!
//! Format from `main_blocklist` (tools/xl/xl_vdisk.c, 4.17): a header
//! `Vdev  BE  handle state evt-ch ring-ref BE-path`, then one `"%-5d %-3d %-6d %-5d %-6d %-8d
//! %-30s"` row per disk. The backend path says which driver serves the disk:
//! `/local/domain/0/backend/vbd/<domid>/<devid>` is blkback (statistics in sysfs),
//! `…/backend/qdisk/…` is QEMU (statistics over QMP), `…/backend/vbd3/…` is tapdisk3.

use super::ParseError;

/// The driver behind a virtual disk, from its backend path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskBackend {
    /// Linux xen-blkback (`vbd`).
    Blkback,
    /// QEMU's xen-block (`qdisk`).
    Qdisk,
    /// Anything else (`vbd3`, …), by its xenstore name.
    Other(String),
}

/// One row of `xl block-list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockDevice {
    /// The xenstore virtual-device number (51712 = xvda).
    pub devid: u32,
    /// The backend domain (0 = Dom-0).
    pub backend_domid: u32,
    /// XenbusState (4 = connected).
    pub state: i32,
    pub backend_path: String,
    pub backend: DiskBackend,
}

/// Parses `xl block-list` output (one domain).
pub fn parse_block_list(text: &str) -> Result<Vec<BlockDevice>, ParseError> {
    let mut disks = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() || words[0] == "Vdev" {
            continue;
        }
        let bad = |problem: &str| ParseError::new("block-list", line_no, line, problem);
        if words.len() < 7 {
            return Err(bad(
                "expected 7 columns: Vdev BE handle state evt-ch ring-ref BE-path",
            ));
        }
        let devid = words[0]
            .parse()
            .map_err(|_| bad("Vdev is not a device number"))?;
        let backend_domid = words[1].parse().map_err(|_| bad("BE is not a domain id"))?;
        let state = words[3].parse().map_err(|_| bad("state is not a number"))?;
        let backend_path = words[6].to_string();
        let kind = backend_path
            .split('/')
            .skip_while(|w| *w != "backend")
            .nth(1)
            .unwrap_or("");
        let backend = match kind {
            "vbd" => DiskBackend::Blkback,
            "qdisk" => DiskBackend::Qdisk,
            other => DiskBackend::Other(other.to_string()),
        };
        disks.push(BlockDevice {
            devid,
            backend_domid,
            state,
            backend_path,
            backend,
        });
    }
    Ok(disks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blkback_and_qdisk_rows() {
        let text = "Vdev  BE  handle state evt-ch ring-ref BE-path                       \n\
                    51712 0   3      4     9      8        /local/domain/0/backend/vbd/3/51712\n\
                    51728 0   3      4     10     9        /local/domain/0/backend/qdisk/3/51728\n";
        let disks = parse_block_list(text).unwrap();
        assert_eq!(disks.len(), 2);
        assert_eq!(disks[0].devid, 51712);
        assert_eq!(disks[0].backend, DiskBackend::Blkback);
        assert_eq!(disks[1].backend, DiskBackend::Qdisk);
        assert_eq!(disks[1].state, 4);
        assert!(parse_block_list("51712 0 3\n").is_err());
        assert!(
            parse_block_list("Vdev  BE  handle state evt-ch ring-ref BE-path\n")
                .unwrap()
                .is_empty()
        );
    }
}
