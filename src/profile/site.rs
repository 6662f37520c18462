//! Where profiles are looked up by name, and where `trial --install` keeps host profiles:
//! the current directory, then `$XDG_CONFIG_HOME/remus-tune/profiles` (default
//! `~/.config/remus-tune/profiles`), then `/etc/remus-tune/profiles`, then the built-in ones.
//! A name `NAME` matches `NAME.yaml` in a directory; the first directory that has it wins,
//! and whoever loads it says which file it was.

use std::path::{Path, PathBuf};

/// Test and packaging hook: a directory standing in for `/etc/remus-tune/profiles`.
const SYSTEM_DIR_VAR: &str = "REMUS_TUNE_SYSTEM_PROFILES";
const SYSTEM_DIR: &str = "/etc/remus-tune/profiles";

/// One place a profile may come from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// `./NAME.yaml`.
    CurrentDir,
    /// The user's config directory.
    User,
    /// The host-wide directory.
    System,
    /// Embedded in the binary.
    BuiltIn,
}

impl Origin {
    pub fn label(&self) -> &'static str {
        match self {
            Origin::CurrentDir => "current directory",
            Origin::User => "user",
            Origin::System => "system",
            Origin::BuiltIn => "built-in",
        }
    }
}

/// `$XDG_CONFIG_HOME/remus-tune/profiles`, or `~/.config/remus-tune/profiles`; `None`
/// without either variable.
pub fn user_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("remus-tune").join("profiles"))
}

/// `/etc/remus-tune/profiles` (or the test hook's directory).
pub fn system_dir() -> PathBuf {
    std::env::var_os(SYSTEM_DIR_VAR)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SYSTEM_DIR))
}

/// The directories searched, in order, with their origin.
pub fn search_dirs() -> Vec<(Origin, PathBuf)> {
    let mut dirs = vec![(Origin::CurrentDir, PathBuf::from("."))];
    if let Some(user) = user_dir() {
        dirs.push((Origin::User, user));
    }
    dirs.push((Origin::System, system_dir()));
    dirs
}

/// True when `name` can be a profile name (a file name without its `.yaml`): no path
/// separators, not hidden, not empty.
pub fn is_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('/')
        && !name.starts_with('.')
        && !name.ends_with(".yaml")
        && !name.ends_with(".yml")
}

/// The first `NAME.yaml` on the search path.
pub fn find(name: &str) -> Option<(Origin, PathBuf)> {
    if !is_name(name) {
        return None;
    }
    search_dirs()
        .into_iter()
        .map(|(origin, dir)| (origin, dir.join(format!("{name}.yaml"))))
        .find(|(_, path)| path.is_file())
}

/// The profiles found in the search directories: (name, origin, path), in search order;
/// a name shadowed by an earlier directory is listed once, as found first.
pub fn list() -> Vec<(String, Origin, PathBuf)> {
    let mut out: Vec<(String, Origin, PathBuf)> = Vec::new();
    for (origin, dir) in search_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<(String, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .filter_map(|p| {
                let name = p.file_name()?.to_str()?.strip_suffix(".yaml")?.to_string();
                Some((name, p))
            })
            // Traces (`*.trace.yaml`) and other YAML in the current directory are no profiles.
            .filter(|(name, p)| is_name(name) && looks_like_profile(p))
            .collect();
        names.sort();
        for (name, path) in names {
            if !out.iter().any(|(n, _, _)| *n == name) {
                out.push((name, origin.clone(), path));
            }
        }
    }
    out
}

/// A profile file starts its first key line with `kind:` or `description:` (cheap sniff, so
/// `profiles` does not parse every YAML file of the current directory).
fn looks_like_profile(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 2048];
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let n = file.read(&mut head).unwrap_or(0);
    String::from_utf8_lossy(&head[..n])
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.starts_with("kind:") || l.starts_with("description:"))
}

/// Where `trial --install` writes the host profile of `domain`: the user directory when
/// there is one, else the system directory.
pub fn install_path(domain: &str) -> PathBuf {
    let dir = user_dir().unwrap_or_else(system_dir);
    dir.join(format!("{}.yaml", file_name_for(domain)))
}

/// A domain name made safe as a file name: path separators and leading dots replaced.
pub fn file_name_for(domain: &str) -> String {
    let cleaned: String = domain
        .chars()
        .map(|c| if c == '/' || c == '\0' { '_' } else { c })
        .collect();
    cleaned.trim_start_matches('.').to_string()
}

/// The search path in words, for help and errors.
pub fn describe_search_path() -> String {
    let mut parts: Vec<String> = search_dirs()
        .iter()
        .map(|(_, dir)| format!("{}/NAME.yaml", dir.display()))
        .collect();
    parts.push("built-in".into());
    parts.join(", then ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_file_stems() {
        assert!(is_name("Meine-VM"));
        assert!(!is_name("../x"));
        assert!(!is_name("host.yaml"));
        assert!(!is_name(".hidden"));
        assert_eq!(file_name_for("a/b"), "a_b");
        assert_eq!(file_name_for("..x"), "x");
    }
}
