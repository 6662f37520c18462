//! The bytes of a trace file as lines: plain or zstd-compressed, from a regular file of a
//! sane size, one bounded line at a time. Nothing here holds more than one line.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// The zstd frame magic number, little-endian: how a compressed trace is told from a plain
/// one whatever its name.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// A trace larger than this is refused before reading: a week of 1 ms epochs written plain
/// is ~55 GB, so anything beyond is not a trace this tool wrote (and reading it would take
/// the better part of an hour). Memory never depends on the size: reading streams.
pub const MAX_TRACE_BYTES: u64 = 64 << 30;

/// The longest line a writer produces is a few hundred bytes (an epoch with every optional
/// field and a dozen windows); a longer one is not a trace line, and reading it whole would
/// let a file without newlines (or a zstd bomb) fill memory.
pub const MAX_LINE_BYTES: usize = 64 << 10;

/// How reading one line went.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A whole line, its newline removed, in the buffer.
    Whole,
    /// The file ended (or its compressed stream broke off) in the middle of a line.
    Cut {
        why: String,
    },
    /// The file ended after a whole line.
    End,
    TooLong,
}

pub struct Source {
    reader: Box<dyn BufRead>,
    pub compressed: bool,
}

/// Why a file cannot be opened as a trace.
#[derive(Debug)]
pub enum OpenError {
    Io(std::io::Error),
    NotAFile(&'static str),
    TooLarge(u64),
}

impl Source {
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        let metadata = std::fs::metadata(path).map_err(OpenError::Io)?;
        let kind = metadata.file_type();
        if !kind.is_file() {
            use std::os::unix::fs::FileTypeExt;
            return Err(OpenError::NotAFile(if kind.is_dir() {
                "a directory"
            } else if kind.is_char_device() || kind.is_block_device() {
                "a device"
            } else if kind.is_fifo() {
                "a pipe"
            } else if kind.is_socket() {
                "a socket"
            } else {
                "not a regular file"
            }));
        }
        if metadata.len() > MAX_TRACE_BYTES {
            return Err(OpenError::TooLarge(metadata.len()));
        }
        let mut file = BufReader::new(File::open(path).map_err(OpenError::Io)?);
        let compressed = file
            .fill_buf()
            .map_err(OpenError::Io)?
            .starts_with(&ZSTD_MAGIC);
        let reader: Box<dyn BufRead> = if compressed {
            let decoder = zstd::stream::read::Decoder::with_buffer(file).map_err(OpenError::Io)?;
            Box::new(BufReader::with_capacity(1 << 16, decoder))
        } else {
            Box::new(file)
        };
        Ok(Self { reader, compressed })
    }

    /// Reads the next line into `buf` (cleared first), at most `MAX_LINE_BYTES`.
    pub fn next_line(&mut self, buf: &mut Vec<u8>) -> Line {
        buf.clear();
        loop {
            let available = match self.reader.fill_buf() {
                Ok(bytes) => bytes,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    return Line::Cut {
                        why: format!("reading stopped: {err}"),
                    }
                }
            };
            if available.is_empty() {
                return if buf.is_empty() {
                    Line::End
                } else {
                    Line::Cut {
                        why: "the last line has no newline".into(),
                    }
                };
            }
            let (take, done) = match available.iter().position(|&b| b == b'\n') {
                Some(at) => (at + 1, true),
                None => (available.len(), false),
            };
            if buf.len() + take > MAX_LINE_BYTES + 1 {
                return Line::TooLong;
            }
            buf.extend_from_slice(&available[..take]);
            self.reader.consume(take);
            if done {
                buf.pop();
                return Line::Whole;
            }
        }
    }
}

/// For tests: the text of a compressed file.
#[cfg(test)]
pub fn decompress_all(path: &Path) -> String {
    use std::io::Read;
    let mut text = String::new();
    zstd::stream::read::Decoder::new(File::open(path).unwrap())
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}
