//! `Backend` over the `object_store` crate (design.md §9): `s3://bucket/prefix` for AWS S3 and
//! S3-compatible servers, `file:///path` for a mounted remote disk. The crate brings the S3
//! protocol, credentials (the `AWS_*` variables, then the EC2 instance role), retries with
//! backoff and multipart uploads; this file only streams through it with bounded memory.
//!
//! jobsweep is synchronous: each backend owns a small tokio runtime and blocks on it.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig, WriteMultipart};

use super::backend::{Backend, Handle, Kind, ObjectInfo};
use super::error::{StoreError, UrlProblem};

/// Parts of a multipart upload; with `IN_FLIGHT` of them uploading at once, an upload holds at
/// most (IN_FLIGHT + 1) × PART bytes whatever the file's size (issue: ≤ 64 MiB).
const PART: usize = 8 << 20;
const IN_FLIGHT: usize = 4;
/// Read buffer for the source stream.
const BUF: usize = 1 << 20;

pub struct ObjectBackend {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    location: String,
    runtime: tokio::runtime::Runtime,
}

/// Opens the replica named by `url` (`s3://bucket/prefix` or `file:///path`). A malformed URL or
/// an unknown scheme is a usage error (exit 2).
pub fn open(url: &str, aws: &[(&str, &str)]) -> Result<ObjectBackend> {
    let bad = |why: UrlProblem| StoreError::BadReplicaUrl {
        url: url.to_string(),
        why,
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(UrlProblem::Invalid(e.to_string())))?;
    let (store, prefix): (Arc<dyn ObjectStore>, String) = match parsed.scheme() {
        "s3" => {
            let bucket = parsed
                .host_str()
                .filter(|b| !b.is_empty())
                .ok_or_else(|| bad(UrlProblem::NoBucket))?;
            let mut builder = AmazonS3Builder::from_env();
            for (key, value) in aws {
                if let Ok(key) = key.to_ascii_lowercase().parse() {
                    builder = builder.with_config(key, *value);
                }
            }
            let endpoint = aws
                .iter()
                .find(|(k, _)| *k == "AWS_ENDPOINT_URL")
                .map(|(_, v)| v.to_string())
                .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
            let mut builder = builder
                .with_bucket_name(bucket)
                .with_retry(retry())
                .with_client_options(
                    ClientOptions::new()
                        .with_connect_timeout(Duration::from_secs(10))
                        .with_timeout(Duration::from_secs(300)),
                );
            // S3-compatible servers (design.md §9): path-style requests, and plain http when
            // the endpoint says so (a server on the same network or 127.0.0.1 in the tests).
            if let Some(endpoint) = endpoint {
                builder = builder
                    .with_endpoint(&endpoint)
                    .with_virtual_hosted_style_request(false)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            let s3 = builder
                .build()
                .map_err(|e| bad(UrlProblem::Invalid(e.to_string())))?;
            (Arc::new(s3), parsed.path().to_string())
        }
        "file" => {
            let dir = parsed
                .to_file_path()
                .map_err(|()| bad(UrlProblem::NotLocalPath))?;
            std::fs::create_dir_all(&dir).map_err(|e| replica_error(url, e))?;
            let local =
                LocalFileSystem::new_with_prefix(&dir).map_err(|e| replica_error(url, e))?;
            (Arc::new(local), String::new())
        }
        other => return Err(bad(UrlProblem::Scheme(other.to_string())).into()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| replica_error(url, e))?;
    Ok(ObjectBackend {
        store,
        prefix: ObjectPath::from(prefix.trim_matches('/')),
        location: url.trim_end_matches('/').to_string(),
        runtime,
    })
}

/// Retries with backoff on transient errors, but not for minutes: a cron run should report an
/// unreachable replica (exit 8) within about a minute.
fn retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(8),
            base: 2.0,
        },
        max_retries: 4,
        retry_timeout: Duration::from_secs(60),
    }
}

