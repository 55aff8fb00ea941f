"""Bad input over real HTTP, on every route: a clear 4xx or a success, never a 5xx.

A real `hookcore serve` and worker against a real nats-server. The only 5xx
allowed are 503 with ``Retry-After`` (the queue is unavailable) and 504 for a
synchronous execution that did not finish in time. Every 4xx is
``{"error": str}`` with a ``hookcore-error-code`` header (the console's are HTML
pages, with the header).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hookcore import _core
from hookcore.embedded import EmbeddedNats
from hookcore.errors import ErrorCode
from hookcore.http import ERROR_CODE_HEADER
from support import ADMIN_TOKEN, Hookcore, assert_refused, running_hookcore

SYNC_TIMEOUT = 3.0
MAX_BODY = 64 * 1024
MIB = 1024 * 1024


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def hookcore(nats: EmbeddedNats, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hookcore]:
    """The module's server, with a short sync timeout and body limit so that both are reached cheaply."""
    env = {"HOOKCORE_SYNC_TIMEOUT": str(SYNC_TIMEOUT), "HOOKCORE_MAX_BODY": str(MAX_BODY)}
    with running_hookcore(nats, tmp_path_factory.mktemp("logs"), env=env) as hc:
        yield hc


@pytest.fixture(scope="module")
def world(hookcore: Hookcore) -> dict[str, Any]:
    """One instance of every test integration, its trigger URLs (by endpoint kind) and keys."""
    basic = hookcore.deploy("fz-basic")
    shared = hookcore.deploy("fz-shared", integration="acme-shared")
    per_instance = hookcore.deploy("fz-instance", integration="acme-instance")
    pre = hookcore.deploy("fz-pre", integration="acme-pre")
    responses = hookcore.deploy("fz-responses", integration="responses")
    flows = responses["webhookUrls"]
    urls = {
        "instance_and_flow": basic["webhookUrls"]["Quick"],
        "instance_and_flow_echo": basic["webhookUrls"]["Echo"],
        "instance_and_flow_fail": basic["webhookUrls"]["Fail"],
        "instance": per_instance["webhookUrls"]["Created"],
        "shared": shared["invokeUrl"],
        "preprocess": pre["webhookUrls"]["Big"],
        "on_trigger": flows["Challenge"],
        "on_trigger_refusing": flows["Refused"],
        "on_trigger_with_api_key": flows["Keyed"],
        "static_response": flows["Custom"],
        "synchronous": flows["Sync"],
        "synchronous_failing": flows["SyncFail"],
        "synchronous_slow": flows["SyncSlow"],
        "synchronous_binary": flows["Binary"],
    }
    keys = [k for inst in (shared, pre, responses) for ks in inst["webhookApiKeys"].values() for k in ks]
    # A finished synchronous execution: a valid signed result URL to mutate.
    answer = hookcore.client.post(urls["synchronous"], json={"echo": 1})
    assert answer.status_code == 303, answer.text
    instances = [basic, shared, per_instance, pre, responses]
    return {
        "urls": urls,
        "keys": keys,
        "instance_ids": [i["id"] for i in instances],
        "execution_id": answer.headers["hookcore-execution-id"],
        "result_url": answer.headers["location"],
    }


def _check(response: httpx.Response, *, trigger: bool = False) -> None:
    """The contract every answer keeps, whatever was sent."""
    status = response.status_code
    request = response.request
    where = f"{request.method} {request.url} -> {status}: {response.text[:300]!r}"
    if status >= 500:
        assert status in (503, 504), where
        if status == 503:
            assert response.headers.get("retry-after"), where
        else:  # a synchronous execution that goes on
            assert trigger and set(response.json()) == {"error", "executionId"}, where
            assert response.headers["hookcore-execution-id"] == response.json()["executionId"], where
        return
    console = request.url.path.startswith("/console")
    if 400 <= status < 500:
        if console:  # pages for people: the message in HTML
            assert response.headers["content-type"].startswith("text/html"), where
        elif request.method != "HEAD":
            body = response.json()
            assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"], where
        assert response.headers.get(ERROR_CODE_HEADER) in set(ErrorCode), where
        if status == 405:
            assert response.headers.get("allow"), where
        return
    json_answer = response.content and response.headers.get("content-type") == "application/json"
    answer = response.json() if json_answer else None  # (a HEAD's answer has no body)
    if isinstance(answer, dict) and "executionId" in answer:  # an answer naming the execution it made
        assert response.headers.get("hookcore-execution-id") == answer["executionId"], where
    if status == 303 and console:
        assert response.headers["location"].startswith("/console/"), where
    elif status == 303:
        assert response.headers["location"].startswith(
            f"{request.url.scheme}://{request.url.netloc.decode()}/results/"
        )


