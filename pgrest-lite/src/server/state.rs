//! What every request shares: the connection pool, the JWT keys and the schema cache, which
//! is loaded at start-up and reloaded when a request names an object it does not know.

use std::sync::Arc;

use axum::http::StatusCode;
use deadpool_postgres::{Pool, PoolError};
use tokio::sync::RwLock;

use crate::error::ApiError;
use crate::jwt::JwtKeys;
use crate::schema::SchemaCache;

pub(super) struct AppState {
    pub(super) pool: Pool,
    pub(super) keys: JwtKeys,
    pub(super) schema_name: String,
    pub(super) anon_role: String,
    pub(super) cache: RwLock<Option<Arc<SchemaCache>>>,
}

impl AppState {
    pub(super) async fn reload_schema(&self) -> Result<Arc<SchemaCache>, ApiError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let cache = SchemaCache::load(&**client, &self.schema_name)
            .await
            .map_err(|e| ApiError::from_pg(&e, false))?;
        let cache = Arc::new(cache);
        *self.cache.write().await = Some(cache.clone());
        Ok(cache)
    }

    /// The schema cache, reloaded first if it lacks what `has` looks for (an unknown function
    /// or table): objects created after start-up are found without a restart. A miss is an
    /// error path, so the extra catalog read is cheap. The caller still checks the result.
    pub(super) async fn schema_with(
        &self,
        has: impl Fn(&SchemaCache) -> bool,
    ) -> Result<Arc<SchemaCache>, ApiError> {
        let cached = self.cache.read().await.clone();
        let cache = match cached {
            Some(c) => c,
            None => self.reload_schema().await?,
        };
        if has(&cache) {
            return Ok(cache);
        }
        self.reload_schema().await
    }
}

pub(super) fn pool_error(e: PoolError) -> ApiError {
    match e {
        PoolError::Timeout(_) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "PGRST003",
            "Timed out acquiring connection from connection pool.",
        ),
        PoolError::Backend(e) => ApiError::connection(e.to_string()),
        other => ApiError::connection(other.to_string()),
    }
}
