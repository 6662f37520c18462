//! Files a command is about to write.

use super::SettingsError;
use std::path::Path;

/// Refuses to replace `path` unless `--force` was given. Checked before anything is launched
/// or scanned; the writer checks again atomically when it creates the file.
pub fn check_new_file(path: Option<&Path>, force: bool) -> Result<(), SettingsError> {
    match path {
        Some(path) if !force && path.exists() => Err(SettingsError(format!(
            "{} already exists: choose another -o/--output, or pass --force to replace it",
            path.display()
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_existing_file_needs_force() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("vm.trace.yaml");
        assert_eq!(check_new_file(Some(&file), false), Ok(()));
        std::fs::write(&file, "x").unwrap();
        let err = check_new_file(Some(&file), false).unwrap_err().0;
        assert!(
            err.contains("already exists") && err.contains("--force"),
            "{err}"
        );
        assert_eq!(check_new_file(Some(&file), true), Ok(()));
        assert_eq!(check_new_file(None, false), Ok(()));
    }
}
