//! Files holding secrets: created owner-only, never overwritten. Shared by
//! the command line (`keygen`) and the demo (its throwaway signing key).

use std::io::Write;
use std::path::Path;

/// Creates `path` readable by its owner only (0600); never overwrites.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents)
}
