//! The shipped profiles, and the messages a bad profile gets.

use remus_tune::profile::{load, value_lines, ProfileRequest, BUILTIN, COST_KEYS, LIMIT_KEYS};

fn request(profile: &str, host: Option<&str>, sets: &[&str]) -> ProfileRequest {
    ProfileRequest {
        profile: Some(profile.into()),
        host: host.map(Into::into),
        sets: sets.iter().map(|s| s.to_string()).collect(),
        link_bytes_per_s: None,
    }
}

#[test]
fn every_shipped_limits_profile_loads_on_every_host() {
    for profile in ["web", "database", "batch"] {
        for host in ["xen-4.17", "remus-2008"] {
            let p = load(&request(profile, Some(host), &[])).unwrap();
            assert_eq!(p.name, profile);
            assert_eq!(p.host, host);
            // Every cost is set, so every constant is listed with where it came from.
            for key in COST_KEYS {
                assert!(
                    p.constants.iter().any(|c| c.key == format!("costs.{key}")),
                    "{profile}/{host}: {key}"
                );
            }
        }
    }
}

#[test]
fn every_shipped_value_has_a_source_comment() {
    for (name, text) in BUILTIN {
        for (key, line) in value_lines(text) {
            if key == "description" || key == "kind" {
                continue;
            }
            assert!(
                line.comment.len() > 10,
                "{name}:{} `{key}` has no source comment",
                line.line
            );
        }
    }
}

#[test]
fn the_shipped_host_sets_carry_the_model_md_constants() {
    let old = load(&request("web", Some("remus-2008"), &[])).unwrap();
    assert!((old.costs.page_copy_s - 3.7e-6).abs() < 1e-12);
    assert!((old.costs.suspend_s - 0.6e-3).abs() < 1e-12);
    assert_eq!(
        old.costs.pause_policy,
        remus_tune::model::PausePolicy::Staging
    );
    assert_eq!(
        old.costs.interval_semantics,
        remus_tune::model::IntervalSemantics::Max
    );
    let xen = load(&request("web", None, &[])).unwrap();
    assert_eq!(xen.host, "xen-4.17");
    assert_eq!(
        xen.costs.pause_policy,
        remus_tune::model::PausePolicy::Stream
    );
    assert_eq!(
        xen.costs.interval_semantics,
        remus_tune::model::IntervalSemantics::AfterCommit
    );
    assert!((xen.costs.compression_ratio - 1.0).abs() < 1e-12);
    assert!(
        !load(&request("batch", None, &[]))
            .unwrap()
            .limits
            .network_buffering
    );
}

#[test]
fn overrides_win_and_say_so() {
    let p = load(&request(
        "web",
        None,
        &[
            "max_slowdown=15%",
            "network_buffering=false",
            "pause_policy=staging",
        ],
    ))
    .unwrap();
    assert_eq!(p.limits.max_slowdown, Some(0.15));
    assert!(!p.limits.network_buffering);
    assert_eq!(
        p.costs.pause_policy,
        remus_tune::model::PausePolicy::Staging
    );
    let c = p
        .constants
        .iter()
        .find(|c| c.key == "limits.max_slowdown")
        .unwrap();
    assert_eq!(
        (c.from.as_str(), c.value.as_str(), c.line),
        ("--set", "15%", None)
    );
}

fn error_of(body: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.yaml");
    std::fs::write(&path, body).unwrap();
    load(&request(&path.display().to_string(), None, &[]))
        .unwrap_err()
        .to_string()
}

#[test]
fn unknown_key_message() {
    let err = error_of(
        "kind: limits\nhost: xen-4.17\nlimits:\n  max_slowdown: 10%\n  max_slowdwn: 10%\n",
    );
    assert!(
        err.contains(
            "p.yaml: line 5, key `limits.max_slowdwn`: unknown key; expected one of max_slowdown"
        ),
        "{err}"
    );
    let err = error_of("kind: limits\nlimitz:\n  max_slowdown: 10%\n");
    assert!(
        err.contains("line 3, key `limitz.max_slowdown`: unknown key"),
        "{err}"
    );
}

#[test]
fn missing_unit_message() {
    let err = error_of("kind: limits\nlimits:\n  max_pause: 20\n");
    assert!(
        err.contains(
            "p.yaml: line 3, key `limits.max_pause`: `20` has no unit: write it as ns, us, ms"
        ),
        "{err}"
    );
}

#[test]
fn bad_value_messages() {
    let err = error_of("kind: limits\nlimits:\n  network_buffering: sometimes\n");
    assert!(
        err.contains("p.yaml")
            && err.contains("line 3")
            && err.contains("limits.network_buffering"),
        "{err}"
    );
    let err = error_of("kind: limits\nlimits:\n  max_slowdown: ten%\n");
    assert!(
        err.contains("line 3, key `limits.max_slowdown`: `ten%` is not a number"),
        "{err}"
    );
    let err = error_of("kind: limits\nlimits:\n  max_pause: 20 fortnights\n");
    assert!(err.contains("unknown unit `fortnights`"), "{err}");
    let bad_set = load(&request("web", None, &["link=-1Gbit/s"]))
        .unwrap_err()
        .to_string();
    assert!(
        bad_set.contains("--set link=-1Gbit/s") && bad_set.contains("negative"),
        "{bad_set}"
    );
    assert!(LIMIT_KEYS.contains(&"max_slowdown"));
}
