//! A reader that remembers its own failure.
//!
//! The tar and zstd readers report everything as `io::Error`: a disk that failed under them
//! and a stream that makes no sense look the same. Wrapping the file that feeds them tells
//! the two apart: if the file failed, it is the system; otherwise the content is broken.

use std::cell::Cell;
use std::io::{self, Read};

pub(super) struct Watched<'a, R> {
    inner: R,
    failure: &'a Cell<Option<io::Error>>,
}

impl<'a, R: Read> Watched<'a, R> {
    pub(super) fn new(inner: R, failure: &'a Cell<Option<io::Error>>) -> Watched<'a, R> {
        Watched { inner, failure }
    }
}

impl<R: Read> Read for Watched<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Err(error) if error.kind() != io::ErrorKind::Interrupted => {
                let copy = io::Error::new(error.kind(), error.to_string());
                self.failure.set(Some(error));
                Err(copy)
            }
            other => other,
        }
    }
}
