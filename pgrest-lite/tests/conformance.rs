//! The gateway behaves like PostgREST (behind Supabase's API gateway) for the subset kassa
//! uses: error shapes and statuses, JWT handling, per-request transaction settings, role
//! settings, reads.
mod common;

use common::*;
use pgrest_lite::testing::TestStack;
use serde_json::{json, Value};

const FIXTURES: &str = r#"
create function public.t_raise() returns void language plpgsql as $$
begin
  raise exception 'custom failure' using detail = 'the detail', hint = 'the hint';
end $$;
create function public.t_pt402() returns void language plpgsql as $$
begin
  raise sqlstate 'PT402' using message = 'payment required';
end $$;
create table public.t_uniq (id int primary key, parent int references public.t_uniq (id));
create function public.t_dup() returns void language sql security definer as $$
  insert into public.t_uniq values (1, null);
  insert into public.t_uniq values (1, null);
$$;
create function public.t_fk() returns void language sql security definer as $$
  insert into public.t_uniq values (2, 999);
$$;
create function public.t_sleep(p_ms int) returns int language sql as $$
  select p_ms from (select pg_sleep(p_ms / 1000.0)) s;
$$;
create function public.t_settings() returns jsonb language sql stable as $$
  select jsonb_build_object(
    'user', current_user,
    'statement_timeout', current_setting('statement_timeout'),
    'method', current_setting('request.method', true),
    'path', current_setting('request.path', true),
    'header', current_setting('request.headers', true)::jsonb ->> 'x-kassa-test',
    'uid', auth.uid(),
    'role', auth.role(),
    'store', auth.jwt() -> 'app_metadata' ->> 'store_id')
$$;
create function public.t_private() returns int language sql as $$ select 1 $$;
revoke execute on function public.t_private() from public, anon, authenticated;
create function public.t_setof() returns setof int language sql as $$ select generate_series(1, 3) $$;
create function public.t_void() returns void language sql as $$ select $$;
create function public.t_echo(a int, b text default 'dflt') returns jsonb language sql as $$
  select jsonb_build_object('a', a, 'b', b)
$$;
"#;

async fn with_fixtures() -> (TestStack, Api) {
    let stack = TestStack::start().await.expect("stack");
    let db = stack.client().await.expect("db");
    db.batch_execute(FIXTURES).await.expect("fixtures");
    let api = Api::new(&stack);
    (stack, api)
}

fn assert_error_shape(body: &Value) {
    let o = body.as_object().expect("error object");
    for k in ["code", "message", "details", "hint"] {
        assert!(o.contains_key(k), "missing {k} in {body}");
    }
}

