//! `--format xl-cfg`: the lines for each Dom-U's xl config. Runtime pins (`xl vcpu-pin`) are
//! not stored in the domain's config and are lost on reboot and on Remus failover, when the
//! backup restores the stored `cpus=`/`cpus_soft=` (interfaces.md §0 item 10).

use super::Emitter;
use crate::pin::model::{Plan, Role};

pub struct XlCfg;

impl Emitter for XlCfg {
    fn emit(&self, plan: &Plan) -> anyhow::Result<String> {
        let mut out = String::new();
        for p in &plan.placements {
            if p.role == Role::Dom0 {
                out.push_str("# Domain-0 has no xl config: use `remus-tune pin --format boot` for the Xen command line.\n\n");
                continue;
            }
            let role = if p.role == Role::Protected {
                "protected"
            } else {
                "unprotected"
            };
            let hosts = match &plan.failover {
                Some(f) if !f.same_config => {
                    "on the primary host (the backup needs other CPUs: see below)"
                }
                _ => "on the primary and the backup host",
            };
            out.push_str(&format!(
                "# {} ({role}): add to its xl config, {hosts}\n",
                p.domain
            ));
            out.push_str(&format!(
                "cpus = \"{}\"\ncpus_soft = \"{}\"\n",
                p.cpus, p.cpus
            ));
            if let Some(pool) = plan
                .pool
                .as_ref()
                .filter(|pool| pool.domains.contains(&p.domain))
            {
                out.push_str(&format!("pool = \"{}\"\n", pool.name));
            }
            out.push('\n');
        }
        if let Some(f) = plan.failover.as_ref().filter(|f| !f.same_config) {
            out.push_str(&format!("# On the backup ({}): the cpus= above travel with the checkpoint stream, but this\n# host numbers its CPUs differently. After failover, re-pin there:\n", f.backup_topology));
            for b in f.backup.iter().filter(|b| b.role != Role::Dom0) {
                let line = [
                    "vcpu-pin",
                    &b.domain,
                    "all",
                    &b.cpus.to_string(),
                    &b.cpus.to_string(),
                ]
                .map(super::shell_quote)
                .join(" ");
                out.push_str(&format!("#   xl {line}\n"));
            }
        }
        Ok(out)
    }
}
