//! A place in an account's file space: a list of segments, each checked once here, so that
//! nothing a client builds can name a place outside the space or a name that could not be
//! written back in an answer.

use crate::FilesError;

/// Deepest folder nesting.
pub const MAX_DEPTH: usize = 32;
/// Longest segment, in bytes (what common file systems allow).
const MAX_SEGMENT: usize = 255;
/// Longest path, in bytes.
const MAX_PATH: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FilePath {
    segments: Vec<String>,
}

impl FilePath {
    /// The space itself.
    pub fn root() -> FilePath {
        FilePath::default()
    }

    /// Decoded segments. A segment that is empty, `.` or `..`, holds a slash, a backslash or
    /// a control character, or is too long, is refused, as is a path too deep or too long.
    pub fn new(segments: Vec<String>) -> Result<FilePath, FilesError> {
        if segments.len() > MAX_DEPTH {
            return Err(FilesError::Invalid(format!(
                "folders nest at most {MAX_DEPTH} deep"
            )));
        }
        let mut total = 0;
        for s in &segments {
            if s.is_empty()
                || s == "."
                || s == ".."
                || s.len() > MAX_SEGMENT
                || s.chars().any(|c| c == '/' || c == '\\' || c.is_control())
            {
                return Err(FilesError::Invalid(format!("'{s}' is not a file name")));
            }
            total += s.len() + 1;
        }
        if total > MAX_PATH {
            return Err(FilesError::Invalid("the path is too long".into()));
        }
        Ok(FilePath { segments })
    }

    /// The key the store keeps it under: the segments joined by `/`.
    pub(crate) fn from_key(key: &str) -> FilePath {
        FilePath {
            segments: key
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    pub fn key(&self) -> String {
        self.segments.join("/")
    }

    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// The folder it is in (the space for the top level); none for the space.
    pub fn parent(&self) -> Option<FilePath> {
        let (_, rest) = self.segments.split_last()?;
        Some(FilePath {
            segments: rest.to_vec(),
        })
    }

    /// Whether `other` is this place or below it.
    pub fn contains(&self, other: &FilePath) -> bool {
        other.segments.starts_with(&self.segments)
    }

    /// This place's counterpart under `to` for something at `inner` below `self`.
    pub(crate) fn rebase(&self, inner: &FilePath, to: &FilePath) -> FilePath {
        let mut segments = to.segments.clone();
        segments.extend_from_slice(&inner.segments[self.segments.len()..]);
        FilePath { segments }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[&str]) -> Result<FilePath, FilesError> {
        FilePath::new(s.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn names_are_checked_and_places_relate() {
        for bad in [
            &[".."][..],
            &["a", "."],
            &["a/b"],
            &["a\\b"],
            &[""],
            &["a\u{0}"],
        ] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
        assert!(p(&["x".repeat(256).as_str()]).is_err());
        assert!(FilePath::new(vec!["a".into(); 33]).is_err());
        let a = p(&["a", "b c", "€"]).unwrap();
        assert_eq!(a.key(), "a/b c/€");
        assert_eq!(FilePath::from_key(&a.key()), a);
        assert_eq!(a.parent().unwrap().key(), "a/b c");
        assert!(FilePath::root().contains(&a));
        assert!(p(&["a"]).unwrap().contains(&a));
        assert!(!p(&["a", "b"]).unwrap().contains(&a));
        let moved = p(&["a"]).unwrap().rebase(&a, &p(&["z"]).unwrap());
        assert_eq!(moved.key(), "z/b c/€");
        assert_eq!(FilePath::root().parent(), None);
    }
}
