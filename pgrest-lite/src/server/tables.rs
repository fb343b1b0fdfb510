//! `GET /rest/v1/{table}` (a filtered, ordered, paged read; see [`crate::query`]) and
//! `POST /rest/v1/{table}` (an insert of JSON rows).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::request::{invalid_json, parse_json, respond, Call, Outcome};
use super::state::AppState;
use crate::error::ApiError;
use crate::query::ReadRequest;
use crate::schema::quote_ident;

fn table_not_found(state: &AppState, table: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "PGRST205",
        format!(
            "Could not find the table '{}.{}' in the schema cache",
            state.schema_name, table
        ),
    )
}

pub(super) async fn read_table(
    State(state): State<Arc<AppState>>,
    Path(table): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let path = format!("/{table}");
    let query = query.as_deref();
    let work = |call| async move { read(&call, &table, query).await };
    respond(&state, &Method::GET, &path, &headers, query, work).await
}

async fn read(call: &Call<'_>, table: &str, query: Option<&str>) -> Result<Outcome, ApiError> {
    let state = call.state;
    let req = ReadRequest::parse(query.unwrap_or(""))?;
    let cache = state.schema_with(|c| c.tables.contains_key(table)).await?;
    let def = cache
        .tables
        .get(table)
        .ok_or_else(|| table_not_found(state, table))?;
    let (sql, params) = req.to_sql(&state.schema_name, def)?;
    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        params.iter().map(|p| p.as_sql()).collect();
    let row = call.run(&sql, &refs).await?;
    let (body, count) = row.unwrap_or((None, None));
    let count = count.unwrap_or(0);
    let first = req.offset.unwrap_or(0);
    let content_range = if count == 0 {
        "*/*".to_string()
    } else {
        format!("{}-{}/*", first, first + count - 1)
    };
    Ok(Outcome {
        status: StatusCode::OK,
        body: Some(body.unwrap_or_else(|| "[]".to_string())),
        content_range: Some(content_range),
    })
}

pub(super) async fn insert_table(
    State(state): State<Arc<AppState>>,
    Path(table): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/{table}");
    let query = query.as_deref();
    let work = |call| async move { insert(&call, &table, &body).await };
    respond(&state, &Method::POST, &path, &headers, query, work).await
}

/// `POST /rest/v1/{table}` with a JSON object or array of objects: an INSERT of the given
/// columns (as PostgREST does it, through `jsonb_populate_recordset`), 201 without a body.
/// Enough for head-office style writes and for checking that devices cannot write.
async fn insert(call: &Call<'_>, table: &str, body: &[u8]) -> Result<Outcome, ApiError> {
    let state = call.state;
    let rows = match parse_json(body)? {
        Value::Array(a) => a,
        o @ Value::Object(_) => vec![o],
        _ => return Err(invalid_json()),
    };
    let mut columns: Vec<String> = match rows.first() {
        Some(Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    };
    columns.sort();
    if rows.is_empty() || columns.is_empty() {
        return Err(invalid_json());
    }
    let cache = state.schema_with(|c| c.tables.contains_key(table)).await?;
    let def = cache
        .tables
        .get(table)
        .ok_or_else(|| table_not_found(state, table))?;
    for c in &columns {
        if def.column_type(c).is_none() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "PGRST204",
                format!("Could not find the '{c}' column of '{table}' in the schema cache"),
            ));
        }
    }
    let cols = columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    let qualified = format!("{}.{}", quote_ident(&state.schema_name), quote_ident(table));
    let sql = format!(
        "with _ins as (insert into {qualified} ({cols}) select {cols} from jsonb_populate_recordset(null::{qualified}, $1::text::jsonb) returning 1) select null::text, count(*) from _ins"
    );
    let rows_text = Value::Array(rows).to_string();
    call.run(&sql, &[&rows_text]).await?;
    Ok(Outcome {
        status: StatusCode::CREATED,
        body: None,
        content_range: None,
    })
}
