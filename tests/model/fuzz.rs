//! Property "fuzzing" of the readers: arbitrary bytes and mutated valid files never panic the
//! trace reader, the profile reader or the model; they give an error or a result.

use crate::model_common;
use model_common as common;
use proptest::prelude::*;
use remus_tune::chart::{render_svg, ChartData, ChartKind};
use remus_tune::model::{predict, ModelOptions};
use remus_tune::profile::{load, parse_text, ProfileRequest, BUILTIN};
use remus_tune::trace::read_trace;
use std::sync::OnceLock;

fn valid_trace() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.trace.yaml");
        common::write_trace(&path, 25, 40, 30.0, 4096);
        std::fs::read_to_string(&path).unwrap()
    })
}

/// Replaces `len` bytes at `at` (clamped to a char boundary) by `with`.
fn mutate(text: &str, at: usize, len: usize, with: &str) -> String {
    let mut start = at % (text.len() + 1);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (start + len).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    format!("{}{}{}", &text[..start], with, &text[end..])
}

fn model_trace_text(text: &str, charts: bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.trace.yaml");
    std::fs::write(&path, text).unwrap();
    if let Ok(trace) = read_trace(&path) {
        let profile = load(&ProfileRequest::default()).unwrap();
        if let Ok(report) = predict(&trace, &profile, &ModelOptions::default()) {
            if charts {
                let data = ChartData::new(&trace, &report);
                for kind in ChartKind::ALL {
                    let _ = render_svg(kind, &data);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_the_readers(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_text(&text, "fuzz.yaml");
        model_trace_text(&text, false);
    }

    #[test]
    fn mutated_traces_never_panic(at in 0usize..4000, len in 0usize..40, with in "[-0-9a-z:{}\\[\\], .\"\n]{0,12}") {
        model_trace_text(&mutate(valid_trace(), at, len, &with), true);
    }

    #[test]
    fn mutated_profiles_never_panic(which in 0usize..5, at in 0usize..3000, len in 0usize..20, with in "[-0-9a-zA-Z:%/ .#\n]{0,12}") {
        let text = mutate(BUILTIN[which].1, at, len, &with);
        let _ = parse_text(&text, "fuzz.yaml");
    }
}

proptest! {
    // Each case draws six charts: fewer cases keep the suite quick on two cores.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_sized_workload_models_and_charts(base in 1u64..60, epochs in 0u64..70, pages in 0.0f64..2e6, write in 0u64..2_000_000_000) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.trace.yaml");
        common::write_trace(&path, base, epochs, pages, write);
        model_trace_text(&std::fs::read_to_string(&path).unwrap(), true);
    }
}
