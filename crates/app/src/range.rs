//! Single byte ranges (`Range: bytes=a-b`, `a-`, `-n`), resolved against an object's size
//! before the store is asked, so no adapter ever sees an impossible range.

/// A parsed, not yet resolved, `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// `bytes=start-` or `bytes=start-end`.
    From { start: u64, end: Option<u64> },
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

impl RangeRequest {
    /// Parses a `Range` header value. Anything that is not a single well-formed byte range
    /// (other units, several ranges) gives `None`, and the whole object is served, as RFC 9110
    /// allows.
    pub fn parse(header: &str) -> Option<Self> {
        let spec = header.trim().strip_prefix("bytes=")?.trim();
        if spec.contains(',') {
            return None;
        }
        let (start, end) = spec.split_once('-')?;
        let (start, end) = (start.trim(), end.trim());
        if start.is_empty() {
            return end.parse().ok().map(Self::Suffix);
        }
        let start = start.parse().ok()?;
        let end = if end.is_empty() {
            None
        } else {
            Some(end.parse().ok()?)
        };
        if end.is_some_and(|end| end < start) {
            return None;
        }
        Some(Self::From { start, end })
    }

    /// The inclusive byte range within an object of `size` bytes, or `None` when it is not
    /// satisfiable (416).
    pub fn resolve(self, size: u64) -> Option<(u64, u64)> {
        let last = size.checked_sub(1)?;
        match self {
            Self::From { start, end } if start <= last => {
                Some((start, end.map_or(last, |e| e.min(last))))
            }
            Self::From { .. } => None,
            Self::Suffix(0) => None,
            Self::Suffix(n) => Some((size.saturating_sub(n), last)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(
            RangeRequest::parse("bytes=0-9"),
            Some(RangeRequest::From {
                start: 0,
                end: Some(9)
            })
        );
        assert_eq!(
            RangeRequest::parse("bytes=5-"),
            Some(RangeRequest::From {
                start: 5,
                end: None
            })
        );
        assert_eq!(
            RangeRequest::parse("bytes=-3"),
            Some(RangeRequest::Suffix(3))
        );
        for ignored in [
            "items=0-1",
            "bytes=0-1,5-6",
            "bytes=9-1",
            "bytes=x-1",
            "bytes=-",
        ] {
            assert_eq!(RangeRequest::parse(ignored), None, "{ignored}");
        }
    }

    #[test]
    fn resolves_against_the_size() {
        let r = |h| RangeRequest::parse(h).unwrap();
        assert_eq!(r("bytes=0-9").resolve(5), Some((0, 4)));
        assert_eq!(r("bytes=4-").resolve(5), Some((4, 4)));
        assert_eq!(r("bytes=5-").resolve(5), None);
        assert_eq!(r("bytes=-2").resolve(5), Some((3, 4)));
        assert_eq!(r("bytes=-10").resolve(5), Some((0, 4)));
        assert_eq!(r("bytes=0-0").resolve(0), None);
    }
}
