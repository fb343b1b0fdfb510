//! `POST /rest/v1/rpc/{function}`: a JSON object of named arguments, the overload chosen by
//! their names, the function's result as JSON (204 for `void`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};

use super::request::{parse_json, respond, Call, Outcome};
use super::state::AppState;
use crate::error::ApiError;
use crate::schema::rpc_sql;

pub(super) async fn rpc(
    State(state): State<Arc<AppState>>,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/rpc/{function}");
    let query = query.as_deref();
    let work = |call| async move { call_function(&call, &function, &body).await };
    respond(&state, &Method::POST, &path, &headers, query, work).await
}

async fn call_function(call: &Call<'_>, function: &str, body: &[u8]) -> Result<Outcome, ApiError> {
    let state = call.state;
    let args: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        parse_json(body)?
    };
    let Value::Object(obj) = &args else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "PGRST102",
            "The request body must be a JSON object of named arguments",
        ));
    };
    let mut keys: Vec<String> = obj.keys().cloned().collect();
    keys.sort();
    let cache = state
        .schema_with(|c| c.function(function, &keys).is_some())
        .await?;
    let Some(def) = cache.function(function, &keys) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "PGRST202",
            format!(
                "Could not find the function {}.{}({}) in the schema cache",
                state.schema_name,
                function,
                keys.join(", ")
            ),
        )
        .with_hint(
            "If a new function was created in the database with this name and parameters, try reloading the schema cache.",
        ));
    };
    let sql = rpc_sql(&state.schema_name, def, &keys);
    let returns_void = def.returns_void;
    let args_text = args.to_string();
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = if keys.is_empty() {
        Vec::new()
    } else {
        vec![&args_text]
    };
    let row = call.run(&sql, &params).await?;
    if returns_void {
        return Ok(Outcome {
            status: StatusCode::NO_CONTENT,
            body: None,
            content_range: None,
        });
    }
    let body = row
        .and_then(|(b, _)| b)
        .unwrap_or_else(|| "null".to_string());
    Ok(Outcome {
        status: StatusCode::OK,
        body: Some(body),
        content_range: None,
    })
}
