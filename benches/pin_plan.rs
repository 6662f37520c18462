//! How long planning takes on a large host: 256 CPUs (4 sockets × 32 cores × 2 threads,
//! 4 NUMA nodes) with 40 protected VMs and 10 unprotected ones. The planner runs once per
//! `remus-tune pin`, so anything under a millisecond is invisible to the user; this guards
//! against accidental quadratic blow-ups as the planner grows.

use criterion::{criterion_group, criterion_main, Criterion};
use remus_tune::pin::{plan, DomainSpec, Policy, DOM0};
use remus_tune::topology::{Cpu, Topology};
use std::hint::black_box;

fn big_host() -> Topology {
    let mut cpus = Vec::new();
    for socket in 0..4u32 {
        for core in 0..32u32 {
            for thread in 0..2u32 {
                // Siblings numbered apart, as on many Intel servers.
                let id = thread * 128 + socket * 32 + core;
                cpus.push(Cpu {
                    id,
                    core,
                    socket,
                    node: socket,
                    l3: Some(socket),
                });
            }
        }
    }
    Topology::new("bench", cpus, &[]).expect("valid topology")
}

fn domains() -> Vec<DomainSpec> {
    let mut out = vec![DomainSpec {
        name: DOM0.into(),
        vcpus: 8,
        protected: false,
    }];
    for i in 0..40u32 {
        out.push(DomainSpec {
            name: format!("vm{i}"),
            vcpus: 1 + i % 4,
            protected: true,
        });
    }
    for i in 0..10u32 {
        out.push(DomainSpec {
            name: format!("other{i}"),
            vcpus: 2,
            protected: false,
        });
    }
    out
}

fn bench(c: &mut Criterion) {
    let topo = big_host();
    let doms = domains();
    let policy = Policy::default();
    c.bench_function("plan 256 CPUs, 50 domains", |b| {
        b.iter(|| plan(black_box(&topo), black_box(&doms), &policy))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
