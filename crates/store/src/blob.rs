//! Content-addressed blobs: a body is stored once under an id derived from its content (the
//! mail crate uses a keyed hash of the plain text, and stores the text encrypted), however many
//! mailboxes hold it. The filesystem store writes to a temporary file, fsyncs it, renames it
//! into place and fsyncs the directory, so a blob that `put` returned survives a crash. (This
//! is written here rather than with object_store's local backend because that one does not
//! fsync; object_store comes in for S3-compatible stores.)

use sha2::{Digest, Sha256};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The lower-case hex SHA-256 of a blob's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobId(String);

impl BlobId {
    pub fn of(bytes: &[u8]) -> BlobId {
        BlobId(hex::encode(Sha256::digest(bytes)))
    }

    /// Accepts only 64 lower-case hex digits, so an id can never name a path outside the store.
    pub fn parse(s: &str) -> Option<BlobId> {
        let ok = s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| BlobId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[allow(async_fn_in_trait)] // Used through concrete stores, whose futures are `Send`.
pub trait BlobStore {
    /// Stores `bytes` durably under `id`; when `id` is already stored this does nothing, since
    /// the id names the content.
    async fn put(&self, id: &BlobId, bytes: &[u8]) -> Result<(), std::io::Error>;
    async fn get(&self, id: &BlobId) -> Result<Option<Vec<u8>>, std::io::Error>;
    async fn exists(&self, id: &BlobId) -> Result<bool, std::io::Error>;
    async fn delete(&self, id: &BlobId) -> Result<(), std::io::Error>;
}

/// Blobs as files under `root/ab/cd/abcd...`.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    pub fn new(root: impl Into<PathBuf>) -> FsBlobStore {
        FsBlobStore { root: root.into() }
    }

    /// Every stored blob last written before `before` (milliseconds since the epoch).
    pub async fn list_written_before(&self, before: i64) -> Result<Vec<BlobId>, std::io::Error> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for a in read_dirs(&root)? {
                for b in read_dirs(&a)? {
                    for f in std::fs::read_dir(&b)? {
                        let f = f?;
                        let written = f
                            .metadata()?
                            .modified()?
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
                        let name = f.file_name();
                        if let (true, Some(id)) =
                            (written < before, name.to_str().and_then(BlobId::parse))
                        {
                            out.push(id);
                        }
                    }
                }
            }
            Ok(out)
        })
        .await
        .map_err(std::io::Error::other)?
    }

    fn path(&self, id: &BlobId) -> PathBuf {
        let s = id.as_str();
        self.root.join(&s[0..2]).join(&s[2..4]).join(s)
    }
}

/// The fan-out directories in `dir` (two hex digits each); none when `dir` does not exist.
fn read_dirs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e?;
        let name = e.file_name();
        let fan_out = name.len() == 2
            && name
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_hexdigit()));
        if fan_out && e.file_type()?.is_dir() {
            out.push(e.path());
        }
    }
    Ok(out)
}

fn write_durably(root: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(root);
    std::fs::create_dir_all(dir)?;
    let tmp_dir = root.join("tmp");
    std::fs::create_dir_all(&tmp_dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(&tmp_dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // The file's directory, and the two fan-out directories above it that may be new.
    let mut d = Some(dir);
    for _ in 0..3 {
        let Some(here) = d else { break };
        std::fs::File::open(here)?.sync_all()?;
        d = here.parent().filter(|p| p.starts_with(root));
    }
    Ok(())
}

impl BlobStore for FsBlobStore {
    async fn put(&self, id: &BlobId, bytes: &[u8]) -> Result<(), std::io::Error> {
        let path = self.path(id);
        let root = self.root.clone();
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || match path.try_exists()? {
            true => Ok(()),
            false => write_durably(&root, &path, &bytes),
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(())
    }

    async fn get(&self, id: &BlobId) -> Result<Option<Vec<u8>>, std::io::Error> {
        match tokio::fs::read(self.path(id)).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn exists(&self, id: &BlobId) -> Result<bool, std::io::Error> {
        // One stat of a local file: shorter than handing it to a blocking thread.
        self.path(id).try_exists()
    }

    async fn delete(&self, id: &BlobId) -> Result<(), std::io::Error> {
        match tokio::fs::remove_file(self.path(id)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn blobs_are_stored_once_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::new(dir.path());
        let a = BlobId::of(b"hello");
        store.put(&a, b"hello").await.unwrap();
        store.put(&a, b"hello").await.unwrap();
        assert_eq!(
            a.as_str(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(store.get(&a).await.unwrap().unwrap(), b"hello");
        store.delete(&a).await.unwrap();
        assert!(store.get(&a).await.unwrap().is_none());
        store.delete(&a).await.unwrap();
    }

    #[test]
    fn ids_that_could_escape_the_store_are_refused() {
        assert!(BlobId::parse("../../etc/passwd").is_none());
        assert!(BlobId::parse(&"A".repeat(64)).is_none());
        assert!(BlobId::parse(&"a".repeat(64)).is_some());
    }
}
