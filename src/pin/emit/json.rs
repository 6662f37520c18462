//! `--format json`: the plan for scripts, the same value as `--format yaml`.

use super::Emitter;
use crate::pin::model::Plan;

pub struct Json;

impl Emitter for Json {
    fn emit(&self, plan: &Plan) -> anyhow::Result<String> {
        let mut out = serde_json::to_string_pretty(plan)?;
        out.push('\n');
        Ok(out)
    }
}
