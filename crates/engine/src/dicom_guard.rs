//! A structural check of a DICOM file held in memory, run before dicom-object parses it.
//!
//! Why: dicom-object builds nested sequences recursively (a few hundred nested items overflow a
//! thread stack, which aborts the process: `catch_unwind` cannot help) and reserves each value at
//! its declared length before reading it (a file of a few hundred bytes can ask for gigabytes).
//! This walk is iterative and allocates nothing per element. It accepts a file only if every
//! declared length fits in the bytes actually present and nesting stays shallow. It follows
//! dicom-parser's rules for what counts as a sequence (VR SQ, any undefined length, the
//! dictionary's VR in implicit syntax) and rejects anything it does not understand, so it can
//! refuse an odd file dicom-object would read, but not the other way round.

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

use crate::source::DICOM_PREFIX_LEN;

/// Open sequences plus open items. Real CT headers nest a handful deep.
const MAX_DEPTH: usize = 32;
const UNDEFINED: u32 = u32::MAX;
const ITEM: Tag = Tag(0xFFFE, 0xE000);
const ITEM_END: Tag = Tag(0xFFFE, 0xE00D);
const SEQUENCE_END: Tag = Tag(0xFFFE, 0xE0DD);
const PIXEL_DATA: Tag = Tag(0x7FE0, 0x0010);
const TRANSFER_SYNTAX: Tag = Tag(0x0002, 0x0010);

/// What the walk learnt on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Structure {
    /// A top-level Pixel Data element is present.
    pub has_pixel_data: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    ExplicitLe,
    ImplicitLe,
    ExplicitBe,
}

#[derive(Debug, Clone, Copy)]
enum Open {
    Sequence(Option<usize>),
    Item(Option<usize>),
    /// Encapsulated pixel data: items are opaque fragments.
    Fragments,
}

impl Open {
    fn end(self) -> Option<usize> {
        match self {
            Self::Sequence(end) | Self::Item(end) => end,
            Self::Fragments => None,
        }
    }
}

struct Walker<'a> {
    bytes: &'a [u8],
    pos: usize,
    syntax: Syntax,
}

/// Checks a whole Part 10 file (preamble, `DICM`, meta group, data set).
pub(crate) fn check(bytes: &[u8]) -> Result<Structure, String> {
    let mut walker = Walker {
        bytes,
        pos: DICOM_PREFIX_LEN,
        syntax: Syntax::ExplicitLe,
    };
    let transfer_syntax = walker.meta_group()?;
    walker.syntax = match transfer_syntax.as_str() {
        "1.2.840.10008.1.2" => Syntax::ImplicitLe,
        "1.2.840.10008.1.2.2" => Syntax::ExplicitBe,
        // Deflated data sets: the structure is compressed, so it cannot be checked.
        "1.2.840.10008.1.2.1.99" | "1.2.840.10008.1.2.4.95" => {
            return Err("deflated data sets are not supported".to_owned());
        }
        _ => Syntax::ExplicitLe,
    };
    walker.data_set()
}

