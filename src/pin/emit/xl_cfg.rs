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
            out.push_str(&format!(
                "# {} ({role}): add to its xl config, on the primary and the backup host\n",
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
        Ok(out)
    }
}
