//! Archives for tests, including broken and hostile ones. A tiny raw ZIP writer gives full
//! control over names and flags (ZIP libraries refuse to write the hostile ones).

/// One entry of a hand-built archive (stored, not compressed).
pub struct RawEntry {
    pub name: Vec<u8>,
    pub data: Vec<u8>,
    /// General purpose flags; bit 0 marks the entry as encrypted.
    pub flags: u16,
    /// Compression method: 0 stored, 8 deflated (then `data` is the deflate stream).
    pub method: u16,
    /// CRC-32 and size of the uncompressed content, when `data` is compressed.
    pub uncompressed: Option<(u32, u32)>,
}

impl RawEntry {
    pub fn new(name: impl Into<Vec<u8>>, data: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.into(),
            data: data.into(),
            flags: 0,
            method: 0,
            uncompressed: None,
        }
    }
}

/// Writes `entries` as a ZIP with stored entries, exactly as given.
pub fn raw_zip(entries: &[RawEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for entry in entries {
        let offset = out.len() as u32;
        let size = entry.data.len() as u32;
        let (crc, plain_size) = entry
            .uncompressed
            .unwrap_or_else(|| (crc32fast::hash(&entry.data), size));
        let name_len = entry.name.len() as u16;
        // local file header
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        for v in [20u16, entry.flags, entry.method, 0, 0x21] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, size, plain_size] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&entry.name);
        out.extend_from_slice(&entry.data);
        // central directory header
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        for v in [20u16, 20, entry.flags, entry.method, 0, 0x21] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, size, plain_size] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [name_len, 0, 0, 0, 0] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        central.extend_from_slice(&0u32.to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(&entry.name);
    }
    let cd_offset = out.len() as u32;
    let count = entries.len() as u16;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, count, count] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A minimal valid DICOM file (preamble, `DICM`, a File Meta group and a few CT tags).
pub fn tiny_dicom() -> Vec<u8> {
    let fixture = super::fixture("ct-normal.zip");
    let file = std::fs::File::open(fixture).expect("fixture");
    let mut archive = zip::ZipArchive::new(file).expect("fixture zip");
    let mut entry = archive.by_index(0).expect("first entry");
    let mut bytes = Vec::new();
    std::io::copy(&mut entry, &mut bytes).expect("read entry");
    bytes
}

/// A ZIP holding one entry named `name` (with a DICOM body, so only the name is wrong).
pub fn zip_with_name(name: &str) -> Vec<u8> {
    raw_zip(&[RawEntry::new(name.as_bytes().to_vec(), tiny_dicom())])
}

/// A ZIP whose only entry is flagged as encrypted.
pub fn encrypted_zip() -> Vec<u8> {
    let mut entry = RawEntry::new("secret.dcm", tiny_dicom());
    entry.flags = 1;
    raw_zip(&[entry])
}

/// `size` bytes of zeros (a multiple of 1 MiB, under 4 GiB), deflated, in one entry: a zip
/// bomb. Deflating a gigabyte takes seconds, so one flushed megabyte is repeated instead: its
/// back-references only reach zeros, so the repeats decode to zeros too.
pub fn zeros_bomb(size: u64) -> Vec<u8> {
    const CHUNK: usize = 1 << 20;
    assert!(
        size.is_multiple_of(CHUNK as u64) && size < u32::MAX as u64,
        "unsupported bomb size"
    );
    let zeros = vec![0u8; CHUNK];
    let mut deflate = flate2::Compress::new(flate2::Compression::best(), false);
    let mut block = Vec::with_capacity(CHUNK);
    deflate
        .compress_vec(&zeros, &mut block, flate2::FlushCompress::Sync)
        .expect("deflate");
    let repeats = (size / CHUNK as u64) as usize;
    let mut stream = Vec::with_capacity(block.len() * repeats + 2);
    let mut crc = crc32fast::Hasher::new();
    for _ in 0..repeats {
        stream.extend_from_slice(&block);
        crc.update(&zeros);
    }
    // An empty final block with fixed Huffman codes ends the stream.
    stream.extend_from_slice(&[0x03, 0x00]);
    let mut entry = RawEntry::new("zeros.dcm", stream);
    entry.method = 8;
    entry.uncompressed = Some((crc.finalize(), size as u32));
    raw_zip(&[entry])
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    #[test]
    fn the_bomb_decodes_to_zeros() {
        let bomb = super::zeros_bomb(4 << 20);
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bomb)).expect("zip");
        let mut entry = archive.by_index(0).expect("entry");
        let mut content = Vec::new();
        entry
            .read_to_end(&mut content)
            .expect("inflate and CRC check");
        assert_eq!(content.len(), 4 << 20);
        assert!(content.iter().all(|b| *b == 0));
    }
}
