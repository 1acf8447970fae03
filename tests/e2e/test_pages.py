"""Paginated searches (Jaeger RFC 0014): keyset page tokens on api_v3 trace summaries (HTTP) and
the remote storage FindTraceIDs / FindTraceSummaries. Paging through a search returns exactly
the single search's answer in the same order; under concurrent ingest no trace comes twice and
none that was there at the first page is skipped (when its place does not move); tokens are
bound to their query; what is not paginated refuses a page request."""

import json

import grpc
import pytest
import requests

from test_query_api import S, T0
from test_remote_storage import READER, CAPS, export, m, request_of, unary, query  # noqa: F401

WINDOW = {"query.start_time_min": "2023-11-14T22:13:00Z", "query.start_time_max": "2023-11-14T23:00:00Z"}


def trace_id(i):
    return f"{i + 1:032x}"  # never the all-zero ID, which is invalid


def load(skua, ids, start_of):
    # Several traces per request; ties: traces 0-9 share starts in pairs.
    for chunk in range(0, len(ids), 7):
        spans = [(trace_id(i), i + 1, f"op-{i % 3}", start_of(i), {"n": i, "group": "all"})
                 for i in ids[chunk:chunk + 7]]
        export(skua, request_of(spans, f"svc-{chunk % 2}"))


def start_of(i):
    return T0 + (i // 2 if i < 10 else i) * S


def single(skua, **params):
    r = requests.get(skua.url("query-http", "/api/v3/trace-summaries"),
                     params={**WINDOW, "query.searchDepth": "1000", **params}, timeout=10)
    assert r.status_code == 200, r.text
    return [s["traceId"] for s in r.json()["summaries"]]


def page(skua, size, token=None, **params):
    p = {**WINDOW, "query.pagination.pageSize": str(size), **params}
    if token:
        p["query.pagination.pageToken"] = token
    return requests.get(skua.url("query-http", "/api/v3/trace-summaries"), params=p, timeout=10)


def walk(skua, size, between=None, **params):
    out, token, n = [], None, 0
    while True:
        r = page(skua, size, token, **params)
        assert r.status_code == 200, r.text
        body = r.json()
        out += [s["traceId"] for s in body["summaries"]]
        token = body.get("nextPageToken")
        if not token:
            return out
        assert len(body["summaries"]) == size
        if between:
            between(n)
        n += 1


@pytest.fixture
def skua(skua_factory):
    s = skua_factory().start()
    load(s, list(range(40)), start_of)
    return s


def test_pages_are_the_single_answer_in_order(skua):
    everything = single(skua)
    assert len(everything) == 40
    for size in (1, 3, 7, 40, 100):
        assert walk(skua, size) == everything
    # With a filter and a service too.
    flt = json.dumps({"op": "gte", "args": [{"attr": {"key": "n"}}, {"scalar": {"value": "13"}}]})
    assert walk(skua, 4, **{"query.filter": flt}) == single(skua, **{"query.filter": flt})
    assert walk(skua, 4, **{"query.serviceName": "svc-1"}) == single(skua, **{"query.serviceName": "svc-1"})


def test_pages_under_concurrent_ingest(skua):
    before = single(skua)
    fresh = iter(range(100, 200))

    def ingest(n):
        # Newer traces (ahead of the walk), older ones (behind it) and ones tied with it.
        ids = [next(fresh) for _ in range(3)]
        export(skua, request_of([(trace_id(ids[0]), 1, "late", T0 + 500 * S, {}),
                                 (trace_id(ids[1]), 1, "early", T0 - 30 * S, {}),
                                 (trace_id(ids[2]), 1, "tied", start_of(20 - n), {})], "svc-0"))

    seen = walk(skua, 5, between=ingest)
    assert len(seen) == len(set(seen)), "a trace came twice"
    assert set(before) <= set(seen), "a trace that existed at the first page was skipped"
    # The order of the original traces is kept.
    assert [t for t in seen if t in set(before)] == before


def test_tokens_are_bound_to_their_query(skua):
    r = page(skua, 5)
    token = r.json()["nextPageToken"]
    other = page(skua, 5, token, **{"query.serviceName": "svc-0"})
    assert other.status_code == 400 and "another query" in other.json()["error"]["message"]
    # A different page size is the same query: allowed.
    assert page(skua, 9, token).status_code == 200
    for bad in ["garbage", "A" * 44, token[:-2]]:
        r = page(skua, 5, bad)
        assert r.status_code == 400 and "page_token" in r.json()["error"]["message"], bad
    r = requests.get(skua.url("query-http", "/api/v3/trace-summaries"),
                     params={**WINDOW, "query.pagination.pageSize": "5", "query.searchDepth": "3"}, timeout=10)
    assert r.status_code == 400 and "cannot be combined" in r.text
    r = page(skua, 0)
    assert r.status_code == 400 and "page_size" in r.text
    r = requests.get(skua.url("query-http", "/api/v3/traces"),
                     params={**WINDOW, "query.pagination.pageSize": "5"}, timeout=10)
    assert r.status_code == 400 and "not paginated" in r.text


def test_remote_storage_pages(skua, m):
    everything = single(skua)
    with grpc.insecure_channel(skua.addr["query-grpc"]) as ch:
        caps = unary(ch, CAPS + "GetCapabilities", m.s_GetCapabilitiesRequest(), m.s_GetCapabilitiesResponse)
        assert caps.search.paginated
        ids, token = [], ""
        while True:
            q = query(m, window=(T0 - 60 * S, T0 + 2000 * S))
            q.pagination.page_size = 6
            q.pagination.page_token = token
            resp = unary(ch, READER + "FindTraceIDs", m.s_FindTraceIDsRequest(query=q), m.s_FindTraceIDsResponse)
            ids += [t.trace_id.hex() for t in resp.trace_ids]
            token = resp.next_page_token
            if not token:
                break
        assert ids == everything
        # Summaries: the token rides on the last message.
        q = query(m, window=(T0 - 60 * S, T0 + 2000 * S))
        q.pagination.page_size = 10
        call = ch.unary_stream(READER + "FindTraceSummaries", request_serializer=lambda x: x.SerializeToString(),
                               response_deserializer=m.s_FindTraceSummariesResponse.FromString)
        msgs = list(call(m.s_FindTraceSummariesRequest(query=q), timeout=10))
        assert [s.trace_id.hex() for x in msgs for s in x.summaries] == everything[:10]
        assert msgs[-1].next_page_token
        # A token of another query: INVALID_ARGUMENT with reason PAGINATION_INVALID.
        q = query(m, service="svc-0", window=(T0 - 60 * S, T0 + 2000 * S))
        q.pagination.page_size = 6
        q.pagination.page_token = msgs[-1].next_page_token
        with pytest.raises(grpc.RpcError) as e:
            unary(ch, READER + "FindTraceIDs", m.s_FindTraceIDsRequest(query=q), m.s_FindTraceIDsResponse)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        details = dict(e.value.trailing_metadata()).get("grpc-status-details-bin", b"")
        assert b"PAGINATION_INVALID" in details
        # FindTraces is not paginated.
        q = query(m, window=(T0 - 60 * S, T0 + 2000 * S))
        q.pagination.page_size = 6
        call = ch.unary_stream(READER + "FindTraces", request_serializer=lambda x: x.SerializeToString(),
                               response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as e:
            list(call(m.s_FindTracesRequest(query=q), timeout=10))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "not paginated" in e.value.details()
