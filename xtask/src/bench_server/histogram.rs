//! A log-bucketed latency histogram, written here rather than taken from
//! `hdrhistogram`: the benchmark needs only record, merge and quantile, which
//! fit in a page, and the bucket arithmetic is worth seeing.
//!
//! Values are microseconds. Below [`SUB_BUCKETS`] every value has its own
//! bucket; above, each power of two is split into [`SUB_BUCKETS`] equal
//! buckets, so a reported quantile is within 1/64 (1.6 %) of the true value,
//! at any magnitude, with a fixed 2,000-odd counters per histogram. Merging
//! the histograms of several connections is adding their counters.

/// Buckets per power of two (and the number of exact buckets below it).
const SUB_BUCKETS: u64 = 64;
const SUB_BUCKET_BITS: u32 = SUB_BUCKETS.trailing_zeros();
/// Largest value kept exactly in range: about 19 hours in microseconds;
/// anything longer is counted in the last bucket.
const VALUE_BITS_MAX: u32 = 36;
const BUCKETS: usize = ((VALUE_BITS_MAX - SUB_BUCKET_BITS + 1) as usize) * SUB_BUCKETS as usize;

#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }
}

/// The bucket of a value: exact below 64, then 64 buckets per octave.
fn index_of(value: u64) -> usize {
    let value = value.min((1 << VALUE_BITS_MAX) - 1);
    if value < SUB_BUCKETS {
        return value as usize;
    }
    let octave = 63 - value.leading_zeros() - SUB_BUCKET_BITS;
    let sub = (value >> octave) - SUB_BUCKETS;
    ((octave as u64 + 1) * SUB_BUCKETS + sub) as usize
}

/// The smallest and largest value that land in bucket `index`.
fn bounds_of(index: usize) -> (u64, u64) {
    let index = index as u64;
    if index < SUB_BUCKETS {
        return (index, index);
    }
    let octave = index / SUB_BUCKETS - 1;
    let sub = index % SUB_BUCKETS;
    let low = (SUB_BUCKETS + sub) << octave;
    (low, low + (1 << octave) - 1)
}

impl Histogram {
    pub fn record(&mut self, micros: u64) {
        if let Some(count) = self.counts.get_mut(index_of(micros)) {
            *count += 1;
        }
        self.total += 1;
        self.max = self.max.max(micros);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The value at quantile `q` (0.5 = median), as the middle of its bucket,
    /// never above the largest value recorded, which is what the top rank
    /// gives; 0 for an empty histogram.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        if rank >= self.total {
            return self.max;
        }
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, high) = bounds_of(index);
                return (low + (high - low) / 2).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_cover_the_range() {
        let mut expected_low = 0;
        for index in 0..BUCKETS {
            let (low, high) = bounds_of(index);
            assert_eq!(low, expected_low, "bucket {index}");
            assert!(high >= low);
            assert_eq!(index_of(low), index);
            assert_eq!(index_of(high), index);
            expected_low = high + 1;
        }
        assert_eq!(expected_low, 1 << VALUE_BITS_MAX);
    }

    #[test]
    fn quantiles_are_within_one_sixty_fourth() {
        let mut histogram = Histogram::default();
        for value in 1..=100_000 {
            histogram.record(value);
        }
        for (q, exact) in [(0.5, 50_000.0), (0.99, 99_000.0), (0.999, 99_900.0)] {
            let got = histogram.quantile(q) as f64;
            assert!(
                (got - exact).abs() / exact <= 1.0 / 64.0,
                "q {q}: {got} vs {exact}"
            );
        }
        assert_eq!(histogram.quantile(1.0), 100_000);
    }

    #[test]
    fn small_values_are_exact_and_merging_adds() {
        let mut a = Histogram::default();
        let mut b = Histogram::default();
        a.record(3);
        b.record(7);
        b.record(7);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.quantile(0.0), 3);
        assert_eq!(a.quantile(0.5), 7);
        assert_eq!(Histogram::default().quantile(0.5), 0);
    }

    #[test]
    fn huge_values_land_in_the_last_bucket() {
        let mut histogram = Histogram::default();
        for _ in 0..10 {
            histogram.record(u64::MAX);
        }
        assert_eq!(histogram.count(), 10);
        assert_eq!(histogram.quantile(1.0), u64::MAX);
        let (low, high) = bounds_of(BUCKETS - 1);
        assert_eq!(histogram.quantile(0.5), low + (high - low) / 2);
    }
}