# ---------------------------------------------------------------- strategies

unicode_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=24)
hostile_text = st.one_of(
    unicode_text,
    st.sampled_from(
        ["", " ", "²", "١٢٣", "é", "%", "%zz", "%C3", "%00", "..", ".", "*", ">", "a.b", "-1", "0"]
    ),
    st.integers(min_value=10**20, max_value=10**30).map(str),
)
header_values = st.one_of(
    st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=30
    ).map(lambda s: s.encode("latin-1").strip(b" \t")),  # h11 sends no surrounding blanks
    st.sampled_from([b"true", b"TRUE", b"false", b"1", b""]),
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=----X",
        "multipart/form-data; boundary=X",
        "text/plain; charset=utf-16",
        "text/plain; charset=nope",
        "application/xml",
        "image/png",
        "application/problem+json",
        "é/ü",
        "",
    ]
).map(str.encode)  # UTF-8 bytes: a non-ASCII content type reaches the server as sent
bodies = st.one_of(
    st.binary(max_size=300),
    unicode_text.map(str.encode),
    st.sampled_from(
        [
            b'--X\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--X--\r\n',
            b'--X\r\nContent-Disposition: form-data; name="f"; filename="x"\r\n'
            b"Content-Type: application/json\r\n\r\n{bad\r\n--X--\r\n",
            b'{"a": [1, 2, {"b": null}]}',
            b'{"event": {"type": "order.created"}}',
            b'{"event": {"type": "order.paid"}}',
            b'{"event": {"type": ["order.created"]}}',
            b'{"event": "order.created"}',
            b'{"n": 50}',
            b'{"n": 1}',
            b'{"n": -1}',
            b'{"n": "x"}',
            b'{"n": 1e400}',
            b'{"n": 123456789012345678901234567890}',
            b'{"m": 1}',
            b'{"echo": "\\ud800"}',
            b"<r><challenge>abc</challenge></r>",
            b"<r><a>1</a></r>",
            b"<r><unclosed>",
            b"[" * 300 + b"]" * 300,
            b"{" * 50,
            b"a=1&a=2&b=%ZZ&=&&c",
            b"\xff\xfe\x00",
        ]
    ),
)
trigger_headers = st.dictionaries(
    st.sampled_from(
        [
            "x-acme-account",
            "x-event",
            "api-key",
            "hookcore-synchronous",
            "x-anything",
            "accept",
            "content-encoding",
        ]
    ),
    header_values,
    max_size=4,
)
methods = st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND"])


def _quote(text: str) -> str:
    """Percent-encode what a URL cannot carry, leaving '%' as it is (hostile escapes go through)."""
    return urllib.parse.quote(text, safe="/%=&+;:@!$'()*,")


# ---------------------------------------------------------------- /trigger


