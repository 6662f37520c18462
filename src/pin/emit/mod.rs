//! Every form a plan is written in is one emitter behind [`Emitter`]: a table for people,
//! shell commands, xl.cfg lines, the Xen boot line, and YAML for scripts.

mod boot;
mod shell;
mod text;
mod xl_cfg;
mod yaml;

pub use shell::shell_quote;

use super::model::Plan;

/// Renders a plan in one format.
pub trait Emitter {
    fn emit(&self, plan: &Plan) -> anyhow::Result<String>;
}

/// `pin --format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PinFormat {
    /// A table, the current pinning beside it, and a sentence per rule.
    #[default]
    Text,
    /// The `xl vcpu-pin` / `xl cpupool-*` commands, one per line.
    Shell,
    /// `cpus=` / `cpus_soft=` lines for each domain's xl config (survive reboot and failover).
    XlCfg,
    /// The Xen command line options for Dom-0.
    Boot,
    /// The plan, machine-readable (top-level `assignments`).
    Yaml,
}

/// The emitter for `format`.
pub fn emitter(format: PinFormat) -> Box<dyn Emitter> {
    match format {
        PinFormat::Text => Box::new(text::Text),
        PinFormat::Shell => Box::new(shell::Shell),
        PinFormat::XlCfg => Box::new(xl_cfg::XlCfg),
        PinFormat::Boot => Box::new(boot::Boot),
        PinFormat::Yaml => Box::new(yaml::Yaml),
    }
}
