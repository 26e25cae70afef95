//! `partnergate serve`, wired in one place: the host with its backends, the
//! outbox worker, sign-in and the router, served on a listener until
//! shutdown. The binary and the integration tests both start it here.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::config::ServeOptions;
use crate::error::Error;

/// How often the outbox worker looks for due messages when nothing wakes it.
pub const OUTBOX_POLL: Duration = Duration::from_secs(1);

/// Runs `partnergate serve` with `config` on `listener` until `shutdown`
/// completes; the outbox worker stops with it.
pub async fn run(
    listener: TcpListener,
    config: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let address = listener
        .local_addr()
        .map_err(|e| Error::misconfigured("listener", e))?;
    config.check_address(address)?;
    let page = config.page()?;
    // Until the plugin is compiled and the policy set loaded, every request
    // is answered 503 `starting` at once, not held on an accepted
    // connection.
    let starting = Starting::serve(&listener)?;
    let built = async { config.observe(config.host.builder().await?)?.build().await }.await;
    starting.stop().await;
    let gate = built?;
    let outbox = gate.spawn_outbox(config.mailer()?, OUTBOX_POLL);
    let sign_in = config.sign_in(&gate).await?;
    let summary = gate.policy_summary();
    eprintln!(
        "partnergate listening on http://{address} (policy set {}, {})",
        summary.version, summary.source
    );
    let router = crate::server::router_with(gate, config.service_token.clone(), sign_in, page);
    let served = crate::server::serve_router(listener, router, shutdown).await;
    outbox.stop().await;
    served.map_err(|e| Error::Unavailable(format!("serving on {address}: {e}")))
}

/// The answer of a server still starting: 503 `starting`, `Retry-After: 1`,
/// the connection closed after it.
async fn starting() -> axum::response::Response {
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::IntoResponse;
    let body = serde_json::json!({
        "code": "starting",
        "message": "the plugin is still being compiled: retry shortly",
    });
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A server answering [`starting`] on a second handle of the listener,
/// until stopped.
struct Starting {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Starting {
    fn serve(listener: &TcpListener) -> Result<Self, Error> {
        use std::os::fd::AsFd;
        let handle = listener
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::misconfigured("listener", e))?;
        let handle = TcpListener::from_std(std::net::TcpListener::from(handle))
            .map_err(|e| Error::misconfigured("listener", e))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = axum::Router::new().fallback(starting);
        let task = tokio::spawn(async move {
            let _ = axum::serve(handle, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self { stop, task })
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
