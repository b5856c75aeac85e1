//! Sums kept per period of a shared schedule grid (see
//! `almanac_core::GridWindow`). Most instruments' pay dates are a window of
//! a grid that thousands of others share, so their flows can be added to
//! consecutive sums, one per grid period, with no lookup per flow; the sums
//! are dated and merged with the rest only when they are emitted.

use almanac_core::GridWindow;

/// DataFusion's map (hashbrown with foldhash): fast on the packed u64 keys.
type KeyMap = datafusion::common::HashMap<u64, u32>;

/// Grids numbered beyond this are summed by date instead (a book would need
/// every roll day, step, phase, rule and day count many times over).
const GRID_BITS: u32 = 24;

/// One key group's sums under one scenario slot over one grid's periods.
pub(crate) struct GridSums {
    pub group: u32,
    pub grid: u32,
    /// The scenario slot, as `Presum`'s blocks number them.
    pub slot: u64,
    /// `[grid period][amount]`, `width` amounts per period.
    pub sums: Vec<f64>,
    /// Grid periods that received a flow: a sum of zero is still a row.
    touched: Vec<u64>,
    pub width: usize,
}

impl GridSums {
    /// The sums of periods `first..first + n`, marked as received (grown if need be).
    /// Returns the bytes newly allocated.
    fn open(&mut self, first: usize, n: usize) -> usize {
        let end = first + n;
        let mut grown = 0;
        if self.sums.len() < end * self.width {
            grown += (end * self.width - self.sums.len()) * 8;
            self.sums.resize(end * self.width, 0.0);
        }
        let words = end.div_ceil(64);
        if self.touched.len() < words {
            grown += (words - self.touched.len()) * 8;
            self.touched.resize(words, 0);
        }
        mark_range(&mut self.touched, first, end);
        grown
    }

    /// The periods that received a flow, with their sums.
    pub fn received(&self) -> impl Iterator<Item = (usize, &[f64])> + '_ {
        self.touched.iter().enumerate().flat_map(move |(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let i = w * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    (i, &self.sums[i * self.width..(i + 1) * self.width])
                })
            })
        })
    }
}

/// Sets bits `from..to` of a bit set, a word at a time.
fn mark_range(words: &mut [u64], from: usize, to: usize) {
    let mut i = from;
    while i < to {
        let (word, bit) = (i / 64, i % 64);
        let n = (to - i).min(64 - bit);
        let mask = if n == 64 {
            u64::MAX
        } else {
            ((1u64 << n) - 1) << bit
        };
        words[word] |= mask;
        i += n;
    }
}

/// Every (group, grid, slot)'s sums.
#[derive(Default)]
pub(crate) struct GridSumsSet {
    index: KeyMap,
    pub sums: Vec<GridSums>,
    last: Option<(u64, usize)>,
}

impl GridSumsSet {
    /// The sums of `window`'s next `n` periods for (group, slot), `width`
    /// amounts each; `None` if the grid's number does not fit the key. Adds the
    /// bytes allocated to `bytes`.
    pub fn window(
        &mut self,
        group: u32,
        slot: u64,
        window: GridWindow,
        n: usize,
        width: usize,
        bytes: &mut usize,
    ) -> Option<&mut [f64]> {
        if window.grid >= 1 << GRID_BITS || slot >= 1 << 16 {
            return None;
        }
        let key = (u64::from(group) << (GRID_BITS + 16)) | (u64::from(window.grid) << 16) | slot;
        let at = match self.last {
            Some((last_key, at)) if last_key == key => at,
            _ => {
                let next = self.sums.len();
                let at = *self.index.entry(key).or_insert(next as u32) as usize;
                if at == next {
                    self.sums.push(GridSums {
                        group,
                        grid: window.grid,
                        slot,
                        sums: Vec::new(),
                        touched: Vec::new(),
                        width,
                    });
                }
                self.last = Some((key, at));
                at
            }
        };
        let sums = &mut self.sums[at];
        *bytes += sums.open(window.first, n);
        Some(&mut sums.sums[window.first * width..(window.first + n) * width])
    }

    pub fn is_empty(&self) -> bool {
        self.sums.is_empty()
    }

    /// Takes every grid's sums, leaving the set empty.
    pub fn take(&mut self) -> Vec<GridSums> {
        self.index.clear();
        self.last = None;
        std::mem::take(&mut self.sums)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_ranges_set_exactly_their_bits() {
        for (from, to) in [
            (0, 0),
            (0, 1),
            (3, 64),
            (0, 64),
            (63, 65),
            (5, 200),
            (64, 128),
        ] {
            let mut words = vec![0u64; 4];
            mark_range(&mut words, from, to);
            for i in 0..256 {
                let set = words[i / 64] >> (i % 64) & 1 == 1;
                assert_eq!(set, (from..to).contains(&i), "{from}..{to}: bit {i}");
            }
        }
    }
}
