//! The bytes of a trace file as lines: plain or zstd-compressed, from a regular file of a
//! sane size, one bounded line at a time. Nothing here holds more than one line.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::ops::Range;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver};

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

/// Bytes read from the file (or the decompressor) at a time; lines are handed out as
/// slices of this buffer, never copied.
const BUF_BYTES: usize = 256 << 10;
/// Decompressed chunks in flight between the decompressing thread and the parser.
const CHUNKS_IN_FLIGHT: usize = 4;

/// How reading one line went.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A whole line, its newline removed: `Source::bytes` of this range.
    Whole(Range<usize>),
    /// The file ended (or its compressed stream broke off) in the middle of a line.
    Cut {
        why: String,
    },
    /// The file ended after a whole line.
    End,
    TooLong,
}

pub struct Source {
    reader: Box<dyn Read>,
    buf: Box<[u8]>,
    /// `buf[start..filled]` is read but not handed out; no newline in `buf[start..scanned]`.
    start: usize,
    scanned: usize,
    filled: usize,
    eof: bool,
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
        let reader: Box<dyn Read> = if compressed {
            let decoder = zstd::stream::read::Decoder::with_buffer(file).map_err(OpenError::Io)?;
            Box::new(Decompressing::start(decoder))
        } else {
            // Still the BufReader: it holds the bytes read to look for the magic number.
            Box::new(file)
        };
        Ok(Self {
            reader,
            buf: vec![0; BUF_BYTES].into_boxed_slice(),
            start: 0,
            scanned: 0,
            filled: 0,
            eof: false,
            compressed,
        })
    }

    /// The bytes of a line `next_line` returned, valid until the next call.
    pub fn bytes(&self, line: Range<usize>) -> &[u8] {
        &self.buf[line]
    }

    /// The next line, at most `MAX_LINE_BYTES`.
    pub fn next_line(&mut self) -> Line {
        loop {
            if let Some(at) = memchr::memchr(b'\n', &self.buf[self.scanned..self.filled]) {
                let end = self.scanned + at;
                let line = self.start..end;
                self.start = end + 1;
                self.scanned = self.start;
                if line.len() > MAX_LINE_BYTES {
                    return Line::TooLong;
                }
                return Line::Whole(line);
            }
            self.scanned = self.filled;
            if self.filled - self.start > MAX_LINE_BYTES {
                return Line::TooLong;
            }
            if self.eof {
                return if self.start == self.filled {
                    Line::End
                } else {
                    Line::Cut {
                        why: "the last line has no newline".into(),
                    }
                };
            }
            // Keep the unfinished line, at the front, and read more behind it.
            self.buf.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.scanned -= self.start;
            self.start = 0;
            match self.reader.read(&mut self.buf[self.filled..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.filled += n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => {
                    self.eof = true;
                    return Line::Cut {
                        why: format!("reading stopped: {err}"),
                    };
                }
            }
        }
    }
}

/// zstd decompression on a thread of its own, so it runs beside the parsing on a second
/// core: a day's trace is ~290 MB of text to decompress and as much to parse. At most
/// `CHUNKS_IN_FLIGHT` chunks wait between the two, so memory stays bounded.
struct Decompressing {
    chunks: Receiver<std::io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    at: usize,
    done: bool,
}

impl Decompressing {
    fn start(mut decoder: impl Read + Send + 'static) -> Self {
        let (sender, chunks) = sync_channel(CHUNKS_IN_FLIGHT);
        std::thread::spawn(move || loop {
            let mut chunk = vec![0; BUF_BYTES];
            let result = read_full(&mut decoder, &mut chunk).map(|n| {
                chunk.truncate(n);
                chunk
            });
            let last = !matches!(&result, Ok(chunk) if !chunk.is_empty());
            // A closed channel: the reader stopped early (an error, or a --partial read).
            if sender.send(result).is_err() || last {
                return;
            }
        });
        Self {
            chunks,
            chunk: Vec::new(),
            at: 0,
            done: false,
        }
    }
}

/// Fills `buf` as far as the stream goes; the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) if filled > 0 => {
                // Hand over what was read; the error comes again on the next read.
                let _ = err;
                break;
            }
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

impl Read for Decompressing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.chunk.len() {
            if self.done {
                return Ok(0);
            }
            match self.chunks.recv() {
                Ok(Ok(chunk)) => {
                    self.done = chunk.is_empty();
                    self.chunk = chunk;
                    self.at = 0;
                }
                Ok(Err(err)) => {
                    self.done = true;
                    return Err(err);
                }
                Err(_) => {
                    self.done = true;
                    return Err(std::io::Error::other("the decompressing thread stopped"));
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
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
