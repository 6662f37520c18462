//! Starting `xl`: arguments go to the program as they are, never through a shell, and a
//! failure comes back with xl's own words and what to do about it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

/// The environment variable that overrides which `xl` is run.
pub const XL_ENV: &str = "REMUS_TUNE_XL";

/// Why running `xl` failed.
#[derive(Debug, thiserror::Error)]
pub enum XlError {
    #[error(
        "cannot run `{program}`: {source}\n  remus-tune needs Xen's `xl` for this (run it in Dom-0 of a Xen host, \
         install xen-utils, or point {XL_ENV} at xl); to plan for another host use --topology FILE"
    )]
    NotFound {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}); xl said:\n{stderr}{hint}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
        hint: &'static str,
    },
}

/// How to run `xl`: which program, and whether to ask for a dry run.
#[derive(Debug, Clone)]
pub struct Xl {
    program: PathBuf,
}

impl Default for Xl {
    fn default() -> Self {
        Self::from_env()
    }
}

impl Xl {
    /// `$REMUS_TUNE_XL`, else `xl` found on PATH.
    pub fn from_env() -> Self {
        let program = std::env::var_os(XL_ENV)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("xl"));
        Self { program }
    }

    pub fn with_program(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
        }
    }

    pub fn program(&self) -> &std::path::Path {
        &self.program
    }

    /// Runs `xl ARGS…` and returns its stdout. Each argument is passed to the program as is.
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Result<String, XlError> {
        let args: Vec<OsString> = args.iter().map(|a| a.as_ref().to_os_string()).collect();
        let output = Command::new(&self.program)
            .args(&args)
            .output()
            .map_err(|source| XlError::NotFound {
                program: self.program.display().to_string(),
                source,
            })?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&output.stderr)
            .trim_end()
            .to_string();
        let hint = hint_for(&stderr);
        Err(XlError::Failed {
            command: self.describe(&args),
            status: output
                .status
                .code()
                .map(|c| format!("exit status {c}"))
                .unwrap_or_else(|| "killed by a signal".into()),
            stderr: if stderr.is_empty() {
                "(nothing on stderr)".into()
            } else {
                stderr
            },
            hint,
        })
    }

    /// `xl vcpu-pin …` as a person would type it, for messages.
    pub fn describe(&self, args: &[OsString]) -> String {
        let mut words = vec!["xl".to_string()];
        words.extend(args.iter().map(|a| a.to_string_lossy().into_owned()));
        words.join(" ")
    }

    /// `xl info` (without -n).
    pub fn info(&self) -> Result<String, XlError> {
        self.run(&["info"])
    }

    /// `xl info -n`: adds cpu_topology and numa_info.
    pub fn info_numa(&self) -> Result<String, XlError> {
        self.run(&["info", "-n"])
    }

    /// `xl vcpu-list` for every domain.
    pub fn vcpu_list(&self) -> Result<String, XlError> {
        self.run(&["vcpu-list"])
    }

    /// `xl list -l`: every Dom-U's stored configuration as JSON.
    pub fn list_long(&self) -> Result<String, XlError> {
        self.run(&["list", "-l"])
    }

    /// `xl cpupool-list -c`.
    pub fn cpupool_list(&self) -> Result<String, XlError> {
        self.run(&["cpupool-list", "-c"])
    }
}

/// A sentence on what to do, for the failures people meet most.
fn hint_for(stderr: &str) -> &'static str {
    let lower = stderr.to_lowercase();
    if lower.contains("permission denied") || lower.contains("must be run as root") {
        "\n  run remus-tune as root (xl needs /dev/xen/privcmd)"
    } else if lower.contains("xenstore")
        || lower.contains("xc_interface_open")
        || lower.contains("/proc/xen")
    {
        "\n  is this a Xen Dom-0 with xenstored running? On other hosts use --topology FILE"
    } else if lower.contains("maybe this domain does not exist") || lower.contains("invalid domain")
    {
        "\n  check the domain name with `xl list`"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_program_says_what_to_do() {
        let xl = Xl::with_program("/nonexistent/xl");
        let err = xl.info().unwrap_err().to_string();
        assert!(err.contains("/nonexistent/xl"), "{err}");
        assert!(err.contains(XL_ENV), "{err}");
    }

    #[test]
    fn failure_keeps_stderr_verbatim() {
        let xl = Xl::with_program("sh");
        let err = xl
            .run(&["-c", "echo \"libxl: error: Permission denied\" >&2; exit 3"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("libxl: error: Permission denied"), "{err}");
        assert!(err.contains("exit status 3"), "{err}");
        assert!(err.contains("run remus-tune as root"), "{err}");
    }
}
