//! Helpers shared by the end-to-end tests: a scratch directory removed
//! when dropped, and a small tmpfs for tests of a disk that fills.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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

/// Connects to a router's control socket, waiting up to 20 s for it to
/// appear.
pub fn connect(path: &Path) -> UnixStream {
    let t0 = Instant::now();
    loop {
        if let Ok(s) = UnixStream::connect(path) {
            return s;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "no control socket at {}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One control command and its reply line.
pub fn ask(s: &mut UnixStream, cmd: &str) -> String {
    writeln!(s, "{cmd}").unwrap();
    let mut line = String::new();
    BufReader::new(s.try_clone().unwrap()).read_line(&mut line).unwrap();
    line.trim_end().to_string()
}
