//! What the store reports when the database fails.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The writer thread or the reader pool is gone (the service is stopping).
    #[error("database: the store is stopped")]
    Stopped,
    /// A store job panicked; the connection is still usable.
    #[error("database: a store operation panicked")]
    Panicked,
}

impl StoreError {
    /// A failure of the database, not of what was written: busy or locked by another writer,
    /// a full disk, an I/O error, read-only. Retried; never blamed on a message.
    pub fn is_transient(&self) -> bool {
        use rusqlite::ErrorCode::*;
        let e = match self {
            StoreError::Open { source: e, .. } | StoreError::Sql(e) => e,
            // The writer is going away: not the message's fault.
            StoreError::Stopped => return true,
            // Something in what was written made the store fail.
            StoreError::Panicked => return false,
        };
        match e.sqlite_error_code() {
            Some(code) => matches!(
                code,
                DatabaseBusy
                    | DatabaseLocked
                    | DiskFull
                    | SystemIoFailure
                    | ReadOnly
                    | OutOfMemory
                    | CannotOpen
                    | FileLockingProtocolFailed
                    | DatabaseCorrupt
                    | NotADatabase
            ),
            // Not an SQLite answer at all (e.g. a value rusqlite refused to bind): the message.
            None => false,
        }
    }
}
