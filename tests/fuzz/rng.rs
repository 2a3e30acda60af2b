//! SplitMix64: a few lines, no dependency, and every input is reproducible from
//! (seed, iteration) alone, whatever thread or order it ran in.

/// A seeded pseudo-random generator (not for cryptography).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// The generator for one input: seed and iteration mixed, so neighbouring
    /// iterations do not share a stream.
    pub fn for_input(seed: u64, iteration: u64) -> Self {
        let mut r = Rng(seed ^ iteration.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next_u64();
        Rng(r.next_u64() ^ iteration)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// In `1..=max`, small values more likely (a uniform bound, then uniform below it).
    pub fn skewed(&mut self, max: usize) -> usize {
        let bound = self.range(1, max);
        self.range(1, bound)
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }

    /// A random element of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

#[test]
fn same_seed_and_iteration_give_the_same_stream() {
    let a: Vec<u64> = {
        let mut r = Rng::for_input(7, 3);
        (0..4).map(|_| r.next_u64()).collect()
    };
    let mut r = Rng::for_input(7, 3);
    assert_eq!(a, (0..4).map(|_| r.next_u64()).collect::<Vec<_>>());
    assert_ne!(Rng::for_input(7, 4).next_u64(), a[0]);
}
