//! The schema cache: functions and tables of the exposed schema, read from the catalogs.
//!
//! Like PostgREST, the gateway resolves `/rpc/{fn}` and `/{table}` against a cache of the
//! catalog instead of splicing names into SQL. On a miss the cache is reloaded before
//! answering 404, so objects created after start-up are found.

use std::collections::HashMap;

use tokio_postgres::GenericClient;

/// An input argument of a function.
#[derive(Debug, Clone)]
pub struct FnArg {
    pub name: String,
    /// `format_type()` of the argument's type, e.g. `jsonb`, `timestamp with time zone`.
    pub type_name: String,
    pub has_default: bool,
}

/// One function (an overload) of the exposed schema.
#[derive(Debug, Clone)]
pub struct FnDef {
    pub name: String,
    pub args: Vec<FnArg>,
    pub returns_set: bool,
    pub returns_void: bool,
    pub returns_composite: bool,
    /// `i`mmutable, `s`table or `v`olatile.
    pub volatility: char,
}

impl FnDef {
    /// Whether a JSON body with these keys calls this overload: every key names an input
    /// argument and every argument without a default is given.
    pub fn accepts(&self, keys: &[String]) -> bool {
        keys.iter().all(|k| self.args.iter().any(|a| &a.name == k))
            && self
                .args
                .iter()
                .all(|a| a.has_default || keys.iter().any(|k| k == &a.name))
    }
}

/// A table or view: its columns and their types.
#[derive(Debug, Clone, Default)]
pub struct TableDef {
    pub name: String,
    pub columns: Vec<(String, String)>,
}

impl TableDef {
    pub fn column_type(&self, column: &str) -> Option<&str> {
        self.columns
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, t)| t.as_str())
    }
}

#[derive(Debug, Clone, Default)]
pub struct SchemaCache {
    pub functions: HashMap<String, Vec<FnDef>>,
    pub tables: HashMap<String, TableDef>,
}

const FUNCTIONS_SQL: &str = r#"
select p.proname::text,
       coalesce(p.proargnames, '{}')::text[],
       coalesce(p.proargmodes::text[], '{}')::text[],
       array(select pg_catalog.format_type(t.oid, null)
               from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) with ordinality as u(oid, i)
               join pg_catalog.pg_type t on t.oid = u.oid
              order by u.i)::text[],
       p.pronargs::int4,
       p.pronargdefaults::int4,
       p.proretset,
       pg_catalog.format_type(p.prorettype, null),
       (rt.typtype = 'c' or (rt.typtype = 'p' and rt.typname = 'record')),
       p.provolatile::text
  from pg_catalog.pg_proc p
  join pg_catalog.pg_namespace n on n.oid = p.pronamespace
  join pg_catalog.pg_type rt on rt.oid = p.prorettype
 where n.nspname = $1 and p.prokind = 'f'
"#;

const TABLES_SQL: &str = r#"
select c.relname::text, a.attname::text, pg_catalog.format_type(a.atttypid, null)
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
 where n.nspname = $1 and c.relkind in ('r', 'v', 'm', 'p', 'f')
 order by c.relname, a.attnum
"#;

impl SchemaCache {
    pub async fn load<C: GenericClient>(
        client: &C,
        schema: &str,
    ) -> Result<SchemaCache, tokio_postgres::Error> {
        let mut cache = SchemaCache::default();
        for row in client.query(FUNCTIONS_SQL, &[&schema]).await? {
            let name: String = row.get(0);
            let names: Vec<String> = row.get(1);
            let modes: Vec<String> = row.get(2);
            let types: Vec<String> = row.get(3);
            let nargs: i32 = row.get(4);
            let ndefaults: i32 = row.get(5);
            let mut inputs = Vec::new();
            for (i, ty) in types.iter().enumerate() {
                let mode = modes.get(i).map(String::as_str).unwrap_or("i");
                if matches!(mode, "i" | "b" | "v") {
                    inputs.push((names.get(i).cloned().unwrap_or_default(), ty.clone()));
                }
            }
            let first_default = (nargs - ndefaults).max(0) as usize;
            let args = inputs
                .into_iter()
                .enumerate()
                .map(|(i, (name, type_name))| FnArg {
                    name,
                    type_name,
                    has_default: i >= first_default,
                })
                .collect();
            let rettype: String = row.get(7);
            let volatility: String = row.get(9);
            cache
                .functions
                .entry(name.clone())
                .or_default()
                .push(FnDef {
                    name,
                    args,
                    returns_set: row.get(6),
                    returns_void: rettype == "void",
                    returns_composite: row.get(8),
                    volatility: volatility.chars().next().unwrap_or('v'),
                });
        }
        for row in client.query(TABLES_SQL, &[&schema]).await? {
            let table: String = row.get(0);
            let entry = cache
                .tables
                .entry(table.clone())
                .or_insert_with(|| TableDef {
                    name: table,
                    columns: Vec::new(),
                });
            entry.columns.push((row.get(1), row.get(2)));
        }
        Ok(cache)
    }

