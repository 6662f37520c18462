//! `--format shell`: the `xl` commands, one per line, every word quoted for a POSIX shell so
//! that a domain name with spaces or quotes stays one argument.

use super::{failure_comment, Emitter};
use crate::pin::commands::xl_commands;
use crate::pin::commands::{virsh_pins, BOTH};
use crate::pin::model::{Plan, Role, Target};

pub struct Shell;

impl Emitter for Shell {
    fn emit(&self, plan: &Plan) -> anyhow::Result<String> {
        let mut out = String::from("#!/bin/sh\n");
        out.push_str(&failure_comment(plan, "#"));
        out.push_str("set -e\n");
        let line = |program: &str, args: &[String]| {
            let words: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
            format!("{program} {}\n", words.join(" "))
        };
        match plan.target {
            Target::Xen => {
                out.push_str("# Run as root in Dom-0. Runtime pins are lost on reboot and on Remus failover:\n# put the --format xl-cfg lines in the domains' configs too.\n");
                for cmd in xl_commands(plan) {
                    out.push_str(&line("xl", &cmd.args));
                }
            }
            Target::Libvirt => {
                out.push_str("# libvirt guests: virsh keeps its cgroups consistent; --live now, --config for the next start.\n");
                for pin in virsh_pins(plan) {
                    out.push_str(&line("virsh", &pin.args(&BOTH)));
                }
            }
            Target::Process => {
                out.push_str("# Every thread of each process (-a); a PID alone would pin only its main thread.\n");
                for p in plan.placements.iter().filter(|p| p.role == Role::Protected) {
                    let pid = p.domain.trim_start_matches("pid:");
                    let split = plan.threads.iter().find(|t| t.pid.to_string() == pid);
                    // With known vCPU threads: every thread to the host's CPUs first, then the
                    // vCPU threads one by one onto the VM's own.
                    let first = split.map(|t| &t.emulator_cpus).unwrap_or(&p.cpus);
                    let all = ["-a", "-p", "-c", &first.to_string(), pid].map(String::from);
                    out.push_str(&line("taskset", &all));
                    for tid in split.map(|t| t.vcpu_threads.as_slice()).unwrap_or_default() {
                        let one =
                            ["-p", "-c", &p.cpus.to_string(), &tid.to_string()].map(String::from);
                        out.push_str(&line("taskset", &one));
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Quotes `word` for a POSIX shell: left bare if it is made of safe characters only,
/// otherwise in single quotes with each `'` written as `'\''`.
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.,/:=@%+".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(shell_quote("Meine-VM"), "Meine-VM");
        assert_eq!(shell_quote("2-3,10-11"), "2-3,10-11");
        assert_eq!(shell_quote("my vm"), "'my vm'");
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_quote("name=\"x\""), "'name=\"x\"'");
        assert_eq!(shell_quote(""), "''");
    }
}
