//! Limits on what remus-tune accepts from the outside, as policy in one place.
//!
//! Every input a user (or a hostile file) controls is bounded before it can cost memory or
//! time out of proportion to its size: files are read only up to a size per kind and only
//! from regular files or pipes (never `/dev/zero`), CPU numbers stop at a maximum CPU id
//! before a range is expanded, durations stop well before `Duration` overflows, YAML may not
//! nest or expand (aliases) beyond a budget, and a QMP line has a maximum length. Each limit
//! has a name, and every error it raises says which limit it was and what the limit is, so a
//! user who really needs more knows what they hit. The README's "What remus-tune does with
//! bad input" lists the same figures.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::io::{self, Read};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::time::Duration;

/// The highest CPU number accepted when no topology says otherwise: Xen's and Linux's
/// x86 builds top out at 4096 CPUs (`NR_CPUS`), so 4095 is the largest id either prints.
pub const DEFAULT_MAX_CPU_ID: u32 = 4095;

/// The most vCPUs one domain or process may be declared with (`--domain X=N`, `--pid P=N`):
/// one per CPU of the largest host above.
pub const MAX_VCPUS: u32 = DEFAULT_MAX_CPU_ID + 1;

/// The longest duration accepted anywhere (`--duration`, `--warmup`, `--epoch`, profile
/// values, `--set`): 30 days. Longer is a typo, and far longer overflows `Duration`.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// The deepest nesting of mappings and sequences in a profile, pin plan or journal. The
/// deepest file we write nests 4 levels.
pub const MAX_YAML_DEPTH: usize = 32;

/// The most YAML nodes a profile, plan or journal may hold after aliases are expanded: a
/// plan for 256 CPUs and 50 domains has about 2 000. A 1 KiB "billion laughs" alias bomb
/// stops here instead of growing to gigabytes.
pub const MAX_YAML_NODES: usize = 200_000;

/// The longest line a QMP peer may send (a reply is one line of JSON). QEMU's largest reply
/// we ask for, `query-memdev` of a big guest, is a few KiB; `query-qmp-schema` is 200 KiB.
pub const MAX_QMP_LINE: usize = 16 * 1024 * 1024;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// The kinds of file remus-tune reads whole into memory, each with its size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A limits profile (`--profile FILE`).
    Profile,
    /// A host cost set (`--host FILE`).
    HostProfile,
    /// A saved `xl info -n`, hwloc XML or other `xl` output (`--topology FILE`).
    Topology,
    /// A plan written by `pin --format yaml` (`--plan FILE`).
    PinPlan,
    /// The journal of `pin --apply` (`--journal FILE`).
    PinJournal,
}

impl FileKind {
    /// The limit's name, as errors and the README print it.
    pub fn limit_name(self) -> &'static str {
        match self {
            FileKind::Profile => "max_profile_size",
            FileKind::HostProfile => "max_host_profile_size",
            FileKind::Topology => "max_topology_size",
            FileKind::PinPlan => "max_pin_plan_size",
            FileKind::PinJournal => "max_pin_journal_size",
        }
    }

    /// The largest file of this kind accepted, in bytes. Generous: ten to a hundred times
    /// the largest real file (a profile is 2 KiB; hwloc XML of a 4-socket, 256-CPU host
    /// about 1 MiB; a plan or journal for 50 domains about 20 KiB).
    pub fn max_bytes(self) -> u64 {
        match self {
            FileKind::Profile | FileKind::HostProfile => 256 * KIB,
            FileKind::Topology => 64 * MIB,
            FileKind::PinPlan | FileKind::PinJournal => 16 * MIB,
        }
    }

    /// What the file is, in words.
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::Profile => "profile",
            FileKind::HostProfile => "host cost profile",
            FileKind::Topology => "topology file",
            FileKind::PinPlan => "pin plan",
            FileKind::PinJournal => "pin journal",
        }
    }
}

