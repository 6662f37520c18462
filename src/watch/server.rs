//! The HTTP endpoint Prometheus scrapes: `GET /metrics`, and a one-line index at `/`.
//!
//! tiny_http: a small synchronous server with no async runtime, enough for one scrape every
//! few seconds; it runs on a thread of its own and is stopped by `unblock`.

use super::metrics::{Metrics, CONTENT_TYPE};
use anyhow::{anyhow, Result};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tiny_http::{Header, Method, Response, Server};

/// A bound metrics endpoint, not yet serving.
pub struct MetricsServer {
    server: Arc<Server>,
    addr: SocketAddr,
}

impl MetricsServer {
    /// Binds `addr` (port 0 picks a free one; `addr()` says which).
    pub fn bind(addr: SocketAddr) -> Result<Self> {
        let server = Server::http(addr).map_err(|err| {
            anyhow!(
                "cannot listen on {addr}: {err}; is another remus-tune watch (or an exporter) \
                 on that port? Choose another with --listen"
            )
        })?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| anyhow!("the metrics server on {addr} has no IP address"))?;
        Ok(Self {
            server: Arc::new(server),
            addr,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that stops `serve` from another thread.
    pub fn stopper(&self) -> impl Fn() + Send + 'static {
        let server = Arc::clone(&self.server);
        move || server.unblock()
    }

    /// Answers requests until `done` is set and the stopper called.
    pub fn serve(&self, metrics: &Metrics, done: &AtomicBool) {
        loop {
            let request = match self.server.recv() {
                Ok(request) => request,
                Err(_) if done.load(Ordering::SeqCst) => return,
                Err(err) => {
                    // A failed accept (out of file descriptors, …) must not end serving.
                    crate::warn!("the metrics server on {}: {err}", self.addr);
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    continue;
                }
            };
            let response = match (request.method(), request.url()) {
                (Method::Get, "/metrics") => {
                    with_type(Response::from_string(metrics.encode()), CONTENT_TYPE)
                }
                (Method::Get, "/") => with_type(
                    Response::from_string(
                        "remus-tune watch: the metrics are at /metrics\n".to_string(),
                    ),
                    "text/plain; charset=utf-8",
                ),
                (Method::Get, _) => Response::from_string("not found: try /metrics\n".to_string())
                    .with_status_code(404),
                _ => {
                    Response::from_string("only GET is served\n".to_string()).with_status_code(405)
                }
            };
            // A scraper that hung up is its own business; the next scrape gets a fresh answer.
            let _ = request.respond(response);
        }
    }
}

fn with_type(
    response: Response<std::io::Cursor<Vec<u8>>>,
    content_type: &str,
) -> Response<std::io::Cursor<Vec<u8>>> {
    match Header::from_bytes("Content-Type", content_type) {
        Ok(header) => response.with_header(header),
        Err(()) => response,
    }
}