    /// The overload of `name` that a body with `keys` calls.
    pub fn function(&self, name: &str, keys: &[String]) -> Option<&FnDef> {
        self.functions
            .get(name)?
            .iter()
            .find(|f| f.accepts(keys) && f.args.iter().all(|a| !a.name.is_empty()))
    }
}

/// `"ident"` with embedded quotes doubled.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `'literal'` with embedded quotes doubled (for catalog-provided names only).
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The SQL that calls `f` with the arguments taken from the JSON body in `$1`, returning
/// one row with one text column holding the JSON response (or nothing for void).
pub fn rpc_sql(schema: &str, f: &FnDef, keys: &[String]) -> String {
    let qualified = format!("{}.{}", quote_ident(schema), quote_ident(&f.name));
    let given: Vec<&FnArg> = f
        .args
        .iter()
        .filter(|a| keys.iter().any(|k| k == &a.name))
        .collect();
    let call_args = given
        .iter()
        .map(|a| format!("{} := _a.{}", quote_ident(&a.name), quote_ident(&a.name)))
        .collect::<Vec<_>>()
        .join(", ");
    let record_def = given
        .iter()
        .map(|a| format!("{} {}", quote_ident(&a.name), a.type_name))
        .collect::<Vec<_>>()
        .join(", ");
    let from_args = if given.is_empty() {
        String::new()
    } else {
        format!(" from jsonb_to_record($1::text::jsonb) as _a({record_def})")
    };
    let call = format!("{qualified}({call_args})");
    if f.returns_void {
        format!("select {call}::text{from_args}")
    } else if f.returns_set {
        let from = if given.is_empty() {
            format!(" from {call} as _r")
        } else {
            format!("{from_args} cross join lateral {call} as _r")
        };
        format!("select coalesce(jsonb_agg(to_jsonb(_r)), '[]'::jsonb)::text{from}")
    } else if f.returns_composite {
        let from = if given.is_empty() {
            format!(" from {call} as _r")
        } else {
            format!("{from_args} cross join lateral {call} as _r")
        };
        format!("select to_jsonb(_r)::text{from}")
    } else {
        format!("select to_jsonb({call})::text{from_args}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push_def() -> FnDef {
        FnDef {
            name: "kassa_push".into(),
            args: vec![FnArg {
                name: "p_ops".into(),
                type_name: "jsonb".into(),
                has_default: false,
            }],
            returns_set: false,
            returns_void: false,
            returns_composite: false,
            volatility: 'v',
        }
    }

    #[test]
    fn rpc_sql_uses_named_arguments_from_the_body() {
        let sql = rpc_sql("public", &push_def(), &["p_ops".into()]);
        assert_eq!(
            sql,
            r#"select to_jsonb("public"."kassa_push"("p_ops" := _a."p_ops"))::text from jsonb_to_record($1::text::jsonb) as _a("p_ops" jsonb)"#
        );
    }

    #[test]
    fn overload_matching() {
        let f = push_def();
        assert!(f.accepts(&["p_ops".into()]));
        assert!(!f.accepts(&[]));
        assert!(!f.accepts(&["p_ops".into(), "x".into()]));
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