/// An input beyond one of the limits above; the message names the limit and its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error(
        "{path} is {what}, not a regular file: a {kind} is read only from a regular file \
         (or a pipe)"
    )]
    NotRegularFile {
        path: String,
        what: &'static str,
        kind: &'static str,
    },
    #[error("{path} is larger than the limit {limit} ({max}) for a {kind}: is it the right file?")]
    FileTooLarge {
        path: String,
        kind: &'static str,
        limit: &'static str,
        max: String,
    },
    #[error("{path} is not UTF-8 text: a {kind} is a text file")]
    NotText { path: String, kind: &'static str },
    #[error(
        "CPU {cpu} in `{text}` is above the limit max_cpu_id ({max}{source_note}): check the CPU \
         numbers"
    )]
    CpuIdTooLarge {
        text: String,
        cpu: u64,
        max: u32,
        source_note: &'static str,
    },
    #[error("`{text}` vCPUs is above the limit max_vcpus ({max})")]
    TooManyVcpus { text: String, max: u32 },
    #[error("`{text}` is longer than the limit max_duration ({days} days)")]
    DurationTooLong { text: String, days: u64 },
    #[error(
        "its YAML nests deeper than the limit max_yaml_depth ({max} levels): no profile, plan \
         or journal needs that"
    )]
    YamlTooDeep { max: usize },
    #[error(
        "its YAML holds more than the limit max_yaml_nodes ({max} nodes once its aliases are \
         expanded): an alias bomb? No profile, plan or journal needs that many"
    )]
    YamlTooManyNodes { max: usize },
    #[error("a QMP message is longer than the limit max_qmp_line ({max} bytes) without a newline")]
    QmpLineTooLong { max: usize },
}

fn human_bytes(bytes: u64) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} B")
    }
}

/// Checks a CPU number against the maximum CPU id (`max`, from the host's topology when
/// known, else [`DEFAULT_MAX_CPU_ID`]); `text` is the list it came from.
pub fn check_cpu_id(cpu: u64, max: u32, text: &str) -> Result<u32, LimitError> {
    if cpu > u64::from(max) {
        return Err(LimitError::CpuIdTooLarge {
            text: text.to_string(),
            cpu,
            max,
            source_note: if max == DEFAULT_MAX_CPU_ID {
                ", the most any host has"
            } else {
                ", the highest CPU of this host"
            },
        });
    }
    Ok(cpu as u32)
}

/// Checks a declared vCPU count.
pub fn check_vcpus(vcpus: u64, text: &str) -> Result<u32, LimitError> {
    if vcpus > u64::from(MAX_VCPUS) {
        return Err(LimitError::TooManyVcpus {
            text: text.to_string(),
            max: MAX_VCPUS,
        });
    }
    Ok(vcpus as u32)
}

/// Checks a duration given in seconds before it becomes a `Duration` (whose constructor
/// panics on values it cannot hold); `text` is how the user wrote it.
pub fn check_duration_secs(seconds: f64, text: &str) -> Result<Duration, LimitError> {
    // NaN fails this test too: it is not a duration at all.
    if seconds.is_nan() || seconds > MAX_DURATION.as_secs_f64() {
        return Err(LimitError::DurationTooLong {
            text: text.to_string(),
            days: MAX_DURATION.as_secs() / 86_400,
        });
    }
    Ok(Duration::from_secs_f64(seconds.max(0.0)))
}

