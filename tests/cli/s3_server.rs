//! The replica tests' S3-protocol server: the `s3s-fs` crate's server (the library its `s3s-fs`
//! binary runs, with the same file-system backend and signature checks), listening on
//! 127.0.0.1 from a thread of this test process, once per test run. Built as a dev-dependency,
//! it reuses the HTTP stack already compiled for jobsweep's own client instead of a second
//! build of it, which keeps a clean CI run inside its time budget.

use std::path::Path;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

/// Serves `root` (one directory per bucket) on a free port of 127.0.0.1 until the test process
/// exits; returns the port. Requests must be signed with `access_key`/`secret_key`.
pub fn start(root: &Path, access_key: &str, secret_key: &str) -> u16 {
    let backend = s3s_fs::FileSystem::new(root).expect("s3s-fs serves the temp root");
    let mut service = S3ServiceBuilder::new(backend);
    service.set_auth(SimpleAuth::from_single(access_key, secret_key));
    let service = service.build();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("bound address").port();
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let serve = move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("the server's runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let http = Builder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let connection = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                tokio::spawn(connection);
            }
        })
    };
    std::thread::Builder::new()
        .name("s3s-fs".into())
        .spawn(serve)
        .expect("the server's thread");
    port
}
