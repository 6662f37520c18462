//! `remus-tune topology` as a compact table: one row per physical core.

use super::Topology;
use crate::output::{table, TextReport};

impl TextReport for Topology {
    fn render_text(&self) -> String {
        let cores = self.cores();
        let mut out = format!(
            "{} CPUs, {} cores, {} socket(s), {} NUMA node(s), {} thread(s) per core — from {}\n\n",
            self.cpus.len(),
            cores.len(),
            self.sockets(),
            self.nodes.len(),
            self.threads_per_core(),
            self.source
        );
        let mut rows = vec![vec![
            "node".to_string(),
            "socket".into(),
            "core".into(),
            "L3".into(),
            "CPUs (SMT siblings)".into(),
        ]];
        for core in &cores {
            rows.push(vec![
                core.node.to_string(),
                core.socket.to_string(),
                core.core.to_string(),
                core.l3.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
                core.cpus.to_string(),
            ]);
        }
        out.push_str(&table(&rows));
        if self.nodes.len() > 1 {
            out.push('\n');
            for node in &self.nodes {
                let mem = node
                    .memory_mib
                    .filter(|&m| m > 0)
                    .map(|m| format!(", {m} MiB"))
                    .unwrap_or_default();
                out.push_str(&format!("node {}: CPUs {}{mem}\n", node.id, node.cpus));
            }
        }
        out
    }
}
