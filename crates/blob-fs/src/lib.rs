//! BlobStore on a local directory
