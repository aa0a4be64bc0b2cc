//! The fuzzer's source of randomness: splitmix64, seeded per case.
//!
//! Every case draws from its own generator, seeded by one `u64`. A finding
//! therefore replays from that number alone, with no regression file and
//! no dependence on the cases run before it (the HTTP target's fixture
//! tables are recreated the same way on every start).

/// Added to the state at every step (the golden ratio in 64 bits).
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A small, fast, seedable generator. Not for cryptography: only for
/// choosing inputs reproducibly.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix(self.state)
    }

    /// A number in `0..n`; 0 when `n` is 0, so callers never divide by it.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `numerator / denominator`.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        denominator > 0 && self.next_u64() % denominator < numerator
    }

    /// One element of a non-empty slice (the first one of an empty slice
    /// is never asked for: every table below is a constant).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let index = self.below(items.len());
        &items[index]
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        let span = high.wrapping_sub(low) as u64;
        let offset = if span == u64::MAX {
            self.next_u64()
        } else {
            self.next_u64() % (span + 1)
        };
        low.wrapping_add(offset as i64)
    }
}

/// splitmix64's output function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of case `index` of a run seeded with `run_seed`. Case 0 uses
/// the run seed itself, so `--seed <case seed> --cases 1` replays any case.
pub fn case_seed(run_seed: u64, index: u64) -> u64 {
    if index == 0 {
        run_seed
    } else {
        mix(run_seed ^ index.wrapping_mul(GOLDEN_GAMMA))
    }
}
