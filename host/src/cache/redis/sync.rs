//! The node's background tasks: the invalidation subscription (with the
//! acknowledgements it sends and receives) and the heartbeat in the live
//! set.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use super::inner::Inner;
use super::keys::{GEN, INCARNATION, INVALIDATIONS, NODES, ack_channel, now_ms};
use crate::model::{Account, Staff};

/// Keeps the subscription up; flushes L1 whenever it is down.
pub(super) async fn subscriber(inner: Arc<Inner>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        if let Err(err) = subscribe_once(&inner).await {
            tracing::debug!("Redis subscription: {err}");
        }
        if inner.subscribed.swap(false, Ordering::SeqCst) {
            tracing::warn!("lost the Redis subscription: reading the directory until it is back");
        }
        inner.flush_l1();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

async fn subscribe_once(inner: &Arc<Inner>) -> redis::RedisResult<()> {
    let mut pubsub = inner.client.get_async_pubsub().await?;
    pubsub.subscribe(INVALIDATIONS).await?;
    pubsub.subscribe(ack_channel(&inner.node)).await?;
    let mut conn = inner.conn.clone();
    // Invalidations may have been missed while disconnected: start a new
    // generation so that nothing cached before is read again.
    let generation: u64 = conn.incr(GEN, 1).await?;
    // A Redis that holds no incarnation is new or restarted: its sequence
    // numbers started again, so fills whose tickets name another
    // incarnation must be refused.
    let _: Option<String> = redis::cmd("SET")
        .arg(INCARNATION)
        .arg(format!("{}-{generation}", inner.node))
        .arg("NX")
        .query_async(&mut conn)
        .await?;
    inner.generation.fetch_max(generation, Ordering::SeqCst);
    inner.flush_l1();
    let _: i64 = conn
        .publish(INVALIDATIONS, format!("g {generation} {} -", inner.node))
        .await?;
    mark_live(inner, &mut conn).await?;
    *inner.last_beat.lock().expect("beat lock") = Some(Instant::now());
    inner.subscribed.store(true, Ordering::SeqCst);
    tracing::info!(
        node = inner.node,
        generation,
        "status cache connected to Redis"
    );
    let mut messages = pubsub.into_on_message();
    while let Some(msg) = messages.next().await {
        let payload: String = msg.get_payload().unwrap_or_default();
        let mut parts = payload.split(' ');
        if msg.get_channel_name() != INVALIDATIONS {
            // An acknowledgement of one of our invalidations: "<seq> <node>".
            let (Some(Ok(seq)), Some(node)) = (parts.next().map(str::parse::<u64>), parts.next())
            else {
                continue;
            };
            inner
                .acks
                .lock()
                .expect("ack lock")
                .entry(seq)
                .or_default()
                .insert(node.to_string());
            inner.ack_arrived.notify_waiters();
            continue;
        }
        let (Some(kind), Some(seq), Some(origin)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Ok(seq) = seq.parse::<u64>() else {
            continue;
        };
        let id = parts
            .next()
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| String::from_utf8(b).ok());
        match (kind, id) {
            ("p", Some(person)) => inner.drop_one::<Account>(&person),
            ("o", Some(org)) => inner.drop_organization(&org),
            ("s", Some(staff)) => inner.drop_one::<Staff>(&staff),
            ("g", _) => {
                inner.generation.fetch_max(seq, Ordering::SeqCst);
                inner.flush_l1();
            }
            _ => continue,
        }
        if kind != "g" && origin != inner.node {
            let ack = format!("{seq} {}", inner.node);
            let _: Result<i64, _> = conn.publish(ack_channel(origin), ack).await;
        }
    }
    Ok(())
}

/// Registers this node in the live set; notices eviction and flushes.
pub(super) async fn heartbeat(inner: Arc<Inner>) {
    loop {
        tokio::time::sleep(inner.config.heartbeat).await;
        if !inner.subscribed.load(Ordering::SeqCst) {
            continue;
        }
        let mut conn = inner.conn.clone();
        let beat = async {
            let score: Option<f64> = conn.zscore(NODES, &inner.node).await?;
            if score.is_none() {
                tracing::warn!(
                    node = inner.node,
                    "this node was evicted from the live set: flushing L1"
                );
                inner.flush_l1();
            }
            mark_live(&inner, &mut conn).await?;
            let _: i64 = redis::cmd("ZREMRANGEBYSCORE")
                .arg(NODES)
                .arg("-inf")
                .arg(now_ms())
                .query_async(&mut conn)
                .await?;
            redis::RedisResult::Ok(())
        };
        match beat.await {
            Ok(()) => *inner.last_beat.lock().expect("beat lock") = Some(Instant::now()),
            Err(err) => {
                tracing::warn!("Redis heartbeat failed: {err}");
                inner.flush_l1();
            }
        }
    }
}

/// Puts this node in the live set for five heartbeats.
async fn mark_live(inner: &Inner, conn: &mut ConnectionManager) -> redis::RedisResult<()> {
    let until = now_ms() + 5 * inner.config.heartbeat.as_millis() as u64;
    conn.zadd::<_, _, _, i64>(NODES, &inner.node, until).await?;
    Ok(())
}
