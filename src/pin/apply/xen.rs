//! Applying, checking and reverting a plan on Xen with `xl`.

use super::{describe_drift, Applied, Applier, Drift};
use crate::pin::commands::{undo_pool_commands, xl_commands, XlCommand};
use crate::pin::journal::{Journal, JournalBackend, PoolEntry, VcpuEntry};
use crate::pin::model::{Plan, Vcpu};
use crate::xl::{parse_vcpu_list, VcpuList, Xl};
use anyhow::{anyhow, bail, Context, Result};
use std::path::Path;

/// The Xen applier: `xl` and the size of an affinity bitmap on this host (max_cpu_id + 1,
/// what `all` means).
#[derive(Debug, Clone)]
pub struct XenApplier {
    pub xl: Xl,
    pub bitmap_size: u32,
}

impl XenApplier {
    /// For a revert, where no topology was read: the bitmap size from `xl info`.
    pub fn from_host(xl: Xl) -> Result<Self> {
        let info = crate::xl::parse_info(&xl.info()?)?;
        let bitmap_size = info
            .max_cpu_id()
            .map(|m| m + 1)
            .ok_or_else(|| anyhow!("`xl info` printed no max_cpu_id"))?;
        Ok(Self { xl, bitmap_size })
    }
}

impl Applier for XenApplier {
    fn backend(&self) -> JournalBackend {
        JournalBackend::Xen
    }

    fn check(&self, plan: &Plan) -> Result<Vec<Drift>> {
        check(&self.xl, plan, self.bitmap_size)
    }

    fn apply(&self, plan: &Plan, journal: &Path) -> Result<Applied> {
        apply(&self.xl, plan, self.bitmap_size, journal)
    }

    fn revert(&self, journal_path: &Path, journal: &Journal) -> Result<Vec<String>> {
        revert(&self.xl, journal_path, journal, self.bitmap_size)
    }
}

fn vcpu_list(xl: &Xl) -> Result<VcpuList> {
    let text = xl.vcpu_list()?;
    Ok(parse_vcpu_list(&text)?)
}

/// The vCPUs an assignment touches, as listed live. Errors if the domain is not running.
fn rows_for<'a>(
    list: &'a VcpuList,
    domain: &str,
    vcpu: Vcpu,
) -> Result<Vec<&'a crate::xl::VcpuRow>> {
    let rows: Vec<_> = list
        .rows
        .iter()
        .filter(|r| r.name == domain && (vcpu == Vcpu::All || vcpu == Vcpu::Number(r.vcpu)))
        .collect();
    if rows.is_empty() {
        bail!("the plan names {domain} vCPU {vcpu}, which `xl vcpu-list` does not list: is the domain running? (check `xl list`)");
    }
    Ok(rows)
}

/// Compares the live affinities with the plan. `bitmap_size` is max_cpu_id + 1 (what `all`
/// means).
pub fn compare(plan: &Plan, list: &VcpuList, bitmap_size: u32) -> Result<Vec<Drift>> {
    let mut drift = Vec::new();
    for a in &plan.assignments {
        for row in rows_for(list, &a.domain, a.vcpu)? {
            let hard = row.hard.resolve(bitmap_size);
            let soft = row.soft.as_ref().map(|s| s.resolve(bitmap_size));
            let soft_ok = soft.as_ref().is_none_or(|s| *s == a.soft);
            if hard != a.hard || !soft_ok {
                drift.push(Drift {
                    what: format!("{} vCPU {}", a.domain, row.vcpu),
                    expected: format!("{} / {}", a.hard, a.soft),
                    actual: format!(
                        "{} / {}",
                        row.hard,
                        row.soft
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_else(|| "(no soft affinity)".into())
                    ),
                });
            }
        }
    }
    Ok(drift)
}

/// `pin --check`: the drift between the live host and the plan.
pub fn check(xl: &Xl, plan: &Plan, bitmap_size: u32) -> Result<Vec<Drift>> {
    compare(plan, &vcpu_list(xl)?, bitmap_size)
}

