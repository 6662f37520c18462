//! Remus's checkpoints as the Xen backend's observe mode has seen them, read through the
//! backend's one public report of them: its cross-check (`Backend::cross_check`), whose note
//! reads `N Remus checkpoints seen (drops of dirty_count); frames per checkpoint, at least:
//! median M, max X` (backend/xen/mod.rs `checkpoints_seen`). The trait has no typed accessor
//! for these counts; when it gains one, this parser goes.

use crate::trace::CrossCheck;

/// Checkpoints seen so far and their sizes (lower bounds: we sample between Remus's CLEANs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointsSeen {
    pub count: u64,
    pub median_pages: u64,
    pub max_pages: u64,
}

/// Reads the cross-check's note; `None` before any checkpoint was seen or for another
/// backend's cross-check.
pub fn parse(check: &CrossCheck) -> Option<CheckpointsSeen> {
    let note = &check.note;
    let count = note
        .split(" Remus checkpoints seen")
        .next()
        .filter(|head| head.len() < note.len())?
        .trim()
        .parse()
        .ok()?;
    let number_after = |key: &str| -> Option<u64> {
        let rest = note.split(key).nth(1)?;
        let digits: String = rest
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    Some(CheckpointsSeen {
        count,
        median_pages: number_after("median")?,
        max_pages: number_after("max")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(note: &str) -> CrossCheck {
        CrossCheck {
            source: "Xen dirty_count before Remus's CLEANs".into(),
            status: "done".into(),
            mode: Some("stats-only PEEK".into()),
            window_ms: None,
            dirty_pages_per_s: None,
            note: note.into(),
        }
    }

    #[test]
    fn reads_the_xen_backends_note() {
        let seen = parse(&check(
            "412 Remus checkpoints seen (drops of dirty_count); frames per checkpoint, at \
             least: median 1830, max 20211",
        ));
        assert_eq!(
            seen,
            Some(CheckpointsSeen {
                count: 412,
                median_pages: 1830,
                max_pages: 20211
            })
        );
    }

    #[test]
    fn nothing_seen_or_another_note_is_none() {
        assert_eq!(parse(&check("")), None);
        assert_eq!(parse(&check("calc-dirty-rate finished in 1000 ms")), None);
    }
}
