//! One module per subcommand: turns declared arguments into settings, work and an exit
//! code. `no_xen` is the exit every command gives when a Xen domain is named where there is
//! no Xen.

pub mod advise;
pub mod generate;
pub mod help;
pub mod measure;
pub mod model;
pub mod no_xen;
pub mod pin;
pub mod profiles;
pub mod show;
pub mod topology;
pub mod trial;
pub mod trial_replay;
pub mod trial_report;
pub mod watch;
pub mod workload;