/// Before any change: the new pool must not exist yet, and its CPUs must all be in Pool-0
/// (not free, not in another pool), or `cpupool-cpu-remove` would fail half-way.
fn check_pools(xl: &Xl, name: &str, cpus: &crate::cpulist::CpuList) -> Result<()> {
    let pools = crate::xl::parse_cpupool_list(&xl.cpupool_list()?)?;
    if let Some(existing) = pools.iter().find(|p| p.name == name) {
        let cpus = existing
            .cpus
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        bail!(
            "a cpupool named {name} already exists (CPUs {cpus}): an earlier apply was not reverted? run `remus-tune pin --revert`, or `xl cpupool-destroy {name}` once it holds no domain"
        );
    }
    let boot = pools
        .iter()
        .find(|p| p.name == crate::pin::commands::BOOT_POOL)
        .and_then(|p| p.cpus.clone())
        .unwrap_or_default();
    let outside = cpus.difference(&boot);
    if !outside.is_empty() {
        bail!(
            "the cpupool would take CPUs {outside}, which are not in {}: they are free or in another pool (see `xl cpupool-list -c`); add them to {} first or use --strategy pin",
            crate::pin::commands::BOOT_POOL,
            crate::pin::commands::BOOT_POOL
        );
    }
    Ok(())
}

/// How far the cpupool steps got, so a rollback undoes exactly those.
#[derive(Default)]
struct PoolProgress {
    removed: bool,
    created: bool,
    migrated: Vec<String>,
}

/// `pin --apply`: journal, apply, read back, and roll back on any failure or mismatch.
pub fn apply(xl: &Xl, plan: &Plan, bitmap_size: u32, journal_path: &Path) -> Result<Applied> {
    if let Some(pool) = plan.pool.as_ref().filter(|p| !p.cpus.is_empty()) {
        check_pools(xl, &pool.name, &pool.cpus)?;
    }
    let before =
        vcpu_list(xl).context("reading the current affinities before changing anything")?;
    let mut journal = Journal::new(JournalBackend::Xen);
    for a in &plan.assignments {
        for row in rows_for(&before, &a.domain, a.vcpu)? {
            if !journal
                .vcpus
                .iter()
                .any(|e| e.domid == row.domid && e.vcpu == row.vcpu)
            {
                journal.vcpus.push(VcpuEntry {
                    domain: row.name.clone(),
                    domid: row.domid,
                    vcpu: row.vcpu,
                    hard: row.hard.to_string(),
                    soft: row.soft.as_ref().map(ToString::to_string),
                });
            }
        }
    }
    journal.create(journal_path)?;

    let commands = xl_commands(plan);
    let mut done = Vec::new();
    let mut pool = PoolProgress::default();
    for cmd in &commands {
        if cmd.args[0] == "cpupool-cpu-remove" {
            // Record the pool before touching pools, so `--revert` can undo it after a crash.
            if let Some(p) = &plan.pool {
                journal.pool = Some(PoolEntry {
                    name: p.name.clone(),
                    cpus: p.cpus.to_string(),
                    domains: p.domains.clone(),
                });
                journal.update(journal_path)?;
            }
        }
        match xl.run(&cmd.args) {
            Ok(_) => {
                match cmd.args[0].as_str() {
                    "cpupool-cpu-remove" => pool.removed = true,
                    "cpupool-create" => pool.created = true,
                    "cpupool-migrate" => pool.migrated.push(cmd.args[1].clone()),
                    _ => {}
                }
                done.push(format!("xl {}", cmd.args.join(" ")));
            }
            Err(e) => {
                let rollback = roll_back(xl, &journal, &pool);
                return Err(failure(&e.to_string(), done.len(), rollback, journal_path));
            }
        }
    }
    let after = match vcpu_list(xl) {
        Ok(list) => list,
        Err(e) => {
            let rollback = roll_back(xl, &journal, &pool);
            return Err(failure(
                &format!("cannot read back the affinities: {e:#}"),
                done.len(),
                rollback,
                journal_path,
            ));
        }
    };
    let drift = compare(plan, &after, bitmap_size)?;
    if !drift.is_empty() {
        let why = format!(
            "read-back differs from the plan (Xen applies hard ∩ cpupool CPUs and xl.conf vm.cpumask; check `xl cpupool-list -c` and /etc/xen/xl.conf):\n{}",
            describe_drift(&drift)
        );
        let rollback = roll_back(xl, &journal, &pool);
        return Err(failure(&why, done.len(), rollback, journal_path));
    }
    Ok(Applied {
        changed: done.len(),
        changes: done,
    })
}

