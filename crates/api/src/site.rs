//! The built single-page frontend, when `web.static_dir` names one: every GET or HEAD that no
//! API route answered gets the file it names under that directory, or `index.html` for a
//! client-side route. Paths under the API's prefixes (`/api`, `/jobs`, `/auth`, …) keep their
//! JSON 404, and so do other methods.
//!
//! No path leaves the directory: the decoded path may hold no `.`/`..` segment, no
//! backslash and no hidden name, and the file it resolves to (after symlinks) must still lie
//! under the canonical directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::body::SizedStream;
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use tokio::io::AsyncReadExt;

use crate::rejection::not_found;

/// First path segments that belong to the API (root and `/api` forms): never the frontend.
const API_PREFIXES: &[&str] = &[
    "api",
    "auth",
    "users",
    "jobs",
    "upload",
    "files",
    "download",
    "signed",
    "internal",
    "ws",
    "health",
    "ready",
    "metrics",
    "docs",
    "openapi.json",
];

const INDEX: &str = "index.html";
const CHUNK: usize = 64 * 1024;

/// The frontend's directory, resolved once.
#[derive(Debug)]
pub(crate) struct Site {
    root: PathBuf,
}

impl Site {
    /// `None` (unknown paths stay JSON 404s) when the directory cannot be resolved; the
    /// server checks it at start-up, so this only logs.
    pub(crate) fn open(dir: &Path) -> Option<Arc<Self>> {
        match std::fs::canonicalize(dir) {
            Ok(root) if root.is_dir() => {
                if !root.join(INDEX).is_file() {
                    tracing::warn!(dir = %root.display(), "web.static_dir has no index.html");
                }
                Some(Arc::new(Self { root }))
            }
            Ok(_) | Err(_) => {
                tracing::error!(dir = %dir.display(), "web.static_dir is not a readable directory: not serving the frontend");
                None
            }
        }
    }

    /// The default service: a file, `index.html`, or the JSON 404.
    pub(crate) async fn respond(self: Arc<Self>, req: HttpRequest) -> HttpResponse {
        let page = matches!(*req.method(), Method::GET | Method::HEAD) && !is_api_path(req.path());
        let relative = if page {
            relative_path(req.path())
        } else {
            None
        };
        let Some(relative) = relative else {
            return not_found(req).await;
        };
        let mut file = None;
        if !relative.as_os_str().is_empty() {
            file = self.resolve(&self.root.join(&relative)).await;
        }
        if file.is_none() && wants_page(&req, &relative) {
            file = self.resolve(&self.root.join(INDEX)).await;
        }
        let response = match file {
            Some(file) => self.send(&file).await,
            None => None,
        };
        match response {
            Some(response) => response,
            None => not_found(req).await,
        }
    }

    /// The canonical path of a regular file under the root, if `path` is one.
    async fn resolve(&self, path: &Path) -> Option<PathBuf> {
        let canonical = tokio::fs::canonicalize(path).await.ok()?;
        if !canonical.starts_with(&self.root) {
            tracing::warn!(path = %path.display(), "refused a static path leading out of web.static_dir");
            return None;
        }
        let meta = tokio::fs::metadata(&canonical).await.ok()?;
        meta.is_file().then_some(canonical)
    }

    /// Streams the file with its content type. `None` if it vanished meanwhile.
    async fn send(&self, path: &Path) -> Option<HttpResponse> {
        let file = tokio::fs::File::open(path).await.ok()?;
        let len = file.metadata().await.ok()?.len();
        let body = futures_util::stream::try_unfold(file, |mut file| async move {
            let mut buf = vec![0u8; CHUNK];
            let read = file.read(&mut buf).await?;
            if read == 0 {
                return Ok::<_, std::io::Error>(None);
            }
            buf.truncate(read);
            Ok(Some((Bytes::from(buf), file)))
        });
        let mut response = HttpResponse::Ok();
        response
            .insert_header((header::CONTENT_TYPE, content_type(path)))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
        if path.file_name().is_some_and(|name| name == INDEX) {
            // The entry page names the hashed assets of the current build: always revalidate.
            response.insert_header((header::CACHE_CONTROL, "no-cache"));
        }
        Some(response.body(SizedStream::new(len, Box::pin(body))))
    }
}

fn is_api_path(path: &str) -> bool {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    API_PREFIXES.contains(&first)
}

/// The percent-decoded path as a relative path of plain names, or `None` when it holds a
/// segment that could climb out or reach a hidden file.
fn relative_path(raw: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?;
    let mut relative = PathBuf::new();
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        let unsafe_segment = segment.starts_with('.')
            || segment.contains(['\\', '\0', ':'])
            || Path::new(segment).is_absolute();
        if unsafe_segment {
            return None;
        }
        relative.push(segment);
    }
    Some(relative)
}

/// A client-side route: no file extension in the last segment, or a browser asking for HTML.
fn wants_page(req: &HttpRequest, relative: &Path) -> bool {
    let no_extension = relative.extension().is_none();
    let accepts_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    no_extension || accepts_html
}

fn content_type(path: &Path) -> HeaderValue {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let textual = mime.type_() == mime::TEXT
        || matches!(
            mime.subtype().as_str(),
            "javascript" | "json" | "xml" | "manifest+json"
        );
    let value = if textual && mime.get_param(mime::CHARSET).is_none() {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_could_climb_out_are_refused() {
        assert_eq!(relative_path("/"), Some(PathBuf::new()));
        assert_eq!(
            relative_path("/assets/app%201.js"),
            Some(PathBuf::from("assets/app 1.js"))
        );
        for bad in [
            "/../etc/passwd",
            "/..%2f..%2fetc%2fpasswd",
            "/%2e%2e/secret",
            "/assets/..",
            "/a/./b",
            "/.env",
            "/a%5c..%5cb",
            "/%00",
            "/C:%5cwindows",
            "/%ff",
        ] {
            assert_eq!(relative_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn api_prefixes_are_not_pages() {
        for path in [
            "/api",
            "/api/nope",
            "/jobs/x/y/z",
            "/docs/",
            "/openapi.json",
            "/ws/x",
        ] {
            assert!(is_api_path(path), "{path}");
        }
        for path in ["/", "/dashboard", "/apis", "/jobsite", "/assets/app.js"] {
            assert!(!is_api_path(path), "{path}");
        }
    }

    #[test]
    fn content_types_carry_a_charset_for_text() {
        let of = |name: &str| content_type(Path::new(name)).to_str().unwrap().to_owned();
        assert_eq!(of("index.html"), "text/html; charset=utf-8");
        assert_eq!(of("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(of("app.css"), "text/css; charset=utf-8");
        assert_eq!(of("logo.png"), "image/png");
        assert_eq!(of("font.woff2"), "font/woff2");
        assert_eq!(of("blob"), "application/octet-stream");
    }
}
