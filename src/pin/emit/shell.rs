//! `--format shell`: the `xl` commands, one per line, every word quoted for a POSIX shell so
//! that a domain name with spaces or quotes stays one argument.

use super::Emitter;
use crate::pin::commands::xl_commands;
use crate::pin::model::Plan;

pub struct Shell;

impl Emitter for Shell {
    fn emit(&self, plan: &Plan) -> anyhow::Result<String> {
        let mut out = String::from("#!/bin/sh\n# remus-tune pin plan: run as root in Dom-0. Runtime pins are lost on reboot\n# and on Remus failover: put the --format xl-cfg lines in the domains' configs too.\nset -e\n");
        for cmd in xl_commands(plan) {
            let words: Vec<String> = cmd.args.iter().map(|a| shell_quote(a)).collect();
            out.push_str(&format!("xl {}\n", words.join(" ")));
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
