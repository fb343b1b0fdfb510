"""pgrest-lite's auth stand-in against the official Supabase Auth client (PyPI `supabase-auth`).

Run by tests/python_auth_client.rs with AUTH_URL, ANON_KEY, SERVICE_KEY, DEVICE_EMAIL,
DEVICE_PASSWORD, DEVICE_ID and STORE_ID in the environment. Prints one line per check and
exits non-zero on the first failure.
"""
import os
import sys
import uuid

from supabase_auth import SyncGoTrueClient, SyncGoTrueAdminAPI
from supabase_auth.errors import AuthApiError

URL = os.environ["AUTH_URL"]
ANON = os.environ["ANON_KEY"]
SERVICE = os.environ["SERVICE_KEY"]
EMAIL = os.environ["DEVICE_EMAIL"]
PASSWORD = os.environ["DEVICE_PASSWORD"]
DEVICE = os.environ["DEVICE_ID"]
STORE = os.environ["STORE_ID"]

checks = 0


def ok(cond, what):
    global checks
    if not cond:
        print("FAIL: " + what)
        sys.exit(1)
    checks += 1
    print("ok: " + what)


def client():
    return SyncGoTrueClient(url=URL, headers={"apikey": ANON}, auto_refresh_token=False,
                            persist_session=False)


c = client()
r = c.sign_in_with_password({"email": EMAIL, "password": PASSWORD})
s = r.session
ok(s is not None and s.access_token and s.refresh_token, "sign_in_with_password gives a session")
ok(s.token_type == "bearer" and s.expires_in == 60 and s.expires_at is not None,
   "token_type, expires_in, expires_at: %r %r %r" % (s.token_type, s.expires_in, s.expires_at))
ok(r.user.id == DEVICE and r.user.app_metadata.get("store_id") == STORE,
   "user with app_metadata.store_id")
claims = c.get_claims()
ok(claims is not None and claims["claims"]["role"] == "authenticated"
   and claims["claims"]["app_metadata"]["store_id"] == STORE
   and claims["claims"]["session_id"], "get_claims: role, app_metadata, session_id")

u = c.get_user()
ok(u is not None and u.user.id == DEVICE, "get_user with the access token")

first_refresh = s.refresh_token
r2 = c.refresh_session()
s2 = r2.session
ok(s2.refresh_token != first_refresh and s2.access_token, "refresh_session rotates the refresh token")
ok(c.get_session().refresh_token == s2.refresh_token, "the client keeps the rotated session")

r3 = client().refresh_session(s2.refresh_token)
ok(r3.session.refresh_token not in (first_refresh, s2.refresh_token), "refresh with a stored token")

try:
    client().sign_in_with_password({"email": EMAIL, "password": PASSWORD + "x"})
    ok(False, "a wrong password must fail")
except AuthApiError as e:
    ok(e.code == "invalid_credentials" and e.status == 400, "wrong password -> invalid_credentials (%s)" % e.code)

try:
    client().refresh_session("no-such-refresh-token")
    ok(False, "an unknown refresh token must fail")
except AuthApiError as e:
    ok(e.code == "refresh_token_not_found", "unknown refresh token -> refresh_token_not_found (%s)" % e.code)

admin = SyncGoTrueAdminAPI(url=URL, headers={"apikey": SERVICE, "Authorization": "Bearer " + SERVICE})
new_id = str(uuid.uuid4())
created = admin.create_user({"id": new_id, "email": "py-%s@kassa.test" % new_id[:8], "password": "py-secret-1",
                             "email_confirm": True, "app_metadata": {"store_id": STORE, "device_id": new_id}})
ok(created.user.id == new_id and created.user.app_metadata["store_id"] == STORE, "admin.create_user with app_metadata")
got = admin.get_user_by_id(new_id)
ok(got.user.email == "py-%s@kassa.test" % new_id[:8], "admin.get_user_by_id")
pc = client()
pc.sign_in_with_password({"email": "py-%s@kassa.test" % new_id[:8], "password": "py-secret-1"})
admin.update_user_by_id(new_id, {"ban_duration": "876000h"})
try:
    pc.refresh_session()
    ok(False, "a banned user's refresh must fail")
except AuthApiError as e:
    ok(e.code == "user_banned", "banned user's refresh -> user_banned (%s)" % e.code)
admin.delete_user(new_id)
try:
    admin.get_user_by_id(new_id)
    ok(False, "a deleted user must be gone")
except AuthApiError as e:
    ok(e.status == 404, "admin.delete_user")

c.sign_out()
try:
    client().refresh_session(r3.session.refresh_token)
    ok(False, "signed out: the refresh token must be dead")
except AuthApiError as e:
    ok(e.code in ("refresh_token_not_found", "session_not_found"), "sign_out ends the session (%s)" % e.code)

print("supabase-auth client conformance: %d checks ok" % checks)
