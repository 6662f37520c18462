//! The plan's vocabulary: what the planner is given and what it returns. Plain data, so the
//! emitters, the appliers and the tests can all read it.

use crate::cpulist::CpuList;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Dom-0's name in `xl` and in the plan.
pub const DOM0: &str = "Domain-0";

/// The default name of the cpupool for protected VMs (`--strategy cpupool`).
pub const POOL_NAME: &str = "remus-tune";

/// A domain (or process) to place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainSpec {
    pub name: String,
    pub vcpus: u32,
    pub protected: bool,
}

impl DomainSpec {
    pub fn is_dom0(&self) -> bool {
        self.name == DOM0
    }
}

/// How the protected VMs are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Hard affinity only (`xl vcpu-pin`).
    #[default]
    Pin,
    /// A cpupool for the protected VMs, plus hard affinity inside it.
    Cpupool,
}

/// The admin's choices.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// `--dom0-cpus N`; `None` sizes Dom-0 by the rule in [`super::plan::dom0_size_rule`].
    pub dom0_cpus: Option<u32>,
    pub strategy: Strategy,
}

/// Which vCPU an assignment is for: one, or all of the domain's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Vcpu {
    Number(u32),
    All,
}

impl fmt::Display for Vcpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Vcpu::Number(n) => write!(f, "{n}"),
            Vcpu::All => f.write_str("all"),
        }
    }
}

impl Serialize for Vcpu {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Vcpu::Number(n) => s.serialize_u32(*n),
            Vcpu::All => s.serialize_str("all"),
        }
    }
}

impl<'de> Deserialize<'de> for Vcpu {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u32),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Vcpu::Number(n)),
            Raw::S(s) if s == "all" => Ok(Vcpu::All),
            Raw::S(s) => s.parse().map(Vcpu::Number).map_err(|_| {
                serde::de::Error::custom(format!("vcpu `{s}` is neither a number nor `all`"))
            }),
        }
    }
}

/// One line of the plan: this vCPU (or all) of this domain gets these affinities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub domain: String,
    pub vcpu: Vcpu,
    pub hard: CpuList,
    pub soft: CpuList,
}

/// The role a domain plays in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Dom0,
    Protected,
    Shared,
}

/// Where a domain ended up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub domain: String,
    pub role: Role,
    pub vcpus: u32,
    pub cpus: CpuList,
    pub nodes: Vec<u32>,
}

/// The CPUs of every placement in `role` (Dom-0's, or the host's on KVM: `Role::Dom0`).
pub fn cpus_of_role(placements: &[Placement], role: Role) -> CpuList {
    placements
        .iter()
        .filter(|p| p.role == role)
        .fold(CpuList::new(), |a, p| a.union(&p.cpus))
}

/// A rule of the plan and whether it holds, in a sentence a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCheck {
    #[serde(default, skip_serializing_if = "RuleKind::is_plan")]
    pub kind: RuleKind,
    pub rule: String,
    pub met: bool,
    pub detail: String,
}

/// What an unmet rule means. A broken rule of the plan itself is a `FAIL:` (and `pin` exits
/// 6); the host's present state that the plan's other forms put right (stored configs without
/// the pins, a boot line not yet changed) is a `todo:` and does not make the plan fail: every
/// fresh host has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    #[default]
    Plan,
    Todo,
}

impl RuleKind {
    fn is_plan(&self) -> bool {
        *self == RuleKind::Plan
    }
}

/// The cpupool the protected VMs move into (`--strategy cpupool`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolPlan {
    pub name: String,
    pub cpus: CpuList,
    pub domains: Vec<String>,
}

/// What the Xen boot line can and cannot do for Dom-0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootPlan {
    pub dom0_max_vcpus: u32,
    /// True when `dom0_vcpus_pin` (vCPU n → the n-th online pCPU) lands Dom-0 exactly on its
    /// planned whole cores.
    pub dom0_vcpus_pin: bool,
    pub reason: String,
}

/// A live vCPU's current affinity, printed beside the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Current {
    pub domain: String,
    pub vcpu: u32,
    pub hard: String,
    pub soft: String,
}

/// A QEMU process whose vCPU threads are known: they go on the VM's CPUs, every other thread
/// on `emulator_cpus` (the host's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadSplit {
    pub pid: u32,
    pub vcpu_threads: Vec<u32>,
    pub emulator_cpus: CpuList,
}

/// The IOThreads of a libvirt guest (`virsh iothreadinfo`): they get `iothreadpin`s beside
/// the emulator threads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainIothreads {
    pub domain: String,
    pub ids: Vec<u32>,
}

/// The plan for the Remus backup host (`--backup-topology`): where the protected VMs run after
/// failover, and the backup's Dom-0, which runs the receiving side of every checkpoint stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failover {
    pub backup_topology: String,
    /// True: every protected VM has the same CPUs on both hosts, whole cores of its own on
    /// each, so the one `cpus=` its config carries (and which the backup restores from the
    /// checkpoint stream) is right on both. False: the hosts need different CPUs, and the
    /// VMs are re-pinned on the backup after failover.
    pub same_config: bool,
    /// The backup's placements: its Dom-0 and the VMs as they run there after failover.
    pub backup: Vec<Placement>,
    /// The Xen boot line for the backup's Dom-0.
    pub backup_boot: BootPlan,
}

/// What the plan will be carried out on; decides which commands the `shell` form prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Xen domains, with `xl`.
    #[default]
    Xen,
    /// libvirt guests, with `virsh`.
    Libvirt,
    /// Linux processes (plain QEMU/KVM or any), with sched_setaffinity.
    Process,
}

/// The whole plan. `assignments` is the machine-readable contract (`--format yaml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    #[serde(default)]
    pub target: Target,
    pub strategy: Strategy,
    pub topology: String,
    pub assignments: Vec<Assignment>,
    pub placements: Vec<Placement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolPlan>,
    pub boot: BootPlan,
    pub rules: Vec<RuleCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threads: Vec<ThreadSplit>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub current: Vec<Current>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub iothreads: Vec<DomainIothreads>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<Failover>,
}

impl Plan {
    /// True when every rule holds.
    pub fn all_rules_met(&self) -> bool {
        self.rules.iter().all(|r| r.met)
    }

    /// The rules of the plan itself that it breaks (`FAIL:`), not the `todo:`s.
    pub fn failures(&self) -> Vec<&RuleCheck> {
        self.rules
            .iter()
            .filter(|r| !r.met && r.kind == RuleKind::Plan)
            .collect()
    }

    pub fn placement(&self, domain: &str) -> Option<&Placement> {
        self.placements.iter().find(|p| p.domain == domain)
    }

    /// The IOThread ids known for a domain (none unless gathered from libvirt).
    pub fn iothreads_of(&self, domain: &str) -> Vec<u32> {
        self.iothreads
            .iter()
            .filter(|d| d.domain == domain)
            .flat_map(|d| d.ids.iter().copied())
            .collect()
    }
}
