//! A set of CPU numbers, read and written in the list syntax that `xl`, Linux
//! (`Cpus_allowed_list`, `taskset -c`) and libvirt share: `0,8` or `2-3,10-11`.
//!
//! Xen's `xl` also prints `all` (every CPU up to `max_cpu_id`) and `none`; those words need
//! the host's CPU count to mean anything, so they are resolved by [`CpuList::parse_with_all`]
//! and kept out of the plain parser. The `^` and `node:` forms of `xl vcpu-pin` are input-only
//! conveniences that we never need to read back, so they are rejected with a clear message.

use crate::limits::{check_cpu_id, DEFAULT_MAX_CPU_ID};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;

/// Why a CPU list could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpuListError {
    #[error(
        "`{text}` is not a CPU list: expected numbers and ranges such as `0,8` or `2-3,10-11`"
    )]
    Syntax { text: String },
    #[error("`{text}` has a range that runs backwards (`{item}`): write the low CPU first")]
    Backwards { text: String, item: String },
    #[error("`{text}` says `all`, which needs the host's CPU count: give the CPUs explicitly")]
    AllWithoutHost { text: String },
    #[error(transparent)]
    Limit(#[from] crate::limits::LimitError),
}

/// An ordered set of CPU numbers (physical CPUs on Xen, Linux CPUs elsewhere).
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CpuList(BTreeSet<u32>);

impl CpuList {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `0,8`, `2-3,10-11` or an empty string / `none` (the empty set). CPU numbers
    /// above [`DEFAULT_MAX_CPU_ID`] are refused before any range is expanded.
    pub fn parse(text: &str) -> Result<Self, CpuListError> {
        Self::parse_inner(text, None, DEFAULT_MAX_CPU_ID)
    }

    /// Like [`CpuList::parse`], with the host's own highest CPU id as the limit.
    pub fn parse_with_max(text: &str, max_cpu_id: u32) -> Result<Self, CpuListError> {
        Self::parse_inner(text, None, max_cpu_id.min(DEFAULT_MAX_CPU_ID))
    }

    /// Like [`CpuList::parse`], but also accepts `all` (and xl ≤ 4.3's `any cpu`) as every
    /// CPU from 0 to `cpu_count - 1`, as `xl`'s `print_bitmap` means it.
    pub fn parse_with_all(text: &str, cpu_count: u32) -> Result<Self, CpuListError> {
        Self::parse_inner(text, Some(cpu_count), DEFAULT_MAX_CPU_ID)
    }

    fn parse_inner(text: &str, all: Option<u32>, max: u32) -> Result<Self, CpuListError> {
        let trimmed = text.trim();
        let mut set = BTreeSet::new();
        if trimmed.is_empty() || trimmed == "none" {
            return Ok(Self(set));
        }
        if trimmed == "all" || trimmed == "any cpu" {
            return match all {
                Some(n) => {
                    if n > 0 {
                        check_cpu_id(u64::from(n) - 1, DEFAULT_MAX_CPU_ID, text)?;
                    }
                    Ok(Self((0..n).collect()))
                }
                None => Err(CpuListError::AllWithoutHost { text: text.into() }),
            };
        }
        let syntax = || CpuListError::Syntax { text: text.into() };
        for item in trimmed.split(',') {
            let item = item.trim();
            // Parsed wide and checked against the limit before a range is expanded: a
            // hostile `0-4000000000` must cost nothing.
            let number = |s: &str| -> Result<u32, CpuListError> {
                let wide = s.trim().parse::<u64>().map_err(|_| syntax())?;
                Ok(check_cpu_id(wide, max, text)?)
            };
            match item.split_once('-') {
                Some((lo, hi)) => {
                    let (lo, hi) = (number(lo)?, number(hi)?);
                    if lo > hi {
                        return Err(CpuListError::Backwards {
                            text: text.into(),
                            item: item.into(),
                        });
                    }
                    set.extend(lo..=hi);
                }
                None => {
                    set.insert(number(item)?);
                }
            }
        }
        Ok(Self(set))
    }

    pub fn insert(&mut self, cpu: u32) {
        self.0.insert(cpu);
    }

    pub fn contains(&self, cpu: u32) -> bool {
        self.0.contains(&cpu)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().copied()
    }

    pub fn first(&self) -> Option<u32> {
        self.0.first().copied()
    }

    pub fn union(&self, other: &CpuList) -> CpuList {
        Self(self.0.union(&other.0).copied().collect())
    }

