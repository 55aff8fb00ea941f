"""The console (`/console/`) in a real browser: Debian's chromium driven by playwright, against a
real `hookcore serve`, worker and nats-server.

`make test` installs chromium with apt when it is missing. Screenshots go to ``$CONSOLE_SCREENSHOTS``
(docs/ refreshes the ones docs/console.md shows) or, unset, to the test's temporary directory.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from hookcore.console.session import COOKIE, SESSION_SECONDS, Sessions
from hookcore.http import ERROR_CODE_HEADER
from support import ADMIN_TOKEN, Hookcore

CHROMIUM = "/usr/bin/chromium"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
HOSTILE = "<script>alert('body')</script>"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def responses(hookcore: Hookcore) -> dict[str, Any]:
    return hookcore.deploy("console-co", integration="responses")


@pytest.fixture(scope="module")
def earlier(hookcore: Hookcore, instance: dict[str, Any]) -> str:
    """An execution that exists before anyone logs in."""
    answer = hookcore.client.post(instance["webhookUrls"]["Echo"], json={"secret": "data"})
    assert answer.status_code == 200, answer.text
    execution_id = answer.json()["executionId"]
    hookcore.wait_final(execution_id)
    return str(execution_id)


@pytest.fixture
def session(hookcore: Hookcore) -> Iterator[httpx.Client]:
    """An HTTP client logged in to the console (cookie jar), for what needs no browser."""
    with httpx.Client(base_url=hookcore.base, timeout=30) as client:
        answer = client.post("/console/login", data={"token": ADMIN_TOKEN})
        assert answer.status_code == 303, answer.text
        yield client


def _shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path).resolve()


def _csrf(page: str) -> str:
    found = CSRF.search(page)
    assert found, page[:500]
    return found.group(1)


def _login(page: Page, base: str) -> None:
    answer = page.goto(f"{base}/console/")
    assert answer is not None and answer.status == 401
    page.fill("#token", ADMIN_TOKEN)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Executions")


def test_log_in_see_a_webhook_live_open_it_and_replay_it(
    hookcore: Hookcore, browser: Browser, responses: dict[str, Any], earlier: str, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    _login(page, hookcore.base)
    cookie = next(c for c in context.cookies() if c["name"] == COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    assert ADMIN_TOKEN not in cookie["value"]
    expect(page.locator(f"#x-{earlier}")).to_be_visible()
    expect(page.locator("#live-state")).to_have_text("Live: new executions appear as they run.")
    page.evaluate("window.stillTheSamePage = true")

    # A webhook sent now appears in the open list, without a reload.
    sent = hookcore.client.post(
        responses["webhookUrls"]["Steps"] + "/orders/7?page=2&tag=a&tag=b",
        json={"note": HOSTILE, "n": [1, 2]},
        headers={"x-sender": "<b>bold</b>"},
    )
    assert sent.status_code == 200, sent.text
    execution_id = sent.json()["executionId"]
    row = page.locator(f"#x-{execution_id}")
    expect(row).to_contain_text("succeeded", timeout=30_000)
    assert page.evaluate("window.stillTheSamePage") is True
    page.screenshot(path=_shots(tmp_path) / "console-executions.png")

    # Open it: request, steps, logs and result, hostile text shown as text.
    row.locator("a").click()
    expect(page.locator("h1")).to_have_text(f"Execution {execution_id}")
    expect(page.locator("#summary")).to_contain_text("succeeded")
    body = page.locator("#body")
    expect(body).to_contain_text('"note": "' + HOSTILE + '"')
    expect(body).to_contain_text('"n": [\n    1,\n    2\n  ]')
    request = page.locator("#request")
    expect(request).to_contain_text("orders/7")
    expect(request).to_contain_text("a, b")
    expect(request).to_contain_text("<b>bold</b>")
    steps = page.locator("#steps")
    expect(steps).to_contain_text("add")
    expect(steps).to_contain_text("double")
    expect(page.locator("#logs")).to_contain_text("total is 5")
    expect(page.locator("#result")).to_contain_text("10")
    page.screenshot(path=_shots(tmp_path) / "console-execution.png", full_page=True)

    # Replay it: a new execution of the same request, opened at once.
    page.click("#replay")
    page.wait_for_url(re.compile(r"/console/executions/(?!" + execution_id + ")"))
    replay_id = page.url.rsplit("/", 1)[1]
    assert UUID.fullmatch(replay_id) and replay_id > execution_id
    assert hookcore.wait_final(replay_id)["status"] == "succeeded"
    page.reload()
    expect(page.locator("#body")).to_contain_text(HOSTILE)
    expect(page.locator("#steps")).to_contain_text("double")

    # Log out: the list is gone.
    page.click("nav button")
    expect(page.locator("h1")).to_have_text("Log in")
    assert execution_id not in page.content()

    assert not dialogs, "a hostile body ran as script"
    assert urls and not [u for u in urls if ADMIN_TOKEN in u]
    context.close()


def test_a_replay_links_to_its_original_and_back(
    hookcore: Hookcore, session: httpx.Client, earlier: str
) -> None:
    page = session.get(f"/console/executions/{earlier}").text
    answer = session.post(f"/console/executions/{earlier}/replay", data={"csrf": _csrf(page)})
    assert answer.status_code == 303
    replay_id = answer.headers["location"].rsplit("/", 1)[1]
    hookcore.wait_final(replay_id)
    replay_page = session.get(f"/console/executions/{replay_id}").text
    assert f'href="/console/executions/{earlier}"' in replay_page.split('class="replay-of"', 1)[1]
    original_page = session.get(f"/console/executions/{earlier}").text
    assert f'href="/console/executions/{replay_id}"' in original_page.split('class="replayed-as"', 1)[1]


def test_without_login_no_data_and_no_ids(hookcore: Hookcore, earlier: str) -> None:
    sessions = Sessions(ADMIN_TOKEN, secure=False)
    _, expired = sessions.issue(now=time.time() - SESSION_SECONDS - 10)
    forged = Sessions("another token", secure=False).issue()[1]
    cookies = [
        None,
        expired.split(";", 1)[0],
        forged.split(";", 1)[0],
        f"{COOKIE}=",
        f"{COOKIE}=1.2.3",
        f"{COOKIE}=99999999999.x.y",
        f"{COOKIE}={ADMIN_TOKEN}",
        "a=b; c",
    ]
    paths = [
        "/console/",
        f"/console/executions/{earlier}",
        f"/console/executions/{earlier}/body",
        "/console/instances",
        "/console/events",
        "/console/nowhere",
    ]
    for cookie in cookies:
        for path in paths:
            headers = {"cookie": cookie} if cookie else {}
            answer = hookcore.client.get(path, headers=headers)
            where = f"{path} with {cookie!r}"
            assert answer.status_code == 401, where
            assert answer.headers[ERROR_CODE_HEADER] == "login_required", where
            assert answer.headers["content-type"].startswith("text/html"), where
            assert "default-src 'none'" in answer.headers["content-security-policy"], where
            assert not UUID.search(answer.text), where
            assert 'type="password"' in answer.text, where
    replay = hookcore.client.post(f"/console/executions/{earlier}/replay", data={"csrf": "x"})
    assert replay.status_code == 401


def test_a_wrong_token_is_refused_and_sets_no_cookie(hookcore: Hookcore) -> None:
    for token in ("wrong", "", ADMIN_TOKEN + "x", ADMIN_TOKEN[:-1]):
        answer = hookcore.client.post("/console/login", data={"token": token})
        assert answer.status_code == 401
        assert answer.headers[ERROR_CODE_HEADER] == "admin_token_invalid"
        assert "set-cookie" not in answer.headers


def test_the_token_is_never_in_a_page_or_url(session: httpx.Client, earlier: str) -> None:
    for path in ("/console/", f"/console/executions/{earlier}", "/console/instances"):
        answer = session.get(path)
        assert answer.status_code == 200
        assert ADMIN_TOKEN not in answer.text and ADMIN_TOKEN not in str(answer.url)


def test_replay_needs_the_csrf_token(hookcore: Hookcore, session: httpx.Client, earlier: str) -> None:
    before = hookcore.admin.get("/api/executions?limit=500").json()["items"]
    other = Sessions(ADMIN_TOKEN, secure=False)
    other_csrf = other.csrf_token(other.issue()[0])  # a valid token, of another session
    for data in ({}, {"csrf": ""}, {"csrf": "forged"}, {"csrf": other_csrf}):
        answer = session.post(f"/console/executions/{earlier}/replay", data=data)
        assert answer.status_code == 403, answer.text
        assert answer.headers[ERROR_CODE_HEADER] == "csrf_invalid"
    after = hookcore.admin.get("/api/executions?limit=500").json()["items"]
    assert len(after) == len(before)


def test_a_binary_body_is_shown_as_hex_and_downloads_exactly(
    hookcore: Hookcore, session: httpx.Client, instance: dict[str, Any]
) -> None:
    raw = bytes(range(256))
    sent = hookcore.client.post(
        instance["webhookUrls"]["Echo"], content=raw, headers={"content-type": "image/png"}
    )
    execution_id = sent.json()["executionId"]
    hookcore.wait_final(execution_id)
    page = session.get(f"/console/executions/{execution_id}").text
    assert "Shown as binary" in page
    assert "00000010  10 11 12 13" in page
    download = session.get(f"/console/executions/{execution_id}/body")
    assert download.status_code == 200 and download.content == raw
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment")


def test_filters_and_pages(hookcore: Hookcore, session: httpx.Client, instance: dict[str, Any]) -> None:
    ids = []
    for _ in range(3):
        answer = hookcore.client.post(instance["webhookUrls"]["Fail"], json={})
        ids.append(answer.json()["executionId"])
    for execution_id in ids:
        assert hookcore.wait_final(execution_id, timeout=60)["status"] == "dead"  # async: retried, then dead
    dead = session.get("/console/", params={"status": "dead", "flow": "Fail", "customer": "acme"}).text
    shown = list(dict.fromkeys(UUID.findall(dead.split("<tbody>", 1)[1])))  # each row names its id 3 times
    assert set(ids) <= set(shown)
    assert shown == sorted(shown, reverse=True)  # newest first
    count = re.search(r'id="count-dead">(\d+)<', dead)
    assert count and int(count.group(1)) == len(shown) and "count-succeeded" not in dead
    page = session.get(f"/console/executions/{ids[0]}").text
    assert "The widget requested is not in the database" in page.split('<pre class="error">', 1)[1], page
    # A page of older ones: everything before the newest of them.
    older = session.get("/console/", params={"flow": "Fail", "cursor": ids[-1]}).text
    assert ids[-1] not in older and {ids[0], ids[1]} <= set(UUID.findall(older))
    assert "data-events" not in older  # only the first page is live
    none = session.get("/console/", params={"customer": "nobody"}).text
    assert 'id="none"' in none
    later = session.get("/console/", params={"since": "2999-01-01T00:00"}).text
    assert 'id="none"' in later
    before = session.get("/console/", params={"until": "2000-01-01T00:00:00Z"}).text
    assert 'id="none"' in before
    for query in ({"status": "nope"}, {"since": "yesterday"}, {"cursor": "x"}, {"flow": "f" * 500}):
        answer = session.get("/console/", params=query)
        assert answer.status_code == 400, query
        assert answer.headers[ERROR_CODE_HEADER] == "bad_request"


def test_instances_page_manages_api_keys(session: httpx.Client, responses: dict[str, Any]) -> None:
    page = session.get("/console/instances").text
    assert responses["webhookUrls"]["Keyed"] in page
    old_keys = set(responses["webhookApiKeys"]["Keyed"])
    csrf = _csrf(page)
    created = session.post(
        f"/console/instances/{responses['id']}/api-keys", data={"flow": "Keyed", "csrf": csrf}
    )
    assert created.status_code == 303
    page = session.get("/console/instances").text
    section = page.split(f'id="i-{responses["id"]}"', 1)[1].split("</section>", 1)[0]
    keys = set(re.findall(r'name="key" value="([^"]+)"', section))
    (new_key,) = keys - old_keys
    revoked = session.post(
        f"/console/instances/{responses['id']}/api-keys/revoke", data={"key": new_key, "csrf": csrf}
    )
    assert revoked.status_code == 303
    section = session.get("/console/instances").text.split(f'id="i-{responses["id"]}"', 1)[1]
    assert set(re.findall(r'name="key" value="([^"]+)"', section.split("</section>", 1)[0])) == keys - {
        new_key
    }


def _feed(
    session: httpx.Client, last_event_id: str | None = None, on_open: Callable[[], None] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """The (event id, data) of each execution event of one whole feed; ``on_open`` runs once it is open."""
    headers = {"last-event-id": last_event_id} if last_event_id else {}
    events = []
    with session.stream("GET", "/console/events", headers=headers) as feed:
        assert feed.status_code == 200
        assert feed.headers["content-type"] == "text/event-stream"
        if on_open is not None:
            on_open()
        event_id = None
        for line in feed.iter_lines():
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                assert event_id is not None
                events.append((event_id, json.loads(line[6:])))
    return events


def test_a_reconnecting_feed_misses_no_write(
    hookcore: Hookcore, session: httpx.Client, instance: dict[str, Any]
) -> None:
    """Feeds end after a few seconds (so that they never hold a shutdown); the browser comes back
    with the last event id it saw and gets what was written in between."""
    sent: list[str] = []

    def send() -> None:
        answer = hookcore.client.post(instance["webhookUrls"]["Quick"], json={})
        sent.append(answer.json()["executionId"])

    first = _feed(session, on_open=send)
    assert first and first[0][1]["id"] == sent[0] and f'id="x-{sent[0]}"' in first[0][1]["row"]
    send()  # while no feed is open
    hookcore.wait_final(sent[0])
    hookcore.wait_final(sent[1])
    resumed = _feed(session, first[-1][0])
    # The records bucket keeps each record's latest write only: a resumed feed brings the
    # record as it now stands, which is what the page shows.
    for execution_id in sent:
        statuses = [event["status"] for _, event in first + resumed if event["id"] == execution_id]
        assert statuses and statuses[-1] == "succeeded", (execution_id, first, resumed)
    assert sent[1] in {event["id"] for _, event in resumed}
