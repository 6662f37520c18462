//! The dry-run pin plan for the host remus-tune runs on, as `advise` puts it in its report:
//! Xen if `xl` answers (the domains from `xl vcpu-list`), otherwise the hwloc topology with no
//! VMs declared. Reads the host; the planning itself stays pure.

use super::emit::{emitter, PinFormat};
use super::host_role::rename_host;
use super::{plan, DomainSpec, Policy, Target, DOM0};
use crate::xl::{parse_vcpu_list, Xl};
use anyhow::Result;

/// The plan for this host as text.
pub fn host_plan_text() -> Result<String> {
    let xl = Xl::from_env();
    let p = match crate::topology::xen::from_host(&xl) {
        Ok(topo) => {
            let list = parse_vcpu_list(&xl.vcpu_list()?)?;
            let specs: Vec<DomainSpec> = list
                .domains()
                .into_iter()
                .map(|(name, _, vcpus)| DomainSpec {
                    protected: name != DOM0,
                    name,
                    vcpus,
                })
                .collect();
            plan(&topo, &specs, &Policy::default())
        }
        // No Xen here (no `xl`, or it cannot reach a hypervisor): the host's own topology.
        Err(_) => {
            let topo = crate::topology::native_host()?;
            let mut p = plan(&topo, &[], &Policy::default());
            p.target = Target::Process;
            rename_host(&mut p);
            p
        }
    };
    emitter(PinFormat::Text).emit(&p)
}

/// [`host_plan_text`] as an HTML section, for `advise`'s report (`ReportInput::extra_html`).
pub fn host_plan_html() -> Result<String> {
    let text = host_plan_text()?;
    Ok(format!(
        "<h2>Pin plan for this host (dry run)</h2>\n<pre>{}</pre>\n",
        crate::report::escape(&text)
    ))
}
