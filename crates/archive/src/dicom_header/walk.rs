//! An iterative walk over a DICOM Part 10 header that reads only the few top-level attributes
//! the inventory needs.
//!
//! Why not `dicom-object`: it builds nested sequences recursively (about 400 nested items, an
//! 8 KiB file, overflow a 2 MiB thread stack in a debug build and abort the process) and
//! allocates each value at its declared length before reading it (a 252-byte file made it take
//! 530 MB). Here nothing recurses, nothing is allocated from a length field beyond
//! [`MAX_VALUE`], and everything we do not need is skipped by reading it into a sink.

use std::io::{self, Read};

use dicom_core::Tag;
use dicom_dictionary_std::tags::{
    BODY_PART_EXAMINED, MODALITY, SERIES_INSTANCE_UID, STUDY_INSTANCE_UID, TRANSFER_SYNTAX_UID,
};

use super::HeaderInfo;
use crate::detect::read_up_to;

const UNDEFINED: u32 = u32::MAX;
/// Longest value kept: UIDs are at most 64 characters, code strings 16.
const MAX_VALUE: u32 = 1024;
/// Nested open sequences and items (sequences of defined length are skipped whole, so only
/// undefined-length ones count). Real headers stay in single digits before group 0020.
const MAX_DEPTH: usize = 64;

/// Any reason to give up; the caller only needs to know that the header was not understood.
#[derive(Debug)]
pub(super) struct Unparsable;

impl From<io::Error> for Unparsable {
    fn from(_: io::Error) -> Self {
        Self
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Syntax {
    ExplicitLe,
    ImplicitLe,
    ExplicitBe,
}

impl Syntax {
    fn from_uid(uid: &str) -> Result<Self, Unparsable> {
        match uid {
            "1.2.840.10008.1.2" => Ok(Self::ImplicitLe),
            "1.2.840.10008.1.2.2" => Ok(Self::ExplicitBe),
            // Deflated data sets: the header itself is compressed.
            "1.2.840.10008.1.2.1.99" | "1.2.840.10008.1.2.4.95" | "1.2.840.10008.1.2.4.205" => {
                Err(Unparsable)
            }
            // Explicit VR little endian, and every encapsulated (compressed pixel) syntax.
            _ => Ok(Self::ExplicitLe),
        }
    }

    fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            Self::ExplicitBe => u16::from_be_bytes(b),
            _ => u16::from_le_bytes(b),
        }
    }

    fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            Self::ExplicitBe => u32::from_be_bytes(b),
            _ => u32::from_le_bytes(b),
        }
    }

    fn tag(self, b: [u8; 4]) -> Tag {
        Tag(self.u16([b[0], b[1]]), self.u16([b[2], b[3]]))
    }
}

/// An open sequence or item of undefined length, closed by its delimiter.
struct Open {
    syntax: Syntax,
    is_item: bool,
}

/// Reads from just after the `DICM` magic: the file meta group, then the data set up to the last
/// attribute we need (top-level tags ascend, so that is as far as it goes).
pub(super) fn walk(source: impl Read) -> Result<HeaderInfo, Unparsable> {
    let mut src = Source(source);
    let (syntax, first) = read_meta(&mut src)?;
    let mut info = HeaderInfo::default();
    let mut open: Vec<Open> = Vec::new();
    let mut pending = first;
    loop {
        let here = open.last().map_or(syntax, |o| o.syntax);
        let raw = match pending.take() {
            Some(raw) => raw,
            None => match src.try_read4()? {
                Some(raw) => raw,
                // A header-only object (a DICOMDIR, a report) may simply end.
                None if open.is_empty() => return Ok(info),
                None => return Err(Unparsable),
            },
        };
        let tag = here.tag(raw);
        if tag.0 == 0xfffe {
            let len = here.u32(src.read4()?);
            delimiter(&mut src, &mut open, here, tag.1, len)?;
            continue;
        }
        if open.is_empty() && tag > SERIES_INSTANCE_UID {
            return Ok(info);
        }
        let (vr, len) = element_header(&mut src, here)?;
        if len == UNDEFINED {
            // A sequence; encapsulated OB/OW (defined-length fragment items, then a sequence
            // delimiter, so the same walk fits); or UN holding an implicit VR little endian
            // sequence (PS3.5 6.2.2).
            let inner = match vr {
                None | Some(b"SQ" | b"OB" | b"OW") => here,
                Some(b"UN") => Syntax::ImplicitLe,
                Some(_) => return Err(Unparsable),
            };
            push(&mut open, inner, false)?;
            continue;
        }
        let slot = match tag {
            _ if !open.is_empty() => None,
            STUDY_INSTANCE_UID => Some(&mut info.study_uid),
            SERIES_INSTANCE_UID => Some(&mut info.series_uid),
            MODALITY => Some(&mut info.modality),
            BODY_PART_EXAMINED => Some(&mut info.body_part),
            _ => None,
        };
        match slot {
            Some(slot) => *slot = text(&src.value(len)?),
            None => src.skip(len)?,
        }
    }
}