impl Walker<'_> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let chunk = self
            .bytes
            .get(self.pos..self.pos + N)
            .and_then(|s| <[u8; N]>::try_from(s).ok())
            .ok_or_else(|| format!("truncated at byte {}", self.pos))?;
        self.pos += N;
        Ok(chunk)
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take::<2>()?;
        Ok(match self.syntax {
            Syntax::ExplicitBe => u16::from_be_bytes(b),
            _ => u16::from_le_bytes(b),
        })
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take::<4>()?;
        Ok(match self.syntax {
            Syntax::ExplicitBe => u32::from_be_bytes(b),
            _ => u32::from_le_bytes(b),
        })
    }

    fn tag(&mut self) -> Result<Tag, String> {
        Ok(Tag(self.u16()?, self.u16()?))
    }

    /// Moves past a defined-length value, which must fit in the file.
    fn skip(&mut self, len: u32) -> Result<usize, String> {
        let len = usize::try_from(len).map_err(|_| "value too long".to_owned())?;
        if len > self.remaining() {
            return Err(format!(
                "a value of {len} bytes at byte {} runs past the end of the file",
                self.pos
            ));
        }
        self.pos += len;
        Ok(self.pos)
    }

    /// The end of a defined-length container starting here, checked against the file size.
    fn end_of(&self, len: u32) -> Result<Option<usize>, String> {
        if len == UNDEFINED {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| "length too long".to_owned())?;
        if len > self.remaining() {
            return Err(format!(
                "a sequence or item at byte {} is truncated",
                self.pos
            ));
        }
        Ok(Some(self.pos + len))
    }

    /// Element header after the tag: (VR, length), per syntax.
    fn header(&mut self, tag: Tag) -> Result<(VR, u32), String> {
        if self.syntax == Syntax::ImplicitLe {
            let len = self.u32()?;
            let vr = StandardDataDictionary
                .by_tag(tag)
                .map_or(VR::UN, |e| e.vr().relaxed());
            return Ok((vr, len));
        }
        let raw = self.take::<2>()?;
        let vr = VR::from_binary(raw).unwrap_or(VR::UN);
        let len = if is_short_form(vr) {
            u32::from(self.u16()?)
        } else {
            self.take::<2>()?;
            self.u32()?
        };
        Ok((vr, len))
    }

    /// Group 0002, always explicit VR little endian; returns the transfer syntax UID.
    fn meta_group(&mut self) -> Result<String, String> {
        let mut transfer_syntax = None;
        while self.remaining() >= 4 {
            let group = u16::from_le_bytes([self.bytes[self.pos], self.bytes[self.pos + 1]]);
            if group != 0x0002 {
                break;
            }
            let tag = self.tag()?;
            let (vr, len) = self.header(tag)?;
            if vr == VR::SQ || len == UNDEFINED {
                return Err("the file meta group holds a sequence".to_owned());
            }
            let start = self.pos;
            let end = self.skip(len)?;
            if tag == TRANSFER_SYNTAX {
                let text = String::from_utf8_lossy(&self.bytes[start..end]);
                transfer_syntax = Some(text.trim_end_matches(['\0', ' ']).to_owned());
            }
        }
        transfer_syntax.ok_or_else(|| "no transfer syntax in the file meta group".to_owned())
    }

    fn data_set(&mut self) -> Result<Structure, String> {
        let mut open: Vec<Open> = Vec::new();
        let mut has_pixel_data = false;
        loop {
            while let Some(end) = open.last().and_then(|o| o.end()) {
                if self.pos < end {
                    break;
                }
                if self.pos > end {
                    return Err(format!(
                        "content overruns its sequence at byte {}",
                        self.pos
                    ));
                }
                open.pop();
            }
            // dicom-parser ends gracefully when no whole tag is left, at any depth.
            if self.remaining() < 4 {
                break;
            }
            let tag = self.tag()?;
            match open.last().copied() {
                Some(container @ (Open::Sequence(_) | Open::Fragments)) => {
                    let len = self.u32()?;
                    match (tag, container) {
                        (ITEM, Open::Fragments) if len != UNDEFINED => {
                            self.skip(len)?;
                        }
                        (ITEM, Open::Sequence(_)) => open.push(Open::Item(self.end_of(len)?)),
                        (SEQUENCE_END, Open::Sequence(None) | Open::Fragments) => {
                            open.pop();
                        }
                        _ => return Err(format!("unexpected {tag} inside a sequence")),
                    }
                }
                top @ (Some(Open::Item(_)) | None) => {
                    if tag.0 == 0xFFFE {
                        self.u32()?;
                        match (tag, top) {
                            (ITEM_END, Some(Open::Item(None))) => {
                                open.pop();
                            }
                            // dicom-parser skips a stray item delimiter at the top level.
                            (ITEM_END, None) => {}
                            _ => return Err(format!("unexpected {tag} in a data set")),
                        }
                        continue;
                    }
                    let (vr, len) = self.header(tag)?;
                    has_pixel_data |= tag == PIXEL_DATA && top.is_none();
                    if tag == PIXEL_DATA && len == UNDEFINED {
                        open.push(Open::Fragments);
                    } else if vr == VR::SQ || len == UNDEFINED {
                        open.push(Open::Sequence(self.end_of(len)?));
                    } else {
                        self.skip(len)?;
                    }
                }
            }
            if open.len() > MAX_DEPTH {
                return Err(format!("sequences nest deeper than {MAX_DEPTH} levels"));
            }
        }
        Ok(Structure { has_pixel_data })
    }
}

/// PS3.5 7.1.2: the VRs with a 16-bit length field in explicit syntaxes.
fn is_short_form(vr: VR) -> bool {
    use VR::*;
    matches!(
        vr,
        AE | AS
            | AT
            | CS
            | DA
            | DS
            | DT
            | FL
            | FD
            | IS
            | LO
            | LT
            | PN
            | SH
            | SL
            | SS
            | ST
            | TM
            | UI
            | UL
            | US
    )
}

#[cfg(test)]
#[path = "dicom_guard_tests.rs"]
mod tests;
