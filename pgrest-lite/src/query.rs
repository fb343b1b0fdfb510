//! `GET /rest/v1/{table}`: PostgREST's query-string grammar for the subset kassa uses —
//! `select`, filters `eq/neq/gt/gte/lt/lte/like/ilike/in/is` (optionally `not.`), `order`,
//! `limit`, `offset` — turned into one parameterised SQL statement. Identifiers are checked
//! against the schema cache and quoted; values are always bind parameters, cast through
//! `text` to the column's type.

use crate::error::ApiError;
use crate::schema::{quote_ident, TableDef};

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    Like,
    ILike,
    In(Vec<String>),
    Is(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub column: String,
    pub negate: bool,
    pub op: Op,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderTerm {
    pub column: String,
    pub desc: bool,
    pub nulls: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReadRequest {
    /// `(alias, column)`; empty = `*`.
    pub select: Vec<(String, String)>,
    pub filters: Vec<Filter>,
    pub order: Vec<OrderTerm>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

fn is_plain_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// Splits `a,b,"c,d"` respecting double quotes (with `\` escapes).
fn split_list(s: &str) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ',' if !quoted => {
                out.push(std::mem::take(&mut cur));
                was_quoted = false;
            }
            c => cur.push(c),
        }
    }
    if quoted {
        return Err(ApiError::parse(format!("unterminated quote in list ({s})")));
    }
    if !cur.is_empty() || was_quoted || !out.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

fn parse_filter(column: &str, raw: &str) -> Result<Filter, ApiError> {
    let bad = || ApiError::parse(format!("failed to parse filter ({raw})"));
    if !is_plain_ident(column) {
        return Err(ApiError::parse(format!(
            "unsupported column expression ({column})"
        )));
    }
    let (negate, rest) = match raw.strip_prefix("not.") {
        Some(r) => (true, r),
        None => (false, raw),
    };
    let (op, value) = rest.split_once('.').ok_or_else(bad)?;
    let op = match op {
        "eq" => Op::Eq,
        "neq" => Op::Neq,
        "gt" => Op::Gt,
        "gte" => Op::Gte,
        "lt" => Op::Lt,
        "lte" => Op::Lte,
        "like" => Op::Like,
        "ilike" => Op::ILike,
        "in" => {
            let inner = value
                .strip_prefix('(')
                .and_then(|v| v.strip_suffix(')'))
                .ok_or_else(bad)?;
            Op::In(split_list(inner)?)
        }
        "is" => match value.to_ascii_lowercase().as_str() {
            v @ ("null" | "true" | "false" | "unknown") => Op::Is(v.to_string()),
            _ => return Err(bad()),
        },
        _ => return Err(bad()),
    };
    Ok(Filter {
        column: column.to_string(),
        negate,
        op,
        value: value.to_string(),
    })
}

fn parse_order(raw: &str) -> Result<Vec<OrderTerm>, ApiError> {
    let mut terms = Vec::new();
    for part in raw.split(',') {
        let mut it = part.split('.');
        let column = it.next().unwrap_or("");
        if !is_plain_ident(column) {
            return Err(ApiError::parse(format!("failed to parse order ({raw})")));
        }
        let mut term = OrderTerm {
            column: column.to_string(),
            desc: false,
            nulls: None,
        };
        for m in it {
            match m {
                "asc" => term.desc = false,
                "desc" => term.desc = true,
                "nullsfirst" => term.nulls = Some("nulls first"),
                "nullslast" => term.nulls = Some("nulls last"),
                _ => return Err(ApiError::parse(format!("failed to parse order ({raw})"))),
            }
        }
        terms.push(term);
    }
    Ok(terms)
}

fn parse_select(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut cols = Vec::new();
    for part in raw.split(',') {
        let part = part.trim();
        if part == "*" {
            return Ok(Vec::new());
        }
        let (alias, column) = match part.split_once(':') {
            Some((a, c)) => (a, c),
            None => (part, part),
        };
        if !is_plain_ident(alias) || !is_plain_ident(column) {
            return Err(ApiError::parse(format!(
                "failed to parse select parameter ({raw}): only plain columns are supported"
            )));
        }
        cols.push((alias.to_string(), column.to_string()));
    }
    Ok(cols)
}

impl ReadRequest {
    /// Parses a raw query string (`a=eq.1&select=x,y&order=a.desc&limit=10`).
    pub fn parse(query: &str) -> Result<ReadRequest, ApiError> {
        let mut req = ReadRequest::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "select" => req.select = parse_select(&v)?,
                "order" => req.order = parse_order(&v)?,
                "limit" => {
                    req.limit =
                        Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                            ApiError::parse(format!("failed to parse limit ({v})"))
                        })?)
                }
                "offset" => {
                    req.offset =
                        Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                            ApiError::parse(format!("failed to parse offset ({v})"))
                        })?)
                }
                "apikey" | "columns" => {}
                "or" | "and" | "not.or" | "not.and" => {
                    return Err(ApiError::parse(
                        "logical operators are not supported by pgrest-lite",
                    ))
                }
                column => req.filters.push(parse_filter(column, &v)?),
            }
        }
        Ok(req)
    }

    /// The SQL (one row: JSON array text, row count) and its text parameters.
    pub fn to_sql(
        &self,
        schema: &str,
        table: &TableDef,
    ) -> Result<(String, Vec<SqlParam>), ApiError> {
        let unknown = |c: &str| {
            ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "42703",
                format!("column {}.{} does not exist", table.name, c),
            )
        };
        let ty = |c: &str| table.column_type(c).ok_or_else(|| unknown(c));
        let mut params: Vec<SqlParam> = Vec::new();

        let select = if self.select.is_empty() {
            "*".to_string()
        } else {
            let mut cols = Vec::new();
            for (alias, column) in &self.select {
                ty(column)?;
                if alias == column {
                    cols.push(quote_ident(column));
                } else {
                    cols.push(format!("{} as {}", quote_ident(column), quote_ident(alias)));
                }
            }
            cols.join(", ")
        };

        let mut conds = Vec::new();
        for f in &self.filters {
            let t = ty(&f.column)?;
            let col = quote_ident(&f.column);
            let mut next = |p: SqlParam| {
                params.push(p);
                params.len()
            };
            let cond = match &f.op {
                Op::Eq | Op::Neq | Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
                    let sym = match f.op {
                        Op::Eq => "=",
                        Op::Neq => "<>",
                        Op::Gt => ">",
                        Op::Gte => ">=",
                        Op::Lt => "<",
                        _ => "<=",
                    };
                    let n = next(SqlParam::Text(f.value.clone()));
                    format!("{col} {sym} ${n}::text::{t}")
                }
                Op::Like | Op::ILike => {
                    let n = next(SqlParam::Text(f.value.replace('*', "%")));
                    let kw = if f.op == Op::Like { "like" } else { "ilike" };
                    format!("{col}::text {kw} ${n}::text")
                }
                Op::In(values) => {
                    let n = next(SqlParam::TextArray(values.clone()));
                    format!("{col} = any(${n}::text[]::{t}[])")
                }
                Op::Is(v) => format!("{col} is {v}"),
            };
            conds.push(if f.negate {
                format!("not ({cond})")
            } else {
                cond
            });
        }
        let where_clause = if conds.is_empty() {
            String::new()
        } else {
            format!(" where {}", conds.join(" and "))
        };

        let mut order = Vec::new();
        for o in &self.order {
            ty(&o.column)?;
            let mut s = quote_ident(&o.column);
            s.push_str(if o.desc { " desc" } else { " asc" });
            if let Some(n) = o.nulls {
                s.push(' ');
                s.push_str(n);
            }
            order.push(s);
        }
        let order_clause = if order.is_empty() {
            String::new()
        } else {
            format!(" order by {}", order.join(", "))
        };
        let mut limit_clause = String::new();
        if let Some(l) = self.limit {
            params.push(SqlParam::Int(l));
            limit_clause.push_str(&format!(" limit ${}::int8", params.len()));
        }
        if let Some(o) = self.offset {
            params.push(SqlParam::Int(o));
            limit_clause.push_str(&format!(" offset ${}::int8", params.len()));
        }
        let sql = format!(
            "select coalesce(json_agg(_t), '[]'::json)::text, count(*) from (select {select} from {}.{}{where_clause}{order_clause}{limit_clause}) _t",
            quote_ident(schema),
            quote_ident(&table.name),
        );
        Ok((sql, params))
    }
}

