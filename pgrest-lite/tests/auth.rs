//! The Supabase Auth stand-in against real PostgreSQL: sign-in, refresh-token rotation with
//! GoTrue's reuse rules, revocation, the admin API, and what the kassa RPCs make of its tokens.

mod common;

use common::Api;
use pgrest_lite::testing::{device_email, StackOptions, TestStack, TEST_DEVICE_PASSWORD};
use serde_json::{json, Value};

struct Auth {
    http: reqwest::Client,
    url: String,
    anon: String,
    service: String,
}

impl Auth {
    fn new(stack: &TestStack) -> Auth {
        Auth {
            http: reqwest::Client::new(),
            url: format!("{}/auth/v1", stack.url),
            anon: stack.anon_key.clone(),
            service: stack.service_key.clone(),
        }
    }

    async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
        let r = req.send().await.expect("send");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn password(&self, email: &str, password: &str) -> (u16, Value) {
        Self::send(
            self.http
                .post(format!("{}/token?grant_type=password", self.url))
                .header("apikey", &self.anon)
                .json(&json!({"email": email, "password": password})),
        )
        .await
    }

    async fn refresh(&self, token: &str) -> (u16, Value) {
        Self::send(
            self.http
                .post(format!("{}/token?grant_type=refresh_token", self.url))
                .header("apikey", &self.anon)
                .json(&json!({"refresh_token": token})),
        )
        .await
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        Self::send(
            self.http
                .request(method, format!("{}/admin/{path}", self.url))
                .header("apikey", &self.service)
                .bearer_auth(&self.service)
                .json(&body),
        )
        .await
    }
}

