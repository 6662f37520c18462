//! One module per subcommand: turns declared arguments into work and an exit code.

pub mod advise;
pub mod measure;
pub mod measure_xen;
pub mod model;
pub mod pin;
pub mod profiles;
pub mod show;
pub mod target;
pub mod topology;
pub mod trial;
pub mod trial_report;