/// Builds the error for a failed apply, saying what was rolled back.
fn failure(
    what: &str,
    applied: usize,
    rollback: Result<(), String>,
    journal: &Path,
) -> anyhow::Error {
    match rollback {
        Ok(()) => {
            let kept = Journal::retire(journal, "rolled-back")
                .map(|p| format!("the journal is kept as {}", p.display()))
                .unwrap_or_else(|e| format!("the journal {} could not be moved aside ({e}); delete it before the next --apply", journal.display()));
            anyhow!("{what}\nrolled back: the {applied} change(s) made were undone and every vCPU has its journalled affinity again; {kept}")
        }
        Err(errors) => anyhow!(
            "{what}\nROLLBACK INCOMPLETE:\n{errors}\nthe journal is kept at {path}: fix the cause, then run `remus-tune pin --revert --journal {path}`",
            path = journal.display()
        ),
    }
}

/// Undoes pool steps (as far as they got), then restores every journalled vCPU.
fn roll_back(xl: &Xl, journal: &Journal, pool: &PoolProgress) -> Result<(), String> {
    let mut errors = String::new();
    if let Some(p) = &journal.pool {
        let undo = undo_pool_commands(&p.name, &p.cpus, &pool.migrated);
        for cmd in undo {
            let needed = match cmd.args[0].as_str() {
                "cpupool-destroy" => pool.created,
                "cpupool-cpu-add" => pool.removed,
                _ => true,
            };
            if needed {
                run_logged(xl, &cmd, &mut errors);
            }
        }
    }
    restore_vcpus(xl, journal, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn run_logged(xl: &Xl, cmd: &XlCommand, errors: &mut String) {
    if let Err(e) = xl.run(&cmd.args) {
        errors.push_str(&format!("  `xl {}`: {e}\n", cmd.args.join(" ")));
    }
}

/// Restores every journalled vCPU with `-i`, so that xl.conf's global masks are not ANDed in
/// a second time: the journal holds the effective affinity, which is what must come back.
fn restore_vcpus(xl: &Xl, journal: &Journal, errors: &mut String) {
    for e in &journal.vcpus {
        let mut args = vec![
            "vcpu-pin".to_string(),
            "-i".into(),
            e.domain.clone(),
            e.vcpu.to_string(),
            e.hard.clone(),
        ];
        if let Some(soft) = &e.soft {
            args.push(soft.clone());
        }
        run_logged(xl, &XlCommand { args }, errors);
    }
}

/// `pin --revert`: restores a journal (pool first, then every vCPU), checks the result, and
/// retires the journal.
pub fn revert(
    xl: &Xl,
    journal_path: &Path,
    journal: &Journal,
    bitmap_size: u32,
) -> Result<Vec<String>> {
    let mut errors = String::new();
    if let Some(p) = &journal.pool {
        let pools = xl.cpupool_list().map(|t| crate::xl::parse_cpupool_list(&t));
        let exists = matches!(&pools, Ok(Ok(list)) if list.iter().any(|q| q.name == p.name));
        if exists {
            for cmd in undo_pool_commands(&p.name, &p.cpus, &p.domains) {
                run_logged(xl, &cmd, &mut errors);
            }
        }
    }
    restore_vcpus(xl, journal, &mut errors);
    if !errors.is_empty() {
        bail!(
            "revert incomplete:\n{errors}the journal stays at {}: fix the cause and run `remus-tune pin --revert` again",
            journal_path.display()
        );
    }
    let after = vcpu_list(xl)?;
    let mut restored = Vec::new();
    let mut drift = Vec::new();
    for e in &journal.vcpus {
        let Some(row) = after
            .rows
            .iter()
            .find(|r| r.name == e.domain && r.vcpu == e.vcpu)
        else {
            drift.push(format!("  {} vCPU {} is gone", e.domain, e.vcpu));
            continue;
        };
        let want = crate::xl::Affinity::Cpus(crate::cpulist::CpuList::parse_with_all(
            &e.hard,
            bitmap_size,
        )?);
        if crate::xl::Affinity::Cpus(row.hard.resolve(bitmap_size)) != want {
            drift.push(format!(
                "  {} vCPU {}: journal {}, live {}",
                e.domain, e.vcpu, e.hard, row.hard
            ));
        }
        restored.push(format!(
            "{} vCPU {}: {} / {}",
            e.domain,
            e.vcpu,
            e.hard,
            e.soft.as_deref().unwrap_or("-")
        ));
    }
    if !drift.is_empty() {
        bail!("after revert the live affinities differ from the journal:\n{}\nthe journal stays at {}", drift.join("\n"), journal_path.display());
    }
    Journal::retire(journal_path, "reverted")
        .with_context(|| format!("restored, but cannot move {} aside", journal_path.display()))?;
    Ok(restored)
}