fn rt(v: &Value) -> String {
    v["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string()
}

fn at(v: &Value) -> String {
    v["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

#[tokio::test]
async fn a_device_signs_in_and_its_access_token_works_with_the_rpcs_until_it_is_revoked() {
    let stack = TestStack::start().await.expect("stack");
    let emails = stack.create_device_users().await.expect("users");
    let auth = Auth::new(&stack);
    let api = Api::new(&stack);

    let (status, s) = auth.password(&emails[0], TEST_DEVICE_PASSWORD).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["token_type"], "bearer");
    assert_eq!(s["expires_in"], 3600);
    assert!(s["expires_at"].as_i64().unwrap() > pgrest_lite::jwt::now_secs());
    assert_eq!(s["user"]["id"], stack.devices[0].id.to_string());
    assert_eq!(
        s["user"]["app_metadata"]["store_id"],
        stack.store_id.to_string()
    );
    let keys = pgrest_lite::jwt::JwtKeys::new(&stack.jwt_secret).unwrap();
    let claims = keys.verify(&at(&s)).expect("valid JWT");
    assert_eq!(claims["role"], "authenticated");
    assert_eq!(claims["aud"], "authenticated");
    assert_eq!(claims["sub"], stack.devices[0].id.to_string());
    assert!(claims["session_id"].is_string());

    let hb = api
        .rpc(Some(&at(&s)), "kassa_heartbeat", json!({"p_status": {}}))
        .await;
    assert_eq!(hb.status, 200, "{}", hb.body);
    assert_eq!(hb.body["device_id"], stack.devices[0].id.to_string());
    // RLS sees the store through the same token.
    let rows = api.get(Some(&at(&s)), "stock_levels?select=store_id").await;
    assert_eq!(rows.body.as_array().map(Vec::len), Some(66));

    // The owner bans the device: the still-unexpired access token is refused at once, and
    // its refresh token tells why.
    let id = stack.devices[0].id;
    let (st, _) = auth
        .admin(
            reqwest::Method::PUT,
            &format!("users/{id}"),
            json!({"ban_duration": "876000h"}),
        )
        .await;
    assert_eq!(st, 200);
    let hb = api
        .rpc(Some(&at(&s)), "kassa_heartbeat", json!({"p_status": {}}))
        .await;
    assert_eq!(hb.status, 403, "{}", hb.body);
    assert_eq!(hb.body["message"], "session revoked");
    let rows = api.get(Some(&at(&s)), "stock_levels?select=store_id").await;
    assert_eq!(rows.body.as_array().map(Vec::len), Some(0));
    let (st, e) = auth.refresh(&rt(&s)).await;
    assert_eq!(st, 400);
    assert_eq!(e["error_code"], "user_banned", "{e}");
    let (st, e) = auth.password(&emails[0], TEST_DEVICE_PASSWORD).await;
    assert_eq!((st, e["error_code"].as_str()), (400, Some("user_banned")));

    // Static device tokens (no session) are checked as before.
    let hb = api
        .rpc(
            Some(&stack.devices[1].token),
            "kassa_heartbeat",
            json!({"p_status": {}}),
        )
        .await;
    assert_eq!(hb.status, 200, "{}", hb.body);
    stack.cleanup().await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reuse_past_the_interval_revokes_the_session() {
    let stack = TestStack::start_with(StackOptions {
        jwt_exp: 60,
        refresh_token_reuse_interval: 0,
    })
    .await
    .expect("stack");
    let emails = stack.create_device_users().await.expect("users");
    let auth = Auth::new(&stack);
    let (_, s0) = auth.password(&emails[1], TEST_DEVICE_PASSWORD).await;
    assert_eq!(s0["expires_in"], 60);

    let (st, s1) = auth.refresh(&rt(&s0)).await;
    assert_eq!(st, 200, "{s1}");
    assert_ne!(rt(&s1), rt(&s0), "rotated");
    // The client crashed before storing s1: the parent of the active token brings the active
    // one back, and no new token is made.
    let (st, again) = auth.refresh(&rt(&s0)).await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(rt(&again), rt(&s1));
    let (st, s2) = auth.refresh(&rt(&s1)).await;
    assert_eq!(st, 200);
    // s0 is now a grandparent: a reuse. The whole family dies, s2 included.
    let (st, e) = auth.refresh(&rt(&s0)).await;
    assert_eq!(st, 400);
    assert_eq!(e["error_code"], "refresh_token_already_used", "{e}");
    assert_eq!(e["msg"], "Invalid Refresh Token: Already Used");
    let (st, e) = auth.refresh(&rt(&s2)).await;
    assert_eq!(st, 400);
    assert_eq!(e["error_code"], "refresh_token_already_used", "{e}");
    let (st, e) = auth.refresh("no-such-token-at-all").await;
    assert_eq!(
        (st, e["error_code"].as_str()),
        (400, Some("refresh_token_not_found"))
    );
    stack.cleanup().await;
}

#[tokio::test]
async fn bad_credentials_keys_and_admin_calls_get_gotrue_errors() {
    let stack = TestStack::start().await.expect("stack");
    let emails = stack.create_device_users().await.expect("users");
    let auth = Auth::new(&stack);
    let (st, e) = auth.password(&emails[0], "wrong").await;
    assert_eq!(st, 400);
    assert_eq!(e["error_code"], "invalid_credentials");
    assert_eq!(e["msg"], "Invalid login credentials");
    let (st, e) = auth.password("nobody@kassa.test", "x").await;
    assert_eq!(
        (st, e["error_code"].as_str()),
        (400, Some("invalid_credentials"))
    );
    // The newer error shape on request.
    let r = auth
        .http
        .post(format!("{}/token?grant_type=password", auth.url))
        .header("apikey", &auth.anon)
        .header("X-Supabase-Api-Version", "2024-01-01")
        .json(&json!({"email": emails[0], "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["x-supabase-api-version"].to_str().unwrap(),
        "2024-01-01"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "invalid_credentials");
    // No apikey: the gateway refuses before Auth.
    let r = auth
        .http
        .post(format!("{}/token?grant_type=password", auth.url))
        .json(&json!({"email": emails[0], "password": TEST_DEVICE_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // The admin API wants the service key; a device's own token is not enough.
    let (_, s) = auth.password(&emails[0], TEST_DEVICE_PASSWORD).await;
    let r = auth
        .http
        .post(format!("{}/admin/users", auth.url))
        .header("apikey", &auth.anon)
        .bearer_auth(at(&s))
        .json(&json!({"email": "x@kassa.test", "password": "secret-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let new_id = uuid::Uuid::new_v4();
    let (st, u) = auth
        .admin(
            reqwest::Method::POST,
            "users",
            json!({"id": new_id, "email": "New.Till@kassa.test", "password": "secret-1",
                   "email_confirm": true,
                   "app_metadata": {"store_id": stack.store_id, "device_id": new_id}}),
        )
        .await;
    assert_eq!(st, 200, "{u}");
    assert_eq!(u["id"], new_id.to_string());
    assert_eq!(u["email"], "new.till@kassa.test");
    assert_eq!(u["app_metadata"]["provider"], "email");
    assert_eq!(u["app_metadata"]["store_id"], stack.store_id.to_string());
    let (st, e) = auth
        .admin(
            reqwest::Method::POST,
            "users",
            json!({"email": "new.till@kassa.test", "password": "secret-1"}),
        )
        .await;
    assert_eq!((st, e["error_code"].as_str()), (422, Some("email_exists")));

    // Delete: the user's sessions go with it.
    let (_, s) = auth.password("new.till@kassa.test", "secret-1").await;
    let (st, _) = auth
        .admin(
            reqwest::Method::DELETE,
            &format!("users/{new_id}"),
            json!({}),
        )
        .await;
    assert_eq!(st, 200);
    let (st, e) = auth.refresh(&rt(&s)).await;
    assert_eq!(
        (st, e["error_code"].as_str()),
        (400, Some("refresh_token_not_found"))
    );

    // Logout ends the session: the device's access token is refused by the RPCs.
    let api = Api::new(&stack);
    let (_, s) = auth.password(&emails[2], TEST_DEVICE_PASSWORD).await;
    let r = auth
        .http
        .post(format!("{}/logout?scope=global", auth.url))
        .header("apikey", &auth.anon)
        .bearer_auth(at(&s))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let hb = api
        .rpc(Some(&at(&s)), "kassa_heartbeat", json!({"p_status": {}}))
        .await;
    assert_eq!(hb.status, 403);
    assert_eq!(device_email(stack.devices[2].id), emails[2]);
    stack.cleanup().await;
}