@settings(FUZZ, max_examples=600)  # the busiest route, with the most kinds of input
@given(
    data=st.data(),
    method=st.sampled_from(
        ["GET", "HEAD", "POST", "POST", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"]
    ),
    suffix=st.one_of(
        st.just(""), unicode_text.map(lambda s: "/" + s), st.sampled_from(["/", "//", "/%2F..%2F"])
    ),
    query=st.one_of(
        st.just(""), unicode_text, st.sampled_from(["a=1&a=2", "%ZZ=%", "&&=&", "a=" + "x" * 3000])
    ),
    content_type=content_types,
    payload=bodies,
    headers=trigger_headers,
    sync=st.booleans(),
    with_key=st.booleans(),
)
def test_trigger_never_answers_a_server_error(
    hookcore: Hookcore,
    world: dict[str, Any],
    data: st.DataObject,
    method: str,
    suffix: str,
    query: str,
    content_type: bytes,
    payload: bytes,
    headers: dict[str, bytes],
    sync: bool,
    with_key: bool,
) -> None:
    kind = data.draw(st.sampled_from(sorted(world["urls"])), label="endpoint kind")
    url = world["urls"][kind] + _quote(suffix) + ("?" + _quote(query) if query else "")
    sent: dict[str, Any] = {"content-type": content_type, **headers}
    if sync:
        sent["hookcore-synchronous"] = "true"
    if with_key:
        sent["api-key"] = data.draw(st.sampled_from(world["keys"]), label="api key")
    if data.draw(st.booleans(), label="customer header"):
        sent["x-acme-account"] = data.draw(st.sampled_from(["fz-shared", "nobody", ""]), label="customer")
    response = hookcore.client.request(method, url, content=payload, headers=sent)
    _check(response, trigger=True)


def test_a_get_body_is_ignored_by_on_trigger_flows(hookcore: Hookcore, world: dict[str, Any]) -> None:
    """GET carries no body: the core ignores it, so the ingress's hooks must too (a 500 before)."""
    url = world["urls"]["on_trigger_refusing"]
    response = hookcore.client.request(
        "GET", url, content=b"\x00", headers={"content-type": "application/json"}
    )
    # on_trigger ran, and said so
    assert_refused(response, 400, ErrorCode.HOOK_FAILED, "signature header is missing")


def test_trigger_body_over_the_limit_is_413(hookcore: Hookcore, world: dict[str, Any]) -> None:
    url = world["urls"]["instance_and_flow"]

    def chunks() -> Iterator[bytes]:
        for _ in range(3):
            yield b"x" * MAX_BODY

    for content in (b"x" * (MAX_BODY + 1), chunks()):
        response = hookcore.client.post(url, content=content)
        assert response.status_code == 413, response.text
        _check(response, trigger=True)
        assert response.headers[ERROR_CODE_HEADER] == "body_too_large"


# ---------------------------------------------------------------- /results


@FUZZ
@given(
    data=st.data(),
    expires=st.one_of(st.none(), hostile_text, st.integers(min_value=-(10**6), max_value=10**12).map(str)),
    signature=st.one_of(st.none(), hostile_text, st.text("0123456789abcdef", min_size=64, max_size=64)),
    extra=st.sampled_from(["", "&expires=1", "&signature=", "&expires=²&expires=9"]),
)
def test_signed_result_urls_never_answer_a_server_error(
    hookcore: Hookcore,
    world: dict[str, Any],
    data: st.DataObject,
    expires: str | None,
    signature: str | None,
    extra: str,
) -> None:
    valid = httpx.URL(world["result_url"])
    execution_id = data.draw(
        st.one_of(st.just(world["execution_id"]), hostile_text, st.just(_core.new_id())), label="execution id"
    )
    params = dict(valid.params)
    if data.draw(st.booleans(), label="replace expires"):
        params["expires"] = expires  # type: ignore[assignment]
    if data.draw(st.booleans(), label="replace signature"):
        params["signature"] = signature  # type: ignore[assignment]
    query = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in params.items() if v is not None) + extra
    response = hookcore.client.get(f"/results/{_quote(execution_id)}?{query}")
    _check(response)
    assert response.status_code in (200, 403, 404), response.text


def test_a_valid_signed_result_url_answers_the_result(hookcore: Hookcore, world: dict[str, Any]) -> None:
    response = hookcore.client.get(world["result_url"])
    assert response.status_code == 200 and response.json() == {"echo": 1}


# ---------------------------------------------------------------- /api

