//! One study as a ZIP produced while it is uploaded: a thread writes the archive (zip's streaming
//! writer, data descriptors instead of seeking back) into a bounded channel that feeds the
//! request body. Nothing is staged on disk and at most a few chunks are in memory.
//!
//! Entries of input archives are copied raw (still compressed, never inflated and deflated
//! again); loose files are deflated at a fast level.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::PathBuf;

use bytes::Bytes;
use tokio::sync::mpsc;
use triage_engine::{Location, Member};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

/// Bytes handed to the body at a time.
const CHUNK: usize = 256 << 10;
/// Chunks in flight between the zipping thread and the request.
const CHANNEL_CHUNKS: usize = 4;

/// The receiving end: chunks of the archive, or the error that stopped it.
pub type Chunks = mpsc::Receiver<io::Result<Bytes>>;

/// Starts zipping `members` under names relative to `folder` (their common folder) and returns
/// the chunk stream and the sum of the members' (stored) sizes, an estimate of the upload size.
pub fn zip_study(members: Vec<Member>, folder: &str) -> (Chunks, u64) {
    let estimate = stored_size(&members);
    let (sender, receiver) = mpsc::channel(CHANNEL_CHUNKS);
    let prefix = if folder.is_empty() || folder == "." {
        String::new()
    } else {
        format!("{folder}/")
    };
    std::thread::spawn(move || {
        let writer = ChannelWriter {
            sender: sender.clone(),
            buffer: Vec::with_capacity(CHUNK),
        };
        if let Err(e) = write_zip(writer, &members, &prefix) {
            // The body ends with the error; if the upload is gone already, nobody listens.
            let _ = sender.blocking_send(Err(e));
        }
    });
    (receiver, estimate)
}

fn write_zip(writer: ChannelWriter, members: &[Member], prefix: &str) -> io::Result<()> {
    let mut zip = ZipWriter::new_stream(writer);
    let deflate = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(false);
    let mut open: Option<(PathBuf, ZipArchive<BufReader<File>>)> = None;
    let mut names = std::collections::HashSet::new();
    for member in members {
        let name = entry_name(&member.name, prefix);
        // The same file given twice (two copies of one export) is sent once.
        if !names.insert(name.clone()) {
            continue;
        }
        match &member.location {
            Location::File(path) => {
                zip.start_file(name, deflate).map_err(io::Error::other)?;
                io::copy(&mut BufReader::new(File::open(path)?), &mut zip)?;
            }
            Location::ZipEntry { archive, index } => {
                if open.as_ref().is_none_or(|(p, _)| p != archive) {
                    let opened = ZipArchive::new(BufReader::new(File::open(archive)?))
                        .map_err(io::Error::other)?;
                    open = Some((archive.clone(), opened));
                }
                if let Some((_, source)) = open.as_mut() {
                    let entry = source.by_index_raw(*index).map_err(io::Error::other)?;
                    zip.raw_copy_file_rename(entry, name)
                        .map_err(io::Error::other)?;
                }
            }
        }
    }
    let mut writer = zip.finish().map_err(io::Error::other)?.into_inner();
    writer.flush()
}

/// The member's name below `prefix`, with only plain components (the server refuses absolute
/// names and `..`).
fn entry_name(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .split('/')
        .filter(|part| !part.is_empty() && *part != "." && *part != "..")
        .collect::<Vec<_>>()
        .join("/")
}

/// The bytes the members occupy where they are (compressed size for archive entries); each
/// archive's directory is read once.
fn stored_size(members: &[Member]) -> u64 {
    let mut archives: HashMap<&PathBuf, Option<ZipArchive<BufReader<File>>>> = HashMap::new();
    members
        .iter()
        .map(|member| match &member.location {
            Location::File(path) => std::fs::metadata(path).map_or(0, |m| m.len()),
            Location::ZipEntry { archive, index } => archives
                .entry(archive)
                .or_insert_with(|| {
                    File::open(archive)
                        .ok()
                        .and_then(|f| ZipArchive::new(BufReader::new(f)).ok())
                })
                .as_mut()
                .and_then(|a| a.by_index_raw(*index).ok().map(|e| e.compressed_size()))
                .unwrap_or(0),
        })
        .sum()
}

/// `Write` into the channel, in chunks of [`CHUNK`] bytes.
struct ChannelWriter {
    sender: mpsc::Sender<io::Result<Bytes>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK),
        ));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_relative_and_plain() {
        assert_eq!(
            entry_name("/work/a/b.zip/P1/IM1", "/work/a/b.zip/"),
            "P1/IM1"
        );
        assert_eq!(entry_name("/x/../y/IM1", ""), "x/y/IM1");
    }
}
