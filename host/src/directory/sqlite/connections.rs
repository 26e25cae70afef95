//! SQLite off the async runtime: every call runs on tokio's blocking pool,
//! on the one writer connection or on one of several read-only ones. In WAL
//! mode a read runs while a write commits, and no runtime worker ever waits
//! for SQLite, so plugin deadlines and other requests go on meanwhile.

use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::DirectoryError;

/// The writer and the readers of one database.
pub(super) struct Connections {
    writer: Arc<Mutex<Connection>>,
    /// `None` for `:memory:`: its one connection reads and writes.
    readers: Option<Arc<Readers>>,
}

struct Readers {
    idle: Mutex<Vec<Connection>>,
    /// One permit per idle connection; held until the connection is back.
    permits: Arc<Semaphore>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a connection leaves nothing half-done: SQLite
    // rolls back an open transaction when its guard drops.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn blocking_failed(err: tokio::task::JoinError) -> DirectoryError {
    DirectoryError::Internal(format!("a SQLite call failed: {err}"))
}

/// A reader lent to one call, given back to the idle ones when dropped.
struct Lent<'a> {
    conn: Option<Connection>,
    idle: &'a Mutex<Vec<Connection>>,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            lock(self.idle).push(conn);
        }
    }
}

impl Connections {
    /// `writer` for changes; `readers` (read-only, may be empty) for reads.
    pub(super) fn new(writer: Connection, readers: Vec<Connection>) -> Self {
        let readers = (!readers.is_empty()).then(|| {
            Arc::new(Readers {
                permits: Arc::new(Semaphore::new(readers.len())),
                idle: Mutex::new(readers),
            })
        });
        Self {
            writer: Arc::new(Mutex::new(writer)),
            readers,
        }
    }

    /// A read keyed by one text (an id, an email), which is copied for
    /// the reading thread.
    pub(super) async fn read_by<T, F>(&self, key: &str, read: F) -> Result<T, DirectoryError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &str) -> Result<T, DirectoryError> + Send + 'static,
    {
        let key = key.to_string();
        self.read(move |conn| read(conn, &key)).await
    }

    /// Runs `read` on a reader (the writer when there are none), on the
    /// blocking pool.
    pub(super) async fn read<T, F>(&self, read: F) -> Result<T, DirectoryError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DirectoryError> + Send + 'static,
    {
        let Some(readers) = &self.readers else {
            return self.write(move |conn| read(conn)).await;
        };
        let permit = readers
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| DirectoryError::Internal(e.to_string()))?;
        let readers = readers.clone();
        tokio::task::spawn_blocking(move || {
            // Given back when dropped, even when `read` panics, so that every
            // permit keeps standing for an idle reader.
            let lent = Lent {
                conn: lock(&readers.idle).pop(),
                idle: &readers.idle,
            };
            let conn = lent
                .conn
                .as_ref()
                .expect("a permit stands for an idle reader");
            let result = read(conn);
            drop(lent);
            // Released only once the connection is idle again, even when
            // the caller stopped waiting.
            drop(permit);
            result
        })
        .await
        .map_err(blocking_failed)?
    }

    /// Runs `write` on the writer, on the blocking pool.
    pub(super) async fn write<T, F>(&self, write: F) -> Result<T, DirectoryError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DirectoryError> + Send + 'static,
    {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || write(&mut lock(&writer)))
            .await
            .map_err(blocking_failed)?
    }

    /// The writer, here and now (start-up, tests): never from async code.
    pub(super) fn writer(&self) -> MutexGuard<'_, Connection> {
        lock(&self.writer)
    }
}
