//! Checkpoint intervals in whole milliseconds, as the model predicts them and `xl remus -i`
//! takes them.

use super::SettingsError;
use crate::units::HumanDuration;
use std::time::Duration;

/// `--intervals` as whole milliseconds, each at least 1 ms, in the order given.
pub fn whole_milliseconds(intervals: &[Duration]) -> Result<Vec<u64>, SettingsError> {
    if intervals.is_empty() {
        return Err(SettingsError(
            "--intervals is empty: give at least one, e.g. 100ms,200ms".into(),
        ));
    }
    intervals
        .iter()
        .map(|d| {
            if d.subsec_nanos() % 1_000_000 != 0 || *d < Duration::from_millis(1) {
                return Err(SettingsError(format!(
                    "--intervals: {} is not a whole number of milliseconds (at least 1ms)",
                    HumanDuration(*d)
                )));
            }
            Ok(d.as_millis() as u64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_milliseconds_or_a_message_naming_the_flag() {
        let ms = Duration::from_millis;
        assert_eq!(whole_milliseconds(&[ms(200), ms(50)]), Ok(vec![200, 50]));
        for bad in [
            Duration::from_micros(1500),
            Duration::ZERO,
            Duration::from_micros(999),
        ] {
            let err = whole_milliseconds(&[bad]).unwrap_err().0;
            assert!(err.contains("not a whole number of milliseconds"), "{err}");
        }
        assert!(whole_milliseconds(&[]).unwrap_err().0.contains("is empty"));
    }
}