/// Reads a whole file of `kind` as text, within the kind's size limit. Only regular files
/// and pipes are read: a device (`/dev/zero`), a directory or a socket is refused before a
/// byte is read, and no more than the limit plus one byte is ever read (a file may grow
/// after its size was looked at). The limit errors come back as `io::Error`s of kind
/// `InvalidData` carrying a [`LimitError`], so callers keep their own error types.
pub fn read_text(path: &Path, kind: FileKind) -> io::Result<String> {
    let shown = path.display().to_string();
    let refuse = |err: LimitError| io::Error::new(io::ErrorKind::InvalidData, err);
    let file = std::fs::File::open(path)?;
    let file_type = file.metadata()?.file_type();
    let what = if file_type.is_file() || file_type.is_fifo() {
        None
    } else if file_type.is_dir() {
        Some("a directory")
    } else if file_type.is_char_device() {
        Some("a character device")
    } else if file_type.is_block_device() {
        Some("a block device")
    } else if file_type.is_socket() {
        Some("a socket")
    } else {
        Some("not a file")
    };
    if let Some(what) = what {
        return Err(refuse(LimitError::NotRegularFile {
            path: shown,
            what,
            kind: kind.describe(),
        }));
    }
    let max = kind.max_bytes();
    let too_large = || LimitError::FileTooLarge {
        path: shown.clone(),
        kind: kind.describe(),
        limit: kind.limit_name(),
        max: human_bytes(max),
    };
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(refuse(too_large()));
    }
    String::from_utf8(bytes).map_err(|_| {
        refuse(LimitError::NotText {
            path: shown.clone(),
            kind: kind.describe(),
        })
    })
}

/// [`read_text`], then [`check_yaml`]: for the YAML kinds (profiles, plans, journals).
pub fn read_yaml(path: &Path, kind: FileKind) -> io::Result<String> {
    let text = read_text(path, kind)?;
    check_yaml(&text).map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
    Ok(text)
}

/// Walks `text` as YAML without keeping anything, counting nodes (aliases expanded) and
/// nesting, and fails as soon as either passes its limit. Run before the typed
/// deserialisation, so that a file that passes cannot blow up. Text that is not valid YAML
/// passes here: the typed reader then says what is wrong with it, and where.
pub fn check_yaml(text: &str) -> Result<(), LimitError> {
    let mut budget = Budget {
        nodes: 0,
        depth: 0,
        exceeded: None,
    };
    let result = (&mut budget).deserialize(yaml_serde::Deserializer::from_str(text));
    if let Some(err) = budget.exceeded {
        return Err(err);
    }
    // The reader's own guards against the same attacks, said in the terms of our limits.
    // Other YAML errors are the typed reader's to report, with their line.
    match result.map_err(|err| err.to_string()) {
        Err(err) if err.contains("repetition limit exceeded") => {
            Err(LimitError::YamlTooManyNodes {
                max: MAX_YAML_NODES,
            })
        }
        Err(err) if err.contains("recursion limit exceeded") => Err(LimitError::YamlTooDeep {
            max: MAX_YAML_DEPTH,
        }),
        _ => Ok(()),
    }
}

/// Counts nodes and depth while visiting a YAML document; records which limit it passed.
struct Budget {
    nodes: usize,
    depth: usize,
    exceeded: Option<LimitError>,
}

impl Budget {
    fn enter<E: de::Error>(&mut self) -> Result<(), E> {
        self.nodes += 1;
        if self.nodes > MAX_YAML_NODES {
            self.exceeded = Some(LimitError::YamlTooManyNodes {
                max: MAX_YAML_NODES,
            });
        } else if self.depth > MAX_YAML_DEPTH {
            self.exceeded = Some(LimitError::YamlTooDeep {
                max: MAX_YAML_DEPTH,
            });
        }
        match &self.exceeded {
            Some(err) => Err(E::custom(err)),
            None => Ok(()),
        }
    }
}