/// A replica failure: exit 8, one line naming the replica.
fn replica_error(location: &str, e: impl std::fmt::Display) -> anyhow::Error {
    StoreError::Replica {
        location: location.to_string(),
        cause: e.to_string(),
    }
    .into()
}

impl ObjectBackend {
    fn path(&self, h: &Handle) -> ObjectPath {
        self.prefix.child(h.kind.dir()).child(h.name.as_str())
    }

    fn error(&self, h: &Handle, e: impl std::fmt::Display) -> anyhow::Error {
        replica_error(&format!("{}/{}", self.location, h.key()), e)
    }

    /// The upload proper; on error the caller aborts it.
    fn stream(&self, upload: &mut WriteMultipart, from: &mut dyn Read) -> Result<u64> {
        let mut buf = vec![0u8; BUF];
        let mut total = 0u64;
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            self.runtime
                .block_on(upload.wait_for_capacity(IN_FLIGHT))
                .map_err(anyhow::Error::from)?;
            // `write` starts part uploads as tasks of our runtime.
            let _inside = self.runtime.enter();
            upload.write(&buf[..n]);
            total += n as u64;
        }
    }
}

impl Backend for ObjectBackend {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn save(&self, h: &Handle, from: &mut dyn Read) -> Result<u64> {
        let path = self.path(h);
        // Multipart even for small files: the object exists only once the upload is completed,
        // so a killed upload leaves nothing under the name (design.md §9).
        let started = self
            .runtime
            .block_on(self.store.put_multipart(&path))
            .map_err(|e| self.error(h, e))?;
        let mut upload = WriteMultipart::new_with_chunk_size(started, PART);
        match self.stream(&mut upload, from) {
            Ok(n) => {
                // Tests kill the process here: the parts are sent, the object must not exist.
                crate::failpoint::hit("pause-replica-upload");
                self.runtime
                    .block_on(upload.finish())
                    .map_err(|e| self.error(h, e))?;
                Ok(n)
            }
            Err(e) => {
                let _ = self.runtime.block_on(upload.abort());
                // Our own reader's errors (a local file, an encryptor) keep their exit code.
                match e.downcast::<object_store::Error>() {
                    Ok(e) => Err(self.error(h, e)),
                    Err(e) => Err(e),
                }
            }
        }
    }

    fn load(&self, h: &Handle, to: &mut dyn Write) -> Result<u64> {
        let path = self.path(h);
        self.runtime.block_on(async {
            let got = self.store.get(&path).await.map_err(|e| self.error(h, e))?;
            let mut stream = got.into_stream();
            let mut total = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| self.error(h, e))?;
                to.write_all(&chunk)?;
                total += chunk.len() as u64;
            }
            Ok(total)
        })
    }

    fn stat(&self, h: &Handle) -> Result<Option<u64>> {
        match self.runtime.block_on(self.store.head(&self.path(h))) {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(h, e)),
        }
    }

    fn list(&self, kind: Kind) -> Result<Vec<ObjectInfo>> {
        let dir = self.prefix.child(kind.dir());
        let metas = self.runtime.block_on(async {
            let mut out = Vec::new();
            let mut listing = self.store.list(Some(&dir));
            while let Some(meta) = listing.next().await {
                out.push(meta?);
            }
            Ok::<_, object_store::Error>(out)
        });
        let metas =
            metas.map_err(|e| replica_error(&format!("{}/{}", self.location, kind.dir()), e))?;
        let mut found: Vec<ObjectInfo> = metas
            .into_iter()
            .filter_map(|meta| {
                let name = meta.location.filename()?.to_string();
                // Only direct children; dot names are nobody's objects.
                let direct = meta.location.prefix_match(&dir)?.count() == 1;
                (direct && !name.starts_with('.')).then(|| ObjectInfo {
                    handle: Handle::new(kind, name),
                    size: meta.size,
                })
            })
            .collect();
        found.sort_by(|a, b| a.handle.name.cmp(&b.handle.name));
        Ok(found)
    }

    fn remove(&self, h: &Handle) -> Result<()> {
        match self.runtime.block_on(self.store.delete(&self.path(h))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(h, e)),
        }
    }
}
