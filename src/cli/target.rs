//! The flags that say which backend a TARGET is taken for and how its pages are measured,
//! declared once for every command that measures a live target (`measure`, `watch`), and
//! turned once into the options the backend factory builds with.
//!
//! TARGET itself stays with each command: what may stand in for it differs (`measure --exec`).

use crate::backend::process::sample::{self, SampleSize};
pub use crate::backend::select::{BackendChoice, BuildOptions};
pub use crate::backend::MethodChoice;
use crate::settings::SettingsError;
use std::path::PathBuf;
use std::time::Duration;

/// `--qmp`, `--backend`, `--method`, `--sample-per-gib`, `--sample-min`, `--observe`.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
#[command(next_help_heading = "Target options")]
pub struct TargetArgs {
    /// Measure the QEMU guest behind this QMP socket (its QEMU process is the socket's peer),
    /// instead of naming a TARGET.
    #[arg(long, value_name = "SOCKET", conflicts_with = "target")]
    pub qmp: Option<PathBuf>,

    /// Which kind of target TARGET names; `auto` says which it picked and why.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,

    /// How dirty pages are found in a process or QEMU guest (a Xen domain uses log-dirty);
    /// `auto` says which it picked and why. The methods are explained in `measure --help`.
    #[arg(long, value_enum, default_value_t = MethodChoice::Auto)]
    pub method: MethodChoice,

    /// Pages hashed per GiB of memory by the `sample` method (QEMU's calc-dirty-rate uses
    /// 512; more pages, narrower confidence interval).
    #[arg(long, default_value_t = sample::DEFAULT_PER_GIB, value_name = "N")]
    pub sample_per_gib: u64,

    /// Fewest pages the `sample` method hashes, so small targets still get usable counts.
    #[arg(long, default_value_t = sample::DEFAULT_MIN, value_name = "N")]
    pub sample_min: u64,

    /// Xen: never switch log-dirty on or clean it; read only the stats-only PEEK count, i.e.
    /// Remus's own counter (safe beside Remus; chosen by itself when Remus or COLO already
    /// runs on the domain).
    #[arg(long)]
    pub observe: bool,
}

impl TargetArgs {
    /// The options a backend is built with at base epoch `epoch`: the one place these flags
    /// become typed values. Refuses a sample of no pages at all.
    pub fn build_options(&self, epoch: Duration) -> Result<BuildOptions, SettingsError> {
        let sample = SampleSize::from_options(self.sample_per_gib, self.sample_min)
            .map_err(SettingsError)?;
        Ok(BuildOptions {
            method: self.method,
            epoch,
            sample,
            observe: self.observe,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command, EpochArgs};
    use clap::Parser;

    const FLAGS: [&str; 10] = [
        "--backend",
        "qemu",
        "--method",
        "sample",
        "--sample-per-gib",
        "300",
        "--sample-min",
        "7",
        "--qmp",
        "/run/vm.qmp",
    ];

    fn parse(command: &str, flags: &[&str]) -> TargetArgs {
        parse_all(command, flags).0
    }

    /// The target flags and the epoch flags, as `command` parsed them.
    fn parse_all(command: &str, flags: &[&str]) -> (TargetArgs, EpochArgs) {
        let argv = ["remus-tune", command]
            .into_iter()
            .chain(flags.iter().copied());
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Measure(args) => (args.target_flags, args.epochs),
            Command::Watch(args) => (args.target_flags, args.epochs),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn the_same_flags_parse_identically_in_measure_and_watch() {
        let measured = parse("measure", &FLAGS);
        assert_eq!(measured, parse("watch", &FLAGS));
        assert_eq!(measured.backend, BackendChoice::Qemu);
        assert_eq!(measured.method, MethodChoice::Sample);
        assert_eq!(measured.qmp, Some(PathBuf::from("/run/vm.qmp")));
        assert_eq!((measured.sample_per_gib, measured.sample_min), (300, 7));

        let observing = ["vm", "--backend", "xen", "--observe"];
        assert_eq!(parse("measure", &observing), parse("watch", &observing));
        assert!(parse("watch", &observing).observe);
    }

    #[test]
    fn the_epoch_flags_parse_identically_in_measure_and_watch() {
        let flags = ["4242", "--epoch", "50ms", "--intervals", "50ms,150ms"];
        let (_, epochs) = parse_all("measure", &flags);
        assert_eq!(epochs, parse_all("watch", &flags).1);
        assert_eq!(epochs.epoch, Duration::from_millis(50));
        assert_eq!(
            epochs.intervals,
            [Duration::from_millis(50), Duration::from_millis(150)]
        );
    }

    #[test]
    fn the_defaults_are_the_same_in_measure_and_watch() {
        assert_eq!(
            parse_all("measure", &["4242"]).1,
            parse_all("watch", &["4242"]).1
        );
        let defaults = parse("measure", &["4242"]);
        assert_eq!(defaults, parse("watch", &["4242"]));
        let options = defaults.build_options(Duration::from_millis(25)).unwrap();
        let default = SampleSize::default();
        assert_eq!(
            (options.sample.per_gib, options.sample.min),
            (default.per_gib, default.min)
        );
        assert_eq!(options.method, MethodChoice::Auto);
        assert!(!options.observe);
    }

    #[test]
    fn a_target_and_a_qmp_socket_conflict_in_both() {
        for command in ["measure", "watch"] {
            let argv = ["remus-tune", command, "vm", "--qmp", "/run/vm.qmp"];
            assert!(Cli::try_parse_from(argv).is_err(), "{command}");
        }
    }

    #[test]
    fn a_sample_of_no_pages_is_refused_with_the_flags_to_fix() {
        let none = parse(
            "watch",
            &["4242", "--sample-per-gib", "0", "--sample-min", "0"],
        );
        let err = none.build_options(Duration::from_millis(25)).unwrap_err();
        assert!(err.0.contains("--sample-per-gib 0"), "{err}");
    }
}