/// A bind parameter of a read.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    Text(String),
    TextArray(Vec<String>),
    Int(i64),
}

impl SqlParam {
    pub fn as_sql(&self) -> &(dyn tokio_postgres::types::ToSql + Sync) {
        match self {
            SqlParam::Text(s) => s,
            SqlParam::TextArray(v) => v,
            SqlParam::Int(n) => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TableDef {
        TableDef {
            name: "sales".into(),
            columns: vec![
                ("id".into(), "uuid".into()),
                ("store_id".into(), "uuid".into()),
                ("total_cents".into(), "bigint".into()),
                ("received_at".into(), "timestamp with time zone".into()),
            ],
        }
    }

    #[test]
    fn parses_filters_order_and_paging() {
        let r = ReadRequest::parse(
            "select=id,total:total_cents&store_id=eq.abc&total_cents=gte.100&id=in.(a,%22b,c%22)&order=received_at.desc.nullslast,id&limit=10&offset=5",
        )
        .expect("parse");
        assert_eq!(r.select.len(), 2);
        assert_eq!(r.filters.len(), 3);
        assert_eq!(r.filters[2].op, Op::In(vec!["a".into(), "b,c".into()]));
        assert_eq!(r.limit, Some(10));
        let (sql, params) = r.to_sql("public", &table()).expect("sql");
        assert!(sql.contains(r#""store_id" = $1::text::uuid"#), "{sql}");
        assert!(
            sql.contains(r#""total_cents" >= $2::text::bigint"#),
            "{sql}"
        );
        assert!(sql.contains(r#""id" = any($3::text[]::uuid[])"#), "{sql}");
        assert!(
            sql.contains(r#"order by "received_at" desc nulls last, "id" asc"#),
            "{sql}"
        );
        assert!(sql.contains("limit $4::int8 offset $5::int8"), "{sql}");
        assert_eq!(params.len(), 5);
    }

    #[test]
    fn user_input_never_reaches_sql_text() {
        let r = ReadRequest::parse("store_id=eq.x'%3B%20drop%20table%20sales%3B--").expect("parse");
        let (sql, params) = r.to_sql("public", &table()).expect("sql");
        assert!(!sql.contains("drop"));
        assert_eq!(params[0], SqlParam::Text("x'; drop table sales;--".into()));
        assert!(ReadRequest::parse("sto\"re=eq.1").is_err());
        let e = ReadRequest::parse("nope=eq.1")
            .expect("parse")
            .to_sql("public", &table())
            .expect_err("unknown column");
        assert_eq!(e.code, "42703");
        assert!(ReadRequest::parse("id=between.1").is_err());
    }
}
