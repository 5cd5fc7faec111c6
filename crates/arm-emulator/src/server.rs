//! The accept loop: one hyper HTTP/1.1 connection task per socket.

use super::handler::Shared;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Accepts connections until `shutdown` fires (or its sender is dropped).
/// Connection tasks end with the runtime.
pub(super) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        let service = service_fn(move |req| Arc::clone(&shared).handle(req));
                        // Keep-alive, no header-read timeout: idle client
                        // connections stay usable. A service error (a
                        // dropped request) ends the connection without a
                        // response; so do client errors.
                        let _ = http1::Builder::new()
                            .keep_alive(true)
                            .header_read_timeout(None)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                // Out of file descriptors and the like: back off briefly.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
        }
    }
}
