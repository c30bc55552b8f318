//! Sequence sets (RFC 9051 section 9, `sequence-set`): message numbers or UIDs, ranges, `*`
//! for the largest in use, and SEARCHRES's `$` (RFC 5182) for the last saved search result.

use crate::ParseError;
use crate::cursor::Cursor;

/// One end of a range: a number, or `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Num(u32),
    Star,
}

impl Bound {
    fn resolve(self, largest: u32) -> u32 {
        match self {
            Bound::Num(n) => n,
            Bound::Star => largest,
        }
    }
}

/// Ranges one set may hold; clients send compact sets, this bounds the work of resolving one.
const MAX_RANGES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceSet {
    Ranges(Vec<(Bound, Bound)>),
    /// `$`: the result saved by the last `SEARCH RETURN (SAVE)`.
    Saved,
}

impl SequenceSet {
    /// The ranges as closed `(low, high)` pairs, `*` taken as `largest` (RFC 9051: `*` is the
    /// largest number in use; on an empty mailbox a range with `*` matches nothing there).
    pub fn ranges(&self, largest: u32) -> Vec<(u32, u32)> {
        match self {
            SequenceSet::Saved => Vec::new(),
            SequenceSet::Ranges(r) => r
                .iter()
                .map(|(a, b)| {
                    let (a, b) = (a.resolve(largest), b.resolve(largest));
                    (a.min(b), a.max(b))
                })
                .collect(),
        }
    }

    pub fn contains(&self, n: u32, largest: u32) -> bool {
        self.ranges(largest)
            .iter()
            .any(|(lo, hi)| (*lo..=*hi).contains(&n))
    }

    /// Whether any range names `*`.
    pub fn has_star(&self) -> bool {
        match self {
            SequenceSet::Saved => false,
            SequenceSet::Ranges(r) => r
                .iter()
                .any(|(a, b)| *a == Bound::Star || *b == Bound::Star),
        }
    }

    pub(crate) fn parse(c: &mut Cursor<'_>) -> Result<SequenceSet, ParseError> {
        if c.eat(b'$') {
            return Ok(SequenceSet::Saved);
        }
        let mut ranges = Vec::new();
        loop {
            let a = bound(c)?;
            let b = if c.eat(b':') { bound(c)? } else { a };
            ranges.push((a, b));
            if ranges.len() > MAX_RANGES {
                return Err(ParseError::Syntax(
                    "too many ranges in the sequence set".into(),
                ));
            }
            if !c.eat(b',') {
                return Ok(SequenceSet::Ranges(ranges));
            }
        }
    }
}

fn bound(c: &mut Cursor<'_>) -> Result<Bound, ParseError> {
    if c.eat(b'*') {
        return Ok(Bound::Star);
    }
    Ok(Bound::Num(c.nz_number()?))
}

/// Writes numbers as a compact sequence set (`1:3,7`), for UIDPLUS and ESEARCH answers.
pub fn compact(numbers: &[u32]) -> String {
    let mut sorted = numbers.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    ordered(&sorted)
}

/// Writes numbers in the given order, pairing each with its partner (COPYUID's source and
/// destination sets must keep order, so runs are only merged when both ascend together).
pub fn ordered(numbers: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        let mut end = start;
        while i + 1 < numbers.len() && numbers[i + 1] == end + 1 {
            i += 1;
            end = numbers[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> SequenceSet {
        SequenceSet::parse(&mut Cursor::new(s.as_bytes())).unwrap()
    }

    #[test]
    fn ranges_resolve_star_and_reversed_bounds() {
        assert_eq!(set("1:3,7,9:*").ranges(12), vec![(1, 3), (7, 7), (9, 12)]);
        assert_eq!(set("*:4").ranges(2), vec![(2, 4)]);
        assert!(set("2:4").contains(3, 10));
        assert!(!set("2:4").contains(5, 10));
        assert_eq!(set("$"), SequenceSet::Saved);
    }

    #[test]
    fn zero_is_not_a_message_number() {
        assert!(SequenceSet::parse(&mut Cursor::new(b"0:5")).is_err());
    }

    #[test]
    fn numbers_compact_into_ranges() {
        assert_eq!(compact(&[5, 1, 2, 3, 9]), "1:3,5,9");
        assert_eq!(ordered(&[3, 1, 2]), "3,1:2");
    }
}
