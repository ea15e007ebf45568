//! Helpers shared by the end-to-end tests: a scratch directory removed
//! when dropped, and a small tmpfs for tests of a disk that fills.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch directory, removed when dropped.
pub struct Dir(pub PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh scratch directory `l3fwd-<suite>-<pid>-<name>`.
pub fn dir(suite: &str, name: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("l3fwd-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
}

/// A tmpfs of `size` (`"64k"`) mounted at a new directory `path`,
/// unmounted when dropped. The tests run as root, as CI does.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    pub fn mount(path: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        let st = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(path).status();
        assert!(st.is_ok_and(|s| s.success()), "mounting a {size} tmpfs at {} (the tests run as root)", path.display());
        Tmpfs(path.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}
