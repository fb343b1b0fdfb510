"""pgrest-lite against the official PostgREST client for Python (PyPI `postgrest`).

Run by tests/python_client.rs with PGREST_URL, PGREST_ANON_KEY, DEVICE_TOKEN,
EXPIRED_TOKEN, OTHER_STORE_TOKEN, STORE_ID and OTHER_STORE_ID in the environment.
Prints one line per check and exits non-zero on the first failure.
"""
import os
import sys
import uuid

from postgrest import SyncPostgrestClient
from postgrest.exceptions import APIError

URL = os.environ["PGREST_URL"] + "/rest/v1"
ANON = os.environ["PGREST_ANON_KEY"]
TOKEN = os.environ["DEVICE_TOKEN"]
EXPIRED = os.environ["EXPIRED_TOKEN"]
OTHER = os.environ["OTHER_STORE_TOKEN"]
STORE = os.environ["STORE_ID"]
OTHER_STORE = os.environ["OTHER_STORE_ID"]

checks = 0


def client(token=None):
    headers = {"apikey": ANON}
    if token:
        headers["Authorization"] = "Bearer " + token
    return SyncPostgrestClient(URL, headers=headers)


def ok(cond, what):
    global checks
    if not cond:
        print("FAIL: " + what)
        sys.exit(1)
    checks += 1
    print("ok: " + what)


def api_error(fn):
    try:
        fn()
    except APIError as e:
        return e
    return None


with client(TOKEN) as c:
    hb = c.rpc("kassa_heartbeat", {"p_status": {"app_version": "py", "schema_version": 1}}).execute()
    ok(hb.data["store_id"] == STORE and hb.data["min_client_schema"] >= 1, "rpc kassa_heartbeat")

    op_id = str(uuid.uuid4())
    ops = [{"op_id": op_id, "seq": 1, "kind": "stock_count",
            "payload": {"count_id": str(uuid.uuid4()), "sku": "1001", "counted_qty": 24,
                        "counted_at": "2000-01-01T00:00:00.000Z"}}]
    first = c.rpc("kassa_push", {"p_ops": ops}).execute().data
    again = c.rpc("kassa_push", {"p_ops": ops}).execute().data
    ok(first[0]["status"] == "applied" and again[0]["status"] == "duplicate", "rpc kassa_push replay")

    pulled = c.rpc("kassa_pull", {"p_cursors": {"catalog": 0, "stock": 0, "conflicts": 0, "limit": 5}}).execute().data
    ok(len(pulled["catalog"]["rows"]) == 5 and pulled["catalog"]["more"] is True, "rpc kassa_pull paging")

    rows = c.table("products").select("sku,price_cents").gte("price_cents", 500) \
        .order("price_cents", desc=True).order("sku").limit(3).execute().data
    ok([r["sku"] for r in rows] == ["1031", "1052", "1041"], "select/gte/order/limit: %r" % rows)
    rows = c.table("products").select("sku").in_("sku", ["1001", "1002"]).order("sku").execute().data
    ok([r["sku"] for r in rows] == ["1001", "1002"], "in filter")
    rows = c.table("products").select("sku").eq("sku", "1066").execute().data
    ok(rows == [{"sku": "1066"}], "eq filter")
    rows = c.table("products").select("sku").lt("sku", "1003").lte("sku", "1002").gt("sku", "1000") \
        .order("sku").offset(1).limit(5).execute().data
    ok(rows == [{"sku": "1002"}], "lt/lte/gt/offset: %r" % rows)
    rows = c.table("stock_levels").select("store_id").eq("store_id", OTHER_STORE).execute().data
    ok(rows == [], "RLS hides the other store")
    rows = c.table("stock_levels").select("store_id").execute().data
    ok(len(rows) == 66 and all(r["store_id"] == STORE for r in rows), "RLS shows the own store")

    e = api_error(lambda: c.rpc("no_such_fn", {}).execute())
    ok(e is not None and e.code == "PGRST202", "unknown function -> PGRST202")
    e = api_error(lambda: c.rpc("kassa_push", {"p_ops": {"not": "an array"}}).execute())
    ok(e is not None and e.code == "22023", "bad batch -> 22023")
    e = api_error(lambda: c.table("nope").select("*").execute())
    ok(e is not None and e.code == "PGRST205", "unknown table -> PGRST205")

with client(EXPIRED) as c:
    e = api_error(lambda: c.rpc("kassa_heartbeat", {"p_status": {}}).execute())
    ok(e is not None and e.code == "PGRST303" and e.message == "JWT expired", "expired JWT -> PGRST303")

with client(OTHER) as c:
    e = api_error(lambda: c.rpc("kassa_push", {"p_ops": []}).execute())
    ok(e is not None and e.code == "42501", "device of another store -> 42501")

with client() as c:
    e = api_error(lambda: c.table("sales").select("*").execute())
    ok(e is not None and e.code == "42501", "anon reads nothing -> 42501")

print("python client conformance: %d checks ok" % checks)
