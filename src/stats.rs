//! The statistics every layer shares: nearest-rank quantiles of per-checkpoint values, and the
//! confidence margin of a sampled count. Pure functions over numbers, so `summary`, the model
//! and the sampling scanner agree on them without importing one another.

/// The `q` quantile (0..=1) of `values` by nearest rank (the smallest value with at least
/// `q` of the values at or below it); 0 for no values. Reorders `values`.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1;
    let (_, value, _) = values.select_nth_unstable_by(rank, |a, b| a.total_cmp(b));
    *value
}

/// The `q` quantile of weighted values (each standing for `weight` values) by nearest rank;
/// the same as `quantile` when every weight is 1.
pub fn weighted_quantile(values: &mut [(f64, u64)], q: f64) -> f64 {
    let total: u64 = values.iter().map(|v| v.1).sum();
    if total == 0 {
        return 0.0;
    }
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut seen = 0;
    for &(value, weight) in values.iter() {
        seen += weight;
        if seen >= rank {
            return value;
        }
    }
    values.last().map_or(0.0, |v| v.0)
}

/// 95 % confidence margin, in pages, of an estimate from `hits` dirty pages out of `n`
/// sampled from a frame of `frame` pages (normal approximation to the hypergeometric, with
/// the finite-population correction: a sample of the whole frame has no error).
pub fn margin_95(hits: f64, n: u64, frame: u64) -> f64 {
    if n == 0 || frame <= 1 {
        return 0.0;
    }
    let p = (hits / n as f64).clamp(0.0, 1.0);
    let fpc = (frame - n.min(frame)) as f64 / (frame - 1) as f64;
    1.96 * frame as f64 * (p * (1.0 - p) / n as f64 * fpc).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&mut v, 0.5), 50.0);
        assert_eq!(quantile(&mut v, 0.95), 95.0);
        assert_eq!(quantile(&mut v, 1.0), 100.0);
        assert_eq!(quantile(&mut [7.0], 0.95), 7.0);
        assert_eq!(quantile(&mut [], 0.5), 0.0);
        // Order does not matter.
        assert_eq!(quantile(&mut [3.0, 1.0, 2.0], 0.5), 2.0);
    }

    #[test]
    fn margins_narrow_with_the_sample_and_vanish_for_the_whole_frame() {
        let wide = margin_95(10.0, 100, 100_000);
        let narrow = margin_95(100.0, 1000, 100_000);
        assert!(narrow < wide, "{narrow} >= {wide}");
        assert_eq!(margin_95(50.0, 1000, 1000), 0.0);
        assert_eq!(margin_95(0.0, 0, 1000), 0.0);
    }
}