/// The file meta group, always explicit VR little endian: returns the data set's syntax and the
/// first data set tag, already read while looking for the end of group 0002.
fn read_meta(src: &mut Source<impl Read>) -> Result<(Syntax, Option<[u8; 4]>), Unparsable> {
    let mut uid = None;
    let first = loop {
        let Some(raw) = src.try_read4()? else {
            break None;
        };
        let tag = Syntax::ExplicitLe.tag(raw);
        if tag.0 != 0x0002 {
            break Some(raw);
        }
        let (_, len) = element_header(src, Syntax::ExplicitLe)?;
        if len == UNDEFINED {
            return Err(Unparsable);
        }
        if tag == TRANSFER_SYNTAX_UID {
            uid = text(&src.value(len)?);
        } else {
            src.skip(len)?;
        }
    };
    let syntax = Syntax::from_uid(uid.as_deref().ok_or(Unparsable)?)?;
    Ok((syntax, first))
}

/// Item start, item end and sequence end: the only elements of group FFFE.
fn delimiter(
    src: &mut Source<impl Read>,
    open: &mut Vec<Open>,
    syntax: Syntax,
    element: u16,
    len: u32,
) -> Result<(), Unparsable> {
    let top = open.last().map(|o| o.is_item);
    match (element, top) {
        // An item of known length: nothing in it is ours to read.
        (0xe000, Some(false)) if len != UNDEFINED => src.skip(len),
        (0xe000, Some(false)) => push(open, syntax, true),
        (0xe00d, Some(true)) | (0xe0dd, Some(false)) => {
            open.pop();
            Ok(())
        }
        _ => Err(Unparsable),
    }
}

fn push(open: &mut Vec<Open>, syntax: Syntax, is_item: bool) -> Result<(), Unparsable> {
    if open.len() >= MAX_DEPTH {
        return Err(Unparsable);
    }
    open.push(Open { syntax, is_item });
    Ok(())
}

/// The VR (explicit syntaxes only) and value length that follow a tag.
fn element_header(
    src: &mut Source<impl Read>,
    syntax: Syntax,
) -> Result<(Option<&'static [u8; 2]>, u32), Unparsable> {
    if syntax == Syntax::ImplicitLe {
        return Ok((None, syntax.u32(src.read4()?)));
    }
    let (vr, long) = known_vr(src.array()?).ok_or(Unparsable)?;
    let len = if long {
        let [_, _, a, b, c, d] = src.array()?; // two reserved bytes, then a 32-bit length
        syntax.u32([a, b, c, d])
    } else {
        u32::from(syntax.u16(src.array()?))
    };
    Ok((Some(vr), len))
}

/// Value representations, and whether they take the long (reserved + 32-bit) length form.
#[rustfmt::skip]
const VRS: [(&[u8; 2], bool); 34] = [
    (b"AE", false), (b"AS", false), (b"AT", false), (b"CS", false), (b"DA", false),
    (b"DS", false), (b"DT", false), (b"FD", false), (b"FL", false), (b"IS", false),
    (b"LO", false), (b"LT", false), (b"PN", false), (b"SH", false), (b"SL", false),
    (b"SS", false), (b"ST", false), (b"TM", false), (b"UI", false), (b"UL", false),
    (b"US", false), (b"OB", true), (b"OD", true), (b"OF", true), (b"OL", true),
    (b"OV", true), (b"OW", true), (b"SQ", true), (b"SV", true), (b"UC", true),
    (b"UN", true), (b"UR", true), (b"UT", true), (b"UV", true),
];

fn known_vr(vr: [u8; 2]) -> Option<(&'static [u8; 2], bool)> {
    VRS.iter().find(|(known, _)| **known == vr).copied()
}

/// A text value without DICOM's padding (trailing space or NUL); `None` when empty.
fn text(value: &[u8]) -> Option<String> {
    let value = String::from_utf8_lossy(value);
    let trimmed = value.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// The header bytes; reads are exact, so nothing past the last attribute needed is consumed.
struct Source<R>(R);

impl<R: Read> Source<R> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Unparsable> {
        let mut buf = [0u8; N];
        self.0.read_exact(&mut buf)?;
        Ok(buf)
    }

    fn read4(&mut self) -> Result<[u8; 4], Unparsable> {
        self.array()
    }

    /// `None` at a clean end of input (no byte of the next tag).
    fn try_read4(&mut self) -> Result<Option<[u8; 4]>, Unparsable> {
        let mut buf = [0u8; 4];
        match read_up_to(&mut self.0, &mut buf)? {
            0 => Ok(None),
            4 => Ok(Some(buf)),
            _ => Err(Unparsable),
        }
    }

    fn value(&mut self, len: u32) -> Result<Vec<u8>, Unparsable> {
        if len > MAX_VALUE {
            return Err(Unparsable);
        }
        let mut buf = vec![0u8; len as usize];
        self.0.read_exact(&mut buf)?;
        Ok(buf)
    }

    fn skip(&mut self, len: u32) -> Result<(), Unparsable> {
        let skipped = io::copy(&mut (&mut self.0).take(u64::from(len)), &mut io::sink())?;
        if skipped == u64::from(len) {
            Ok(())
        } else {
            Err(Unparsable)
        }
    }
}