api_paths = st.sampled_from(
    [
        "/api",
        "/api/",
        "/api/instances",
        "/api/instances/{instance}",
        "/api/instances/{junk}",
        "/api/instances/{instance}/api-keys",
        "/api/instances/{junk}/api-keys",
        "/api/instances/{instance}/api-keys/{junk}",
        "/api/executions",
        "/api/executions/{execution}",
        "/api/executions/{junk}",
        "/api/executions/{execution}/result",
        "/api/executions/{junk}/result",
        "/api/executions/{junk}/replay",
        "/api/executions/{execution}/replay",
        "/api/openapi.json",
        "/api/{junk}",
    ]
)
api_bodies = st.one_of(
    st.just(b""),
    st.binary(max_size=100),
    st.sampled_from(
        [
            b"{",
            b"[]",
            b"null",
            b'{"integration": 1}',
            b'{"integration": "nope", "customer": "x"}',
            b'{"integration": "testapp", "customer": ""}',
            b'{"integration": "testapp", "customer": "fz-api", "config": {"a": 1}}',
            b'{"integration": "testapp", "customer": "fz-api", "config": {"a": "1"}, "extra": true}',
            b'{"integration": "acme-shared", "customer": "fz-shared"}',
            b'{"flow": "Quick"}',
            b'{"flow": "Keyed"}',
            b'{"flow": ["Keyed"]}',
            b'{"flow": 1e400}',
            b'{"integration": "\\ud800", "customer": "\\u0000"}',
            b"[" * 2000,
            b'{"a": ' * 100 + b"1" + b"}" * 100,
        ]
    ),
)
VALID_TOKENS = [f"Bearer {ADMIN_TOKEN}", f"Bearer  {ADMIN_TOKEN}"]
bad_tokens = st.sampled_from(
    [
        None,
        f"bearer {ADMIN_TOKEN}",
        "Bearer",
        "Bearer wrong",
        f"Bearer {ADMIN_TOKEN[:-1]}",
        "Basic dGVzdDp0ZXN0",
        f"Bearer {ADMIN_TOKEN}é".encode("latin-1"),
        f"Bearer {ADMIN_TOKEN}é".encode(),
    ]
)
# Mostly the methods the routes take, so that most requests reach a handler.
api_methods = st.sampled_from(
    ["GET", "GET", "GET", "POST", "POST", "DELETE", "HEAD", "PUT", "PATCH", "OPTIONS"]
)
api_queries = st.dictionaries(
    st.sampled_from(["limit", "cursor", "flow", "customer", "status"]),
    st.one_of(hostile_text, st.sampled_from(["1", "50", "500", "0", "queued", "succeeded", "Quick"])),
    max_size=3,
)


def _api_request(
    hookcore: Hookcore,
    world: dict[str, Any],
    data: st.DataObject,
    method: str,
    path: str,
    junk: str,
    query: dict[str, str],
    body: bytes,
    token: str | bytes | None,
) -> httpx.Response:
    if method == "DELETE" and "{instance}" in path and "api-keys" not in path:
        method = "GET"  # never remove the instances the other examples use
    target = path.format(
        instance=data.draw(st.sampled_from(world["instance_ids"]), label="instance"),
        execution=world["execution_id"],
        # "." and ".." segments would be resolved by the client: send them escaped
        junk=(_quote(junk).replace("/", "%2F") if junk.strip(".") else junk.replace(".", "%2E")) or "x",
    )
    if query:
        target += "?" + "&".join(f"{k}={_quote(v)}" for k, v in query.items())
    headers: dict[str, Any] = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = token
    response = hookcore.client.request(method, target, content=body, headers=headers)
    _check(response)
    return response


@FUZZ
@given(
    data=st.data(),
    method=api_methods,
    path=api_paths,
    junk=hostile_text,
    query=api_queries,
    body=api_bodies,
    token=st.sampled_from(VALID_TOKENS),
)
def test_api_never_answers_a_server_error(
    hookcore: Hookcore,
    world: dict[str, Any],
    data: st.DataObject,
    method: str,
    path: str,
    junk: str,
    query: dict[str, str],
    body: bytes,
    token: str,
) -> None:
    _api_request(hookcore, world, data, method, path, junk, query, body, token)


@settings(FUZZ, max_examples=80)
@given(
    data=st.data(),
    method=api_methods,
    path=api_paths,
    junk=hostile_text,
    query=api_queries,
    body=api_bodies,
    token=bad_tokens,
)
def test_api_without_the_token_is_401(
    hookcore: Hookcore,
    world: dict[str, Any],
    data: st.DataObject,
    method: str,
    path: str,
    junk: str,
    query: dict[str, str],
    body: bytes,
    token: str | bytes | None,
) -> None:
    response = _api_request(hookcore, world, data, method, path, junk, query, body, token)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("method", "target", "status"),
    [  # each answered 500 before: "²" and "é" are str.isalnum()/isdigit(), and NATS refuses them in keys
        ("GET", "/api/executions?limit=%C2%B2", 400),
        ("GET", "/api/executions?limit=" + "9" * 5000, 400),
        ("GET", "/api/instances/%C2%B2", 404),
        ("DELETE", "/api/instances/%C3%A9", 404),
        ("POST", "/api/instances/%C3%A9/api-keys", 404),
        ("GET", "/api/executions/%C3%A9", 404),
        ("GET", "/api/executions/a.", 404),
        # a key so long that its subject's protocol line made nats-server close the shared connection
        ("GET", "/api/executions/" + "0" * 5000, 404),
        ("GET", "/api/instances/" + "0" * 5000, 404),
        ("GET", "/api/executions/%C3%A9/result", 404),
        ("POST", "/api/executions/%C2%B2/replay", 404),
    ],
)
def test_hostile_ids_and_limits(hookcore: Hookcore, method: str, target: str, status: int) -> None:
    response = hookcore.admin.request(method, target, json={"flow": "Keyed"} if method == "POST" else None)
    assert response.status_code == status, response.text
    _check(response)