    pub fn intersection(&self, other: &CpuList) -> CpuList {
        Self(self.0.intersection(&other.0).copied().collect())
    }

    pub fn difference(&self, other: &CpuList) -> CpuList {
        Self(self.0.difference(&other.0).copied().collect())
    }

    pub fn is_disjoint(&self, other: &CpuList) -> bool {
        self.0.is_disjoint(&other.0)
    }

    pub fn is_subset(&self, other: &CpuList) -> bool {
        self.0.is_subset(&other.0)
    }
}

impl FromIterator<u32> for CpuList {
    fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// Prints the shortest list: runs of three or more become `a-b`, two neighbours stay `a-b`
/// too (as xl prints them), the empty set is `none`.
impl fmt::Display for CpuList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let mut parts = Vec::new();
        let mut iter = self.0.iter().copied().peekable();
        while let Some(start) = iter.next() {
            let mut end = start;
            while iter.peek() == Some(&(end + 1)) {
                end = iter.next().unwrap_or(end);
            }
            parts.push(if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            });
        }
        f.write_str(&parts.join(","))
    }
}

impl fmt::Debug for CpuList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CpuList({self})")
    }
}

impl Serialize for CpuList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

/// Accepts a string (`"0,8"`), a bare number (YAML reads `3` as an integer) or a list of
/// numbers (`xl list -l`'s `[4,5,6,7]`).
impl<'de> Deserialize<'de> for CpuList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            One(u32),
            Many(Vec<u64>),
        }
        let checked = |cpu: u64| {
            check_cpu_id(cpu, DEFAULT_MAX_CPU_ID, &cpu.to_string())
                .map_err(serde::de::Error::custom)
        };
        match Raw::deserialize(deserializer)? {
            Raw::Text(text) => CpuList::parse(&text).map_err(serde::de::Error::custom),
            Raw::One(cpu) => Ok(std::iter::once(checked(cpu.into())?).collect()),
            Raw::Many(cpus) => cpus.into_iter().map(checked).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_xl_syntax() {
        for text in ["0", "0,8", "2-3,10-11", "0-7", "1,3,5", "none"] {
            assert_eq!(CpuList::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(CpuList::parse("3,1,2").unwrap().to_string(), "1-3");
        assert_eq!(CpuList::parse(" 0 , 4-5 ").unwrap().to_string(), "0,4-5");
    }

    #[test]
    fn all_needs_a_cpu_count() {
        assert!(matches!(
            CpuList::parse("all"),
            Err(CpuListError::AllWithoutHost { .. })
        ));
        assert_eq!(
            CpuList::parse_with_all("all", 4).unwrap().to_string(),
            "0-3"
        );
        assert_eq!(
            CpuList::parse_with_all("any cpu", 2).unwrap().to_string(),
            "0-1"
        );
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        assert!(matches!(
            CpuList::parse("3-1"),
            Err(CpuListError::Backwards { .. })
        ));
        assert!(matches!(
            CpuList::parse("x"),
            Err(CpuListError::Syntax { .. })
        ));
        assert!(matches!(
            CpuList::parse("1,^2"),
            Err(CpuListError::Syntax { .. })
        ));
        assert!(matches!(
            CpuList::parse("node:0"),
            Err(CpuListError::Syntax { .. })
        ));
    }

    #[test]
    fn huge_ranges_are_refused_before_expansion() {
        let started = std::time::Instant::now();
        for text in ["0-4000000000", "4096", "1,99999999999", "0-4294967295"] {
            let err = CpuList::parse(text).unwrap_err().to_string();
            assert!(err.contains("max_cpu_id (4095"), "{text}: {err}");
        }
        assert_eq!(CpuList::parse("0-4095").unwrap().len(), 4096);
        let err = CpuList::parse_with_max("0-8", 7).unwrap_err().to_string();
        assert!(err.contains("CPU 8") && err.contains("this host"), "{err}");
        assert!(CpuList::parse_with_all("all", 4_000_000_000).is_err());
        let err = yaml_serde::from_str::<CpuList>("[1, 4000000000]").unwrap_err();
        assert!(err.to_string().contains("max_cpu_id"), "{err}");
        let err = yaml_serde::from_str::<CpuList>("'0-4000000000'").unwrap_err();
        assert!(err.to_string().contains("max_cpu_id"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn deserializes_strings_numbers_and_arrays() {
        let v: Vec<CpuList> = yaml_serde::from_str("- \"0,8\"\n- 3\n- [4, 5, 6]\n").unwrap();
        let shown: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["0,8", "3", "4-6"]);
    }
}
