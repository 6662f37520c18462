//! Pinning Dom-0 and the protected VMs apart: a pure planner ([`plan`]), one emitter per
//! output form ([`emit`]), and appliers with a journal for revert ([`apply`], [`journal`]).
//!
//! Data flows one way: topology + domains + policy → [`model::Plan`] → text, commands, or
//! changes on the host.

pub mod apply;
pub mod commands;
pub mod emit;
pub mod failover;
pub mod host_plan;
pub mod host_role;
pub mod journal;
pub mod model;
pub mod plan;

pub use failover::plan_failover;
pub use model::*;
pub use plan::plan;