@pytest.mark.parametrize("path", ["/api/instances", "/api/instances/x/api-keys"])
def test_api_body_over_1_mib_is_413(hookcore: Hookcore, path: str) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(3):
            yield b" " * (MIB // 2)

    for content in (b" " * (MIB + 1), chunks()):
        response = hookcore.admin.post(path, content=content, headers={"content-type": "application/json"})
        assert response.status_code == 413, response.text
        _check(response)


# ---------------------------------------------------------------- /console

console_paths = st.sampled_from(
    [
        "/console",
        "/console/",
        "/console/login",
        "/console/logout",
        "/console/executions",
        "/console/executions/{execution}",
        "/console/executions/{junk}",
        "/console/executions/{execution}/body",
        "/console/executions/{junk}/body",
        "/console/executions/{execution}/replay",
        "/console/executions/{junk}/replay",
        "/console/instances",
        "/console/instances/{instance}/api-keys",
        "/console/instances/{junk}/api-keys",
        "/console/instances/{instance}/api-keys/revoke",
        "/console/instances/{junk}/api-keys/revoke",
        "/console/static/console.css",
        "/console/static/{junk}",
        "/console/{junk}",
    ]
)
console_queries = st.dictionaries(
    st.sampled_from(["customer", "flow", "status", "since", "until", "cursor"]),
    st.one_of(
        hostile_text,
        st.sampled_from(
            [
                "failed",
                "Quick",
                "fz-basic",
                "2026-01-01T00:00",
                "9999-12-31T23:59:59",
                "0001-01-01T00:00:00+14:00",
                "2026-01-01T00:00:00Z",
                "00000000-0000-7000-8000-000000000000",
            ]
        ),
    ),
    max_size=3,
)
console_methods = st.sampled_from(["GET", "GET", "GET", "POST", "POST", "HEAD", "DELETE", "PUT", "OPTIONS"])


@pytest.fixture(scope="module")
def console_session(hookcore: Hookcore) -> dict[str, str]:
    """A console session's cookie and CSRF token (logged in without the shared client's cookie jar)."""
    login = httpx.post(f"{hookcore.base}/console/login", data={"token": ADMIN_TOKEN}, timeout=30)
    assert login.status_code == 303, login.text
    cookie = login.headers["set-cookie"].split(";", 1)[0]
    page = httpx.get(f"{hookcore.base}/console/instances", headers={"cookie": cookie}, timeout=30).text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return {"cookie": cookie, "csrf": csrf}


@FUZZ
@given(
    data=st.data(),
    method=console_methods,
    path=console_paths,
    junk=hostile_text,
    query=console_queries,
    form=st.dictionaries(
        st.sampled_from(["csrf", "flow", "key", "token"]),
        st.one_of(hostile_text, st.sampled_from(["Keyed", "Quick", ADMIN_TOKEN])),
        max_size=3,
    ),
    raw=st.one_of(st.none(), st.binary(max_size=100)),
    cookie=st.sampled_from(["valid", "none", "junk", "forged", "expired", "doubled", "latin-1"]),
)
def test_console_never_answers_a_server_error(
    hookcore: Hookcore,
    world: dict[str, Any],
    console_session: dict[str, str],
    data: st.DataObject,
    method: str,
    path: str,
    junk: str,
    query: dict[str, str],
    form: dict[str, str],
    raw: bytes | None,
    cookie: str,
) -> None:
    target = path.format(
        instance=data.draw(st.sampled_from(world["instance_ids"]), label="instance"),
        execution=world["execution_id"],
        junk=(_quote(junk).replace("/", "%2F") if junk.strip(".") else junk.replace(".", "%2E")) or "x",
    )
    if query:
        target += "?" + "&".join(f"{k}={_quote(v)}" for k, v in query.items())
    valid = console_session["cookie"]
    cookies: dict[str, str | bytes | None] = {
        "valid": valid,
        "none": None,
        "junk": "hookcore_console=" + _quote(junk),
        "forged": valid[:-4] + "AAAA",
        "expired": "hookcore_console=1." + valid.split(".", 2)[1] + ".x",
        "doubled": f"{valid}; hookcore_console=x",
        # UTF-8 bytes, which the server reads as Latin-1 (no control characters: h11 sends none)
        "latin-1": "".join(c for c in f"hookcore_console={junk}" if c >= " " and c != "\x7f")
        .strip()
        .encode(),
    }
    headers: dict[str, Any] = {"content-type": "application/x-www-form-urlencoded"}
    if cookies[cookie] is not None:
        headers["cookie"] = cookies[cookie]
    if data.draw(st.booleans(), label="the session's CSRF token"):
        form = {**form, "csrf": console_session["csrf"]}
    body = raw if raw is not None else urllib.parse.urlencode(form).encode()
    response = hookcore.client.request(method, target, content=body, headers=headers)
    _check(response)
    if (
        cookie != "valid"
        and not path.startswith(("/console/static", "/console/login"))
        and path != "/console"
    ):
        assert response.status_code == 401, response.text


@pytest.mark.parametrize(
    ("method", "target", "status"),
    [
        ("GET", "/console/executions/%C3%A9", 404),
        ("GET", "/console/executions/a.", 404),
        ("GET", "/console/executions/" + "0" * 5000, 404),
        ("GET", "/console/executions/%C2%B2/body", 404),
        ("POST", "/console/executions/%C2%B2/replay", 404),
        ("POST", "/console/instances/%C3%A9/api-keys", 404),
        ("POST", "/console/instances/%C3%A9/api-keys/revoke", 404),
        ("GET", "/console/?cursor=%C2%B2", 400),
        ("GET", "/console/?until=%C2%B2", 400),
        ("PUT", "/console/", 405),
    ],
)
def test_console_hostile_ids(
    hookcore: Hookcore, console_session: dict[str, str], method: str, target: str, status: int
) -> None:
    response = hookcore.client.request(
        method,
        target,
        content=f"csrf={console_session['csrf']}&flow=Keyed&key=x".encode(),
        headers={"cookie": console_session["cookie"], "content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == status, response.text
    _check(response)


@pytest.mark.parametrize(
    "query",
    [
        "status=nope",
        "status=%C2%B2",
        "since=yesterday",
        "until=2026-13-01",
        "since=" + "9" * 5000,
        "flow=" + "f" * 500,
    ],
)
@pytest.mark.parametrize("path", ["/console/", "/console/events"])
def test_console_filters_that_are_not_filters_are_400(
    hookcore: Hookcore, console_session: dict[str, str], path: str, query: str
) -> None:
    response = hookcore.client.get(f"{path}?{query}", headers={"cookie": console_session["cookie"]})
    assert response.status_code == 400, response.text
    assert response.headers[ERROR_CODE_HEADER] == "bad_request"
    _check(response)


# ---------------------------------------------------------------- health, metrics, anything else


@FUZZ
@given(
    path=st.one_of(
        st.sampled_from(["/healthz", "/readyz", "/metrics"]),
        st.sampled_from(["/", "//", "/trigger", "/results", "/results/", "/console", "/healthz/x", "/%ZZ"]),
        unicode_text.map(lambda s: "/" + _quote(s)),
    ),
    method=methods,
    query=st.one_of(st.just(""), unicode_text.map(_quote)),
)
def test_other_routes_never_answer_a_server_error(
    hookcore: Hookcore, path: str, method: str, query: str
) -> None:
    response = hookcore.client.request(method, path + ("?" + query if query else ""))
    _check(response, trigger=path.startswith("/trigger/"))
    if path in ("/healthz", "/metrics"):
        assert response.status_code == 200
    if path == "/readyz":
        assert response.status_code == 200 or (
            response.status_code == 503 and response.headers["retry-after"]
        )


def test_the_server_stayed_healthy(hookcore: Hookcore, world: dict[str, Any]) -> None:
    """After everything above: still ready, no traceback in the ingress's log."""
    assert hookcore.client.get("/readyz").status_code == 200
    assert hookcore.ingress is not None
    log = hookcore.ingress.log()
    assert "Traceback" not in log, log[-3000:]
    assert hookcore.client.post(world["urls"]["instance_and_flow"], json={}).status_code == 200