impl<'de> DeserializeSeed<'de> for &mut Budget {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for &mut Budget {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.enter()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.enter()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.enter()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.enter()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.enter()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.enter()
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.enter()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        use de::VariantAccess;
        self.enter()?;
        let (_, variant) = data.variant::<de::IgnoredAny>()?;
        self.depth += 1;
        let result = variant.newtype_variant_seed(&mut *self);
        self.depth -= 1;
        result
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.enter()?;
        self.depth += 1;
        while seq.next_element_seed(&mut *self)?.is_some() {}
        self.depth -= 1;
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.enter()?;
        self.depth += 1;
        while map.next_key_seed(&mut *self)?.is_some() {
            map.next_value_seed(&mut *self)?;
        }
        self.depth -= 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn devices_and_directories_are_refused_before_reading() {
        for (path, what) in [("/dev/zero", "character device"), ("/tmp", "directory")] {
            let err = read_text(Path::new(path), FileKind::Profile).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            let text = err.to_string();
            assert!(
                text.contains(what) && text.contains("regular file"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_file_over_its_limit_names_the_limit() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&vec![b'#'; 256 * 1024 + 1]).unwrap();
        let err = read_text(file.path(), FileKind::Profile)
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_profile_size (256 KiB)"), "{err}");
        // The same file is fine as a topology, whose limit is larger.
        assert!(read_text(file.path(), FileKind::Topology).is_ok());
    }

    #[test]
    fn binary_is_not_text() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&[0xff, 0xfe, 0x00]).unwrap();
        let err = read_text(file.path(), FileKind::PinPlan)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not UTF-8"), "{err}");
    }

    /// The "billion laughs" of YAML: 500 scalars under 8 levels of 10 aliases each, 50
    /// billion nodes expanded, in 2.2 KiB.
    fn alias_bomb() -> String {
        let mut text = format!("a0: &a0 [{}]\n", vec!["x"; 500].join(","));
        for level in 1..9 {
            let prev = level - 1;
            let refs = vec![format!("*a{prev}"); 10].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        }
        text
    }

    #[test]
    fn alias_bombs_stop_at_the_node_limit_quickly() {
        let started = std::time::Instant::now();
        let err = check_yaml(&alias_bomb()).unwrap_err();
        assert_eq!(
            err,
            LimitError::YamlTooManyNodes {
                max: MAX_YAML_NODES
            }
        );
        assert!(err.to_string().contains("max_yaml_nodes"));
        assert!(started.elapsed() < Duration::from_secs(5));
        // A small bomb that the reader's own repetition guard stops first says the same.
        let small = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                     c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
                     e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
        assert!(check_yaml(small).is_err());
    }

    #[test]
    fn deep_nesting_stops_at_the_depth_limit() {
        let deep = format!("{}x{}", "[".repeat(40), "]".repeat(40));
        assert_eq!(
            check_yaml(&deep).unwrap_err(),
            LimitError::YamlTooDeep {
                max: MAX_YAML_DEPTH
            }
        );
        let fine = format!("{}x{}", "[".repeat(10), "]".repeat(10));
        assert!(check_yaml(&fine).is_ok());
    }

    #[test]
    fn real_files_pass_the_yaml_check() {
        for (name, text) in crate::profile::BUILTIN {
            assert!(check_yaml(text).is_ok(), "{name}");
        }
        assert!(check_yaml("").is_ok());
        assert!(
            check_yaml("not: [valid").is_ok(),
            "syntax is the reader's job"
        );
    }

    #[test]
    fn cpu_ids_vcpus_and_durations() {
        assert_eq!(check_cpu_id(4095, DEFAULT_MAX_CPU_ID, "4095"), Ok(4095));
        let err = check_cpu_id(4_000_000_000, DEFAULT_MAX_CPU_ID, "0-4000000000").unwrap_err();
        assert!(err.to_string().contains("max_cpu_id (4095"), "{err}");
        assert!(check_cpu_id(8, 7, "8")
            .unwrap_err()
            .to_string()
            .contains("this host"));
        assert!(check_vcpus(4_000_000_000, "4000000000").is_err());
        assert_eq!(check_vcpus(4, "4"), Ok(4));
        assert!(check_duration_secs(1e300, "huge").is_err());
        assert!(check_duration_secs(f64::NAN, "nan").is_err());
        assert_eq!(
            check_duration_secs(1.5, "1.5s"),
            Ok(Duration::from_millis(1500))
        );
    }
}
