//! The local-directory target: std fs, with fsync of files and of the directory after renames.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::target::{Target, TargetFile};

/// Lock file name in a local root; `.`-prefixed so that no archive tool reads it.
const LOCK_FILE: &str = ".ls-roll.lock";

pub struct LocalTarget {
    root: PathBuf,
}

impl LocalTarget {
    /// Uses `root`, creating it when missing.
    pub fn new(root: PathBuf) -> io::Result<LocalTarget> {
        if root.exists() && !root.is_dir() {
            // create_dir_all would say "File exists", which sends the user looking elsewhere.
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "it is a file, not a directory",
            ));
        }
        fs::create_dir_all(&root)?;
        Ok(LocalTarget { root })
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }
}

struct LocalFile(File);

impl TargetFile for LocalFile {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.0.write_all(data)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn close(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Target for LocalTarget {
    fn describe(&self) -> String {
        format!("file://{}", self.root.display())
    }

    fn create(&self, path: &str) -> io::Result<Box<dyn TargetFile>> {
        let path = self.path(path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        Ok(Box::new(LocalFile(file)))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (from, to) = (self.path(from), self.path(to));
        if to.exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} already exists", to.display()),
            ));
        }
        fs::rename(&from, &to)?;
        // The rename is what makes the file final: it must survive a power loss too.
        sync_dir(to.parent().unwrap_or(&self.root))
    }

    fn list(&self, dir: &str) -> io::Result<Vec<String>> {
        let entries = match fs::read_dir(self.path(dir)) {
            Ok(entries) => entries,
            // A stray file named like a category (a filler, a README) holds no archive files.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(Vec::new());
            }
            Err(e) => return Err(e),
        };
        let mut names = Vec::new();
        for entry in entries {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        fs::read(self.path(path))
    }

    fn remove(&self, path: &str) -> io::Result<()> {
        let path = self.path(path);
        fs::remove_file(&path)?;
        sync_dir(path.parent().unwrap_or(&self.root))
    }

    fn recover(&self, _path: &str) -> io::Result<()> {
        Ok(())
    }

    fn probe(&self) -> io::Result<()> {
        fs::metadata(&self.root).map(drop)
    }

    fn lock(&self) -> Result<Box<dyn Send>> {
        let path = self.root.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        if file.try_lock().is_err() {
            bail!(
                "another ls-roll is writing to {} (it holds {}); stop it, or give this one another --out",
                self.root.display(),
                path.display()
            );
        }
        // The lock is released when the file is closed, also by a kill -9.
        Ok(Box::new(file))
    }
}
