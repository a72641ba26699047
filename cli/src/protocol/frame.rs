//! Framing: one message per line, bounded in size.

use std::io::{BufRead, Read, Write};

use super::ProtocolError;

/// Reads one line (without its newline). `Ok(None)` at a clean end of
/// stream; an error for a line longer than `max` bytes or cut short.
pub fn read_frame<R: BufRead>(r: &mut R, max: usize) -> Result<Option<Vec<u8>>, ProtocolError> {
    let mut buf = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let n = r.by_ref().take(limit).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(Some(buf));
    }
    if buf.len() > max {
        return Err(ProtocolError::TooLarge { limit: max });
    }
    Err(ProtocolError::Truncated)
}

/// Writes one message line and flushes.
pub fn write_frame<W: Write>(w: &mut W, line: &[u8]) -> Result<(), ProtocolError> {
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line);
    buf.push(b'\n');
    w.write_all(&buf)?;
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn lines_are_split_and_bounded() {
        let mut r = Cursor::new(b"abc\n\ndef\n".to_vec());
        assert_eq!(read_frame(&mut r, 10).unwrap(), Some(b"abc".to_vec()));
        assert_eq!(read_frame(&mut r, 10).unwrap(), Some(Vec::new()));
        assert_eq!(read_frame(&mut r, 10).unwrap(), Some(b"def".to_vec()));
        assert_eq!(read_frame(&mut r, 10).unwrap(), None);

        let mut r = Cursor::new(b"0123456789\n".to_vec());
        assert_eq!(
            read_frame(&mut r, 10).unwrap(),
            Some(b"0123456789".to_vec())
        );
        let mut r = Cursor::new(b"0123456789A\n".to_vec());
        assert!(matches!(
            read_frame(&mut r, 10),
            Err(ProtocolError::TooLarge { limit: 10 })
        ));
        let mut r = Cursor::new(b"partial".to_vec());
        assert!(matches!(
            read_frame(&mut r, 10),
            Err(ProtocolError::Truncated)
        ));
    }

    #[test]
    fn written_frames_read_back() {
        let mut out = Vec::new();
        write_frame(&mut out, b"{}").unwrap();
        write_frame(&mut out, b"[1]").unwrap();
        let mut r = Cursor::new(out);
        assert_eq!(read_frame(&mut r, 100).unwrap(), Some(b"{}".to_vec()));
        assert_eq!(read_frame(&mut r, 100).unwrap(), Some(b"[1]".to_vec()));
    }
}
