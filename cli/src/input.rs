//! Reading files and pipes without trusting them. A line is read up to [`MAX_LINE_BYTES`] and
//! the rest of it skipped without being kept, so `/dev/zero` or a multi-gigabyte line costs a
//! megabyte, and a line that is not UTF-8 is just a bad line (std's `BufRead::lines` grows
//! without bound and stops the whole read at invalid UTF-8). A file read whole (a route table,
//! a pattern, provisioning inputs) is read up to [`MAX_FILE_BYTES`].

use std::io::{self, BufRead, Read};
use std::path::Path;

/// The largest file read whole: far above any okta-relay input (an SSM parameter holds 8 KB, a
/// rule pattern 4 KB), far below what could hurt a workstation.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Reads a whole file of at most [`MAX_FILE_BYTES`]; a larger one, or one that is not UTF-8, is
/// an `InvalidData` error saying so.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("it is larger than {MAX_FILE_BYTES} bytes, more than any okta-relay input"),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error.utf8_error()))
}

/// The longest line kept: four times EventBridge's 256 KB event limit, room for a raw Okta
/// event with all its whitespace, far below what could hurt a workstation.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// One input line.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The line's bytes, without the line ending.
    Whole(Vec<u8>),
    /// Longer than the limit: its first [`MAX_LINE_BYTES`] bytes, and how long it was.
    TooLong { start: Vec<u8>, bytes: u64 },
}

impl Line {
    /// The reason a too-long line is refused.
    pub fn too_long_reason(bytes: u64) -> String {
        format!(
            "the line is {bytes} bytes, over the {MAX_LINE_BYTES}-byte limit for one event (an \
             EventBridge event is at most 262144 bytes)"
        )
    }
}

/// Reads the next line of `input`, or `None` at the end.
pub fn next_line(input: &mut impl BufRead) -> io::Result<Option<Line>> {
    let mut kept = Vec::new();
    let mut total: u64 = 0;
    loop {
        let buffer = match input.fill_buf() {
            Ok(buffer) => buffer,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if buffer.is_empty() {
            if total == 0 {
                return Ok(None);
            }
            break;
        }
        let (chunk, ends_line) = match buffer.iter().position(|&byte| byte == b'\n') {
            Some(at) => (&buffer[..at], true),
            None => (buffer, false),
        };
        let room = MAX_LINE_BYTES.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        total = total.saturating_add(chunk.len() as u64);
        let consumed = chunk.len() + usize::from(ends_line);
        input.consume(consumed);
        if ends_line {
            break;
        }
    }
    if total > MAX_LINE_BYTES as u64 {
        return Ok(Some(Line::TooLong {
            start: kept,
            bytes: total,
        }));
    }
    if kept.last() == Some(&b'\r') {
        kept.pop();
    }
    Ok(Some(Line::Whole(kept)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Read};

    fn all(input: impl Read) -> Vec<Line> {
        let mut reader = BufReader::with_capacity(4096, input);
        std::iter::from_fn(|| next_line(&mut reader).unwrap()).collect()
    }

    #[test]
    fn a_file_read_whole_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.json");
        std::fs::write(&big, vec![b' '; MAX_FILE_BYTES as usize + 1]).unwrap();
        let error = read_to_string(&big).unwrap_err().to_string();
        assert!(error.contains("larger than 1048576 bytes"), "{error}");
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, b"{\xff}").unwrap();
        assert!(read_to_string(&bad).is_err());
        let good = dir.path().join("good.json");
        std::fs::write(&good, b"{}").unwrap();
        assert_eq!(read_to_string(&good).unwrap(), "{}");
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_whole() {
        let mut input = vec![b'y'; MAX_LINE_BYTES];
        input.push(b'\n');
        assert!(
            matches!(all(&input[..]).as_slice(), [Line::Whole(line)] if line.len() == MAX_LINE_BYTES)
        );
    }

    #[test]
    fn lines_with_and_without_endings() {
        assert_eq!(
            all(&b"a\r\n\nb\xff\nlast"[..]),
            [
                Line::Whole(b"a".to_vec()),
                Line::Whole(Vec::new()),
                Line::Whole(b"b\xff".to_vec()),
                Line::Whole(b"last".to_vec())
            ]
        );
        assert!(all(&b""[..]).is_empty());
    }

    #[test]
    fn an_endless_line_is_cut_and_reading_goes_on() {
        let mut input = vec![b'x'; MAX_LINE_BYTES * 3];
        input.extend_from_slice(b"\n{}\n");
        let lines = all(&input[..]);
        match &lines[0] {
            Line::TooLong { start, bytes } => {
                assert_eq!(
                    (start.len(), *bytes),
                    (MAX_LINE_BYTES, 3 * MAX_LINE_BYTES as u64)
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(lines[1], Line::Whole(b"{}".to_vec()));
        // A stream with no line ending at all (`/dev/zero`) is read in bounded memory.
        let zeros = std::io::repeat(0).take(5 * MAX_LINE_BYTES as u64);
        assert!(matches!(all(zeros).as_slice(), [Line::TooLong { .. }]));
    }
}
