use super::*;

/// Preamble, magic and a meta group naming `syntax`.
fn file(syntax: &str) -> Vec<u8> {
    let mut bytes = vec![0u8; 128];
    bytes.extend_from_slice(b"DICM");
    let mut uid = syntax.as_bytes().to_vec();
    if uid.len() % 2 == 1 {
        uid.push(0);
    }
    short(&mut bytes, 0x0002, 0x0010, b"UI", &uid);
    bytes
}

fn short(out: &mut Vec<u8>, group: u16, element: u16, vr: &[u8; 2], value: &[u8]) {
    out.extend_from_slice(&group.to_le_bytes());
    out.extend_from_slice(&element.to_le_bytes());
    out.extend_from_slice(vr);
    out.extend_from_slice(&u16::try_from(value.len()).unwrap().to_le_bytes());
    out.extend_from_slice(value);
}

fn long_header(out: &mut Vec<u8>, group: u16, element: u16, vr: &[u8; 2], len: u32) {
    out.extend_from_slice(&group.to_le_bytes());
    out.extend_from_slice(&element.to_le_bytes());
    out.extend_from_slice(vr);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&len.to_le_bytes());
}

fn delimiter(out: &mut Vec<u8>, element: u16, len: u32) {
    out.extend_from_slice(&0xFFFEu16.to_le_bytes());
    out.extend_from_slice(&element.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
}

const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";

#[test]
fn plain_file_with_pixel_data_passes() {
    let mut bytes = file(EXPLICIT_LE);
    short(&mut bytes, 0x0008, 0x0060, b"CS", b"CT");
    long_header(&mut bytes, 0x7FE0, 0x0010, b"OW", 4);
    bytes.extend_from_slice(&[1, 0, 2, 0]);
    assert_eq!(
        check(&bytes),
        Ok(Structure {
            has_pixel_data: true
        })
    );
}

#[test]
fn nested_sequences_within_the_limit_pass_and_deeper_ones_fail() {
    for (levels, ok) in [(8, true), (400, false)] {
        let mut bytes = file(EXPLICIT_LE);
        for _ in 0..levels {
            long_header(&mut bytes, 0x0040, 0x0260, b"SQ", UNDEFINED);
            delimiter(&mut bytes, 0xE000, UNDEFINED);
        }
        for _ in 0..levels {
            delimiter(&mut bytes, 0xE00D, 0);
            delimiter(&mut bytes, 0xE0DD, 0);
        }
        assert_eq!(check(&bytes).is_ok(), ok, "{levels} levels");
    }
}

#[test]
fn a_declared_length_past_the_end_is_refused_without_allocating_it() {
    let mut bytes = file(EXPLICIT_LE);
    long_header(&mut bytes, 0x7FE0, 0x0010, b"OW", 0x7FFF_FFFE);
    bytes.extend_from_slice(&[0; 16]);
    assert!(check(&bytes).unwrap_err().contains("past the end"));
}

#[test]
fn encapsulated_fragments_are_skipped_and_deflate_is_refused() {
    let mut bytes = file("1.2.840.10008.1.2.4.50");
    long_header(&mut bytes, 0x7FE0, 0x0010, b"OB", UNDEFINED);
    delimiter(&mut bytes, 0xE000, 0);
    delimiter(&mut bytes, 0xE000, 4);
    bytes.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xD9]);
    delimiter(&mut bytes, 0xE0DD, 0);
    assert!(check(&bytes).unwrap().has_pixel_data);
    assert!(check(&file("1.2.840.10008.1.2.1.99")).is_err());
}

#[test]
fn implicit_syntax_uses_the_dictionary_for_sequences() {
    let mut bytes = file("1.2.840.10008.1.2");
    // (0008,1115) Referenced Series Sequence, defined length holding one empty item.
    bytes.extend_from_slice(&[0x08, 0x00, 0x15, 0x11]);
    bytes.extend_from_slice(&8u32.to_le_bytes());
    delimiter(&mut bytes, 0xE000, 0);
    assert!(check(&bytes).is_ok());
    // The same sequence claiming more bytes than its items occupy is an overrun.
    let mut bad = file("1.2.840.10008.1.2");
    bad.extend_from_slice(&[0x08, 0x00, 0x15, 0x11]);
    bad.extend_from_slice(&6u32.to_le_bytes());
    delimiter(&mut bad, 0xE000, 0);
    assert!(check(&bad).is_err());
}

#[test]
fn a_missing_meta_group_is_refused() {
    let mut bytes = vec![0u8; 128];
    bytes.extend_from_slice(b"DICM");
    short(&mut bytes, 0x0008, 0x0060, b"CS", b"CT");
    assert!(check(&bytes).is_err());
}
