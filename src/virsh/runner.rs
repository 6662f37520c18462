//! Starting `virsh`: arguments go to the program as they are, never through a shell, and a
//! failure comes back with virsh's own words.

use super::parse::{parse_emulatorpin, parse_pin_rows};
use crate::cpulist::CpuList;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable that overrides which `virsh` is run.
pub const VIRSH_ENV: &str = "REMUS_TUNE_VIRSH";

/// Why running or reading `virsh` failed.
#[derive(Debug, thiserror::Error)]
pub enum VirshError {
    #[error("cannot run `{program}`: {source}\n  install libvirt-clients, or point {VIRSH_ENV} at virsh")]
    NotFound {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed; virsh said:\n{stderr}")]
    Failed { command: String, stderr: String },
    #[error("cannot read `virsh {command}` output, line {line}: {problem}\n  the line: {text:?}")]
    Parse {
        command: String,
        line: usize,
        text: String,
        problem: String,
    },
}

/// Which of a domain's two states a pin query or change is about: the running domain, or its
/// persistent definition (what it gets at the next start, and what a migration carries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Live,
    Config,
}

impl Scope {
    pub fn flag(self) -> &'static str {
        match self {
            Scope::Live => "--live",
            Scope::Config => "--config",
        }
    }
}

/// How to run virsh.
#[derive(Debug, Clone)]
pub struct Virsh {
    program: PathBuf,
}

impl Default for Virsh {
    fn default() -> Self {
        Self::from_env()
    }
}

impl Virsh {
    /// `$REMUS_TUNE_VIRSH`, else `virsh` found on PATH.
    pub fn from_env() -> Self {
        let program = std::env::var_os(VIRSH_ENV)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| "virsh".into());
        Self { program }
    }

    pub fn with_program(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
        }
    }

    /// True when the program exists: a path that is a file, or a bare name found on PATH.
    pub fn available(&self) -> bool {
        if self.program.components().count() > 1 {
            return self.program.is_file();
        }
        std::env::var_os("PATH").is_some_and(|paths| {
            std::env::split_paths(&paths).any(|dir| dir.join(&self.program).is_file())
        })
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Runs `virsh ARGS…`, returning stdout. Each argument reaches virsh as it is.
    pub fn run<S: AsRef<str>>(&self, args: &[S]) -> Result<String, VirshError> {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        let out = Command::new(&self.program)
            .args(&args)
            .output()
            .map_err(|source| VirshError::NotFound {
                program: self.program.display().to_string(),
                source,
            })?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
        Err(VirshError::Failed {
            command: format!("virsh {}", args.join(" ")),
            stderr: if stderr.is_empty() {
                "(nothing on stderr)".into()
            } else {
                stderr
            },
        })
    }

    /// Running domains' names (`virsh list --name`).
    pub fn running(&self) -> Result<Vec<String>, VirshError> {
        Ok(self
            .run(&["list", "--name"])?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }

    /// `virsh domstate --domain DOM`: `running`, `paused`, `shut off`, …
    pub fn domstate(&self, domain: &str) -> Result<String, VirshError> {
        Ok(self
            .run(&["domstate", "--domain", domain])?
            .trim()
            .to_string())
    }

    /// Each vCPU's affinity (`virsh vcpupin DOM --live|--config`).
    pub fn vcpu_affinity(
        &self,
        domain: &str,
        scope: Scope,
    ) -> Result<Vec<(u32, CpuList)>, VirshError> {
        parse_pin_rows("vcpupin", &self.run(&["vcpupin", domain, scope.flag()])?)
    }

    /// The emulator threads' affinity (`virsh emulatorpin DOM --live|--config`).
    pub fn emulator_affinity(&self, domain: &str, scope: Scope) -> Result<CpuList, VirshError> {
        parse_emulatorpin(&self.run(&["emulatorpin", domain, scope.flag()])?)
    }

    /// Each IOThread's affinity (`virsh iothreadinfo DOM --live|--config`); empty when the
    /// domain defines none.
    pub fn iothread_affinity(
        &self,
        domain: &str,
        scope: Scope,
    ) -> Result<Vec<(u32, CpuList)>, VirshError> {
        parse_pin_rows(
            "iothreadinfo",
            &self.run(&["iothreadinfo", domain, scope.flag()])?,
        )
    }

    /// One QMP command through `virsh qemu-monitor-command DOM --cmd JSON` (libvirt holds
    /// the QEMU's only QMP connection). Returns virsh's stdout, the QMP reply.
    pub fn qemu_monitor_command(&self, domain: &str, json: &str) -> Result<String, VirshError> {
        self.run(&["qemu-monitor-command", "--domain", domain, "--cmd", json])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_program_says_what_to_do() {
        let v = Virsh::with_program("/nonexistent/virsh");
        assert!(!v.available());
        let err = v.running().unwrap_err().to_string();
        assert!(
            err.contains("/nonexistent/virsh") && err.contains(VIRSH_ENV),
            "{err}"
        );
    }

    #[test]
    fn failure_keeps_stderr_and_arguments_stay_whole() {
        let v = Virsh::with_program("sh");
        assert!(v.available());
        let err = v
            .run(&[
                "-c",
                "echo \"error: failed to get domain '$0'\" >&2; exit 1",
                "my vm",
            ])
            .unwrap_err()
            .to_string();
        assert!(err.contains("failed to get domain 'my vm'"), "{err}");
    }
}