#[tokio::test]
async fn api_keys_and_jwts() {
    let (stack, api) = with_fixtures().await;
    let d = &stack.devices[0];
    let url = format!("{}/rest/v1/rpc/kassa_heartbeat", stack.url);
    let http = reqwest::Client::new();

    // No apikey: rejected before anything else, like Supabase's API gateway.
    let r = http
        .post(&url)
        .bearer_auth(&d.token)
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
    let b: Value = r.json().await.expect("json");
    assert_eq!(b["message"], "No API key found in request");
    assert_error_shape(&b);
    // A key signed with another secret is not a key of this project.
    let r = http
        .post(&url)
        .header(
            "apikey",
            "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2lnbmF0dXJl",
        )
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
    // The apikey may also come as a query parameter.
    let r = http
        .post(format!("{url}?apikey={}", stack.anon_key))
        .bearer_auth(&d.token)
        .json(&json!({"p_status": {}}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);

    // Expired token (past the 30 s leeway): PGRST303 with WWW-Authenticate.
    let r = api
        .rpc(
            Some(&stack.expired_token_for(d.id, d.store_id)),
            "kassa_heartbeat",
            json!({"p_status": {}}),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["code"], "PGRST303");
    assert_eq!(r.body["message"], "JWT expired");
    assert_error_shape(&r.body);
    let www = r.headers["www-authenticate"].to_str().expect("header");
    assert!(
        www.starts_with("Bearer") && www.contains("invalid_token"),
        "{www}"
    );
    // Within the leeway it is still accepted.
    let fresh_enough = stack.token_with_claims(&json!({"role": "authenticated",
        "sub": d.id, "app_metadata": {"store_id": d.store_id},
        "exp": pgrest_lite::jwt::now_secs() - 10}));
    let r = api
        .rpc(
            Some(&fresh_enough),
            "kassa_heartbeat",
            json!({"p_status": {}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Wrong signature, garbage: PGRST301.
    let mut forged = d.token.clone();
    forged.pop();
    forged.push(if d.token.ends_with('A') { 'B' } else { 'A' });
    for t in [forged.as_str(), "not.a.jwt", "garbage"] {
        let r = api
            .rpc(Some(t), "kassa_heartbeat", json!({"p_status": {}}))
            .await;
        assert_eq!(r.status, 401, "{t}");
        assert_eq!(r.body["code"], "PGRST301", "{t}");
        assert!(r.headers.contains_key("www-authenticate"));
    }
    // A role that does not exist / cannot be switched to is refused by PostgreSQL.
    let r = api
        .rpc(
            Some(&stack.token_with_claims(&json!({"role": "postgres"}))),
            "t_void",
            json!({}),
        )
        .await;
    assert!(
        r.status == 403 || r.status == 400,
        "{} {}",
        r.status,
        r.body
    );
    assert_error_shape(&r.body);
    stack.cleanup().await;
}

#[tokio::test]
async fn error_shapes_and_statuses() {
    let (stack, api) = with_fixtures().await;
    let t = stack.devices[0].token.clone();
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        ("t_raise", json!({}), 400, "P0001"),
        ("t_pt402", json!({}), 402, "PT402"),
        ("t_dup", json!({}), 409, "23505"),
        ("t_fk", json!({}), 409, "23503"),
        ("t_private", json!({}), 403, "42501"),
        ("no_such_function", json!({}), 404, "PGRST202"),
        ("kassa_push", json!({"ops": []}), 404, "PGRST202"),
        ("t_echo", json!({"a": "x"}), 400, "22P02"),
    ];
    for (f, body, status, code) in cases {
        let r = api.rpc(Some(&t), f, body).await;
        assert_eq!(r.status, status, "{f}: {}", r.body);
        assert_eq!(r.body["code"], code, "{f}");
        assert_error_shape(&r.body);
    }
    let r = api.rpc(Some(&t), "t_raise", json!({})).await;
    assert_eq!(r.body["message"], "custom failure");
    assert_eq!(r.body["details"], "the detail");
    assert_eq!(r.body["hint"], "the hint");
    // 42501 as anon is 401 and asks for a bearer token.
    let r = api.rpc(None, "t_private", json!({})).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    // Bad JSON body.
    let r = api
        .http
        .post(format!("{}/rest/v1/rpc/t_void", stack.url))
        .header("apikey", &stack.anon_key)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    let b: Value = r.json().await.expect("json");
    assert_eq!(b["code"], "PGRST102");
    // Results: void is 204, setof is an array, defaults apply, scalars are JSON.
    let r = api.rpc(Some(&t), "t_void", json!({})).await;
    assert_eq!(r.status, 204);
    let r = api.rpc(Some(&t), "t_setof", json!({})).await;
    assert_eq!(r.body, json!([1, 2, 3]));
    let r = api.rpc(Some(&t), "t_echo", json!({"a": 7})).await;
    assert_eq!(r.body, json!({"a": 7, "b": "dflt"}));
    let r = api.rpc(Some(&t), "t_sleep", json!({"p_ms": 1})).await;
    assert_eq!(r.body, json!(1));
    // Reads: unknown table, unknown column, bad filter.
    let r = api.get(Some(&t), "nope?select=*").await;
    assert_eq!((r.status, r.body["code"].as_str()), (404, Some("PGRST205")));
    let r = api.get(Some(&t), "products?select=nope").await;
    assert_eq!((r.status, r.body["code"].as_str()), (400, Some("42703")));
    let r = api.get(Some(&t), "products?sku=between.1").await;
    assert_eq!((r.status, r.body["code"].as_str()), (400, Some("PGRST100")));
    let r = api.get(Some(&t), "products?price_cents=eq.abc").await;
    assert_eq!((r.status, r.body["code"].as_str()), (400, Some("22P02")));
    // Connection failures: 503.
    let mut cfg = pgrest_lite::Config::new(
        "postgres://authenticator@127.0.0.1:1/nothing",
        &stack.jwt_secret,
    )
    .expect("config");
    cfg.listen = "127.0.0.1:0".parse().expect("addr");
    let dead = pgrest_lite::serve(cfg).await.expect("serve");
    let r = reqwest::Client::new()
        .post(format!("{}/rest/v1/rpc/kassa_heartbeat", dead.url()))
        .header("apikey", &stack.anon_key)
        .bearer_auth(&t)
        .json(&json!({"p_status": {}}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 503);
    let b: Value = r.json().await.expect("json");
    assert_error_shape(&b);
    dead.shutdown().await;
    stack.cleanup().await;
}

#[tokio::test]
async fn request_settings_role_settings_and_statement_timeout() {
    let (stack, api) = with_fixtures().await;
    let db = stack.client().await.expect("db");
    let d = &stack.devices[0];
    let r = api
        .http
        .post(format!("{}/rest/v1/rpc/t_settings", stack.url))
        .header("apikey", &stack.anon_key)
        .header("x-kassa-test", "hello")
        .bearer_auth(&d.token)
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    let s: Value = r.json().await.expect("json");
    assert_eq!(s["user"], "authenticated");
    assert_eq!(
        s["statement_timeout"], "8s",
        "Supabase's role setting for authenticated"
    );
    assert_eq!(s["method"], "POST");
    assert_eq!(s["path"], "/rpc/t_settings");
    assert_eq!(s["header"], "hello");
    assert_eq!(s["uid"], d.id.to_string());
    assert_eq!(s["role"], "authenticated");
    assert_eq!(s["store"], d.store_id.to_string());
    // Transaction-local: the next request (same pooled connection) starts clean.
    for _ in 0..4 {
        let r = api.rpc(None, "t_settings", json!({})).await;
        assert_eq!(r.body["user"], "anon");
        assert_eq!(r.body["statement_timeout"], "3s");
        assert_eq!(r.body["uid"], Value::Null);
        assert_eq!(r.body["header"], Value::Null);
    }
    let r = api
        .rpc(Some(&stack.service_key), "t_settings", json!({}))
        .await;
    assert_eq!(r.body["user"], "service_role");

    // A database-specific role setting wins over the role-wide one; the timeout is a 500.
    db.batch_execute(&format!(
        "alter role authenticated in database \"{}\" set statement_timeout = '300ms'",
        stack.db_name
    ))
    .await
    .expect("alter role");
    let r = api
        .rpc(Some(&d.token), "t_sleep", json!({"p_ms": 2000}))
        .await;
    assert_eq!(r.status, 500, "{}", r.body);
    assert_eq!(r.body["code"], "57014");
    assert_error_shape(&r.body);
    // service_role has no timeout: the same call completes.
    let r = api
        .rpc(Some(&stack.service_key), "t_sleep", json!({"p_ms": 400}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // GET requests run read-only with the same settings.
    let r = api.get(Some(&d.token), "products?select=sku&limit=1").await;
    assert_eq!(r.status, 200);
    db.batch_execute(&format!(
        "alter role authenticated in database \"{}\" reset statement_timeout",
        stack.db_name
    ))
    .await
    .expect("reset");
    stack.cleanup().await;
}

#[tokio::test]
async fn reads_with_filters_order_and_paging() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let t = stack.devices[0].token.clone();
    let r = api
        .get(Some(&t), "products?select=sku,price_cents&price_cents=gte.500&order=price_cents.desc,sku.asc&limit=3")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!([{"sku": "1052", "price_cents": 699}, {"sku": "1031", "price_cents": 699},
               {"sku": "1041", "price_cents": 599}])
        .as_array()
        .map(|a| {
            let mut v = a.clone();
            v.sort_by(|x, y| {
                y["price_cents"]
                    .as_i64()
                    .cmp(&x["price_cents"].as_i64())
                    .then(x["sku"].as_str().cmp(&y["sku"].as_str()))
            });
            Value::Array(v)
        })
        .expect("expected")
    );
    assert_eq!(r.headers["content-range"], "0-2/*");
    let r = api
        .get(
            Some(&t),
            "products?select=sku&sku=in.(1001,1066,%221003%22)&order=sku",
        )
        .await;
    assert_eq!(
        r.body,
        json!([{"sku": "1001"}, {"sku": "1003"}, {"sku": "1066"}])
    );
    let r = api
        .get(
            Some(&t),
            "products?select=sku&barcode=is.null&order=sku.desc",
        )
        .await;
    assert_eq!(r.body, json!([{"sku": "1066"}, {"sku": "1064"}]));
    let r = api
        .get(Some(&t), "products?select=name&name=ilike.*MILK*&order=sku")
        .await;
    assert_eq!(r.body.as_array().expect("rows").len(), 2);
    let r = api
        .get(Some(&t), "products?select=sku&order=sku&limit=2&offset=64")
        .await;
    assert_eq!(r.body, json!([{"sku": "1065"}, {"sku": "1066"}]));
    assert_eq!(r.headers["content-range"], "64-65/*");
    let r = api
        .get(
            Some(&t),
            "products?select=code:sku&sku=eq.1001&active=is.true",
        )
        .await;
    assert_eq!(r.body, json!([{"code": "1001"}]));
    let r = api
        .get(Some(&t), "products?select=sku&sku=not.lt.1065&order=sku")
        .await;
    assert_eq!(r.body, json!([{"sku": "1065"}, {"sku": "1066"}]));
    let r = api
        .get(
            Some(&t),
            "stock_levels?select=on_hand&limit=1&store_id=eq.not-a-uuid",
        )
        .await;
    assert_eq!(r.status, 400);
    stack.cleanup().await;
}
