//! `--format yaml`: the plan for scripts. The contract is the top-level `assignments` list
//! (`domain`, `vcpu` as a number or `all`, `hard`, `soft` in xl syntax); other keys may grow.

use super::Emitter;
use crate::pin::model::Plan;

pub struct Yaml;

impl Emitter for Yaml {
    fn emit(&self, plan: &Plan) -> anyhow::Result<String> {
        Ok(yaml_serde::to_string(plan)?)
    }
}
