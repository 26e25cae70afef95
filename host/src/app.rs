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
        .map_err(|e| Error::Config(format!("listener: {e}")))?;
    config.check_address(address)?;
    let page = config.page()?;
    let gate = config
        .observe(config.host.builder().await?)?
        .build()
        .await?;
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
