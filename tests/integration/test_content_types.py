"""Every content type of SPEC section 3, sent by real clients, arrives in the flow as specified."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from hookcore.errors import ErrorCode
from support import Hookcore, assert_refused, nothing_stored

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def _seen(hookcore: Hookcore, response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    execution_id = response.json()["executionId"]
    record = hookcore.wait_final(execution_id)
    assert record["status"] == "succeeded", record
    return dict(hookcore.result(execution_id).json())


def _curl(*args: str) -> dict[str, Any]:
    out = subprocess.run(["curl", "-sS", *args], capture_output=True, check=True, timeout=30).stdout
    return dict(json.loads(out))


class _Curled:
    """A curl answer looking enough like a response for `_seen`."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.status_code = 200 if "executionId" in body else 400
        self._body = body
        self.text = json.dumps(body)

    def json(self) -> dict[str, Any]:
        return self._body


@pytest.fixture
def curl_installed() -> None:
    """These tests fail, not skip, without curl (`make test` installs it)."""
    assert shutil.which("curl"), "curl is not installed: `make test` installs it (apt-get install curl)"


needs_curl = pytest.mark.usefixtures("curl_installed")


@needs_curl
def test_seed_multipart_example_with_curl_form(hookcore: Hookcore, instance: dict, tmp_path: Path) -> None:
    photo = tmp_path / "taylor.png"
    photo.write_bytes(PNG)
    url = instance["webhookUrls"]["Echo"]
    seen = _seen(
        hookcore,
        _Curled(
            _curl(
                url,
                "--request",
                "POST",
                "--header",
                "Content-Type: multipart/form-data",
                "--form",
                'person={"firstname":"Taylor","lastname":"Reece"};type=application/json',
                "--form",
                f"photo=@{photo}",
            )
        ),
    )
    body = seen["body"]
    assert body["person"]["data"]["firstname"] == "Taylor"
    assert body["person"]["contentType"] == "application/json"
    assert body["photo"]["filename"] == "taylor.png"
    assert body["photo"]["contentType"] == "image/png"
    assert base64.b64decode(body["photo"]["data"]) == PNG


@needs_curl
def test_binary_with_curl_data_binary(hookcore: Hookcore, instance: dict, tmp_path: Path) -> None:
    image = tmp_path / "my-image.png"
    image.write_bytes(PNG)
    seen = _seen(
        hookcore,
        _Curled(
            _curl(
                instance["webhookUrls"]["Echo"],
                "--request",
                "POST",
                "--header",
                "Content-Type: image/png",
                "--data-binary",
                f"@{image}",
            )
        ),
    )
    assert bytes.fromhex(seen["body"]["bytes"]) == PNG


@needs_curl
def test_form_with_curl_data_urlencode(hookcore: Hookcore, instance: dict) -> None:
    seen = _seen(
        hookcore,
        _Curled(
            _curl(
                instance["webhookUrls"]["Echo"],
                "--data-urlencode",
                "name=Taylor Reece & co",
                "--data-urlencode",
                "tag=a",
                "--data-urlencode",
                "tag=b",
                "--data-urlencode",
                "empty=",
            )
        ),
    )
    assert seen["body"] == {"name": "Taylor Reece & co", "tag": ["a", "b"], "empty": ""}


def test_multipart_from_httpx_and_requests(hookcore: Hookcore, instance: dict) -> None:
    url = instance["webhookUrls"]["Echo"]
    files = {"doc": ("report.pdf", b"%PDF-1.7\x00\xff", "application/pdf")}
    via_httpx = _seen(hookcore, hookcore.client.post(url, data={"title": "Q3", "n": ["1", "2"]}, files=files))
    via_requests = _seen(
        hookcore, requests.post(url, data={"title": "Q3", "n": ["1", "2"]}, files=files, timeout=30)
    )
    for seen in (via_httpx, via_requests):
        body = seen["body"]
        assert body["title"]["data"] == "Q3"
        assert [p["data"] for p in body["n"]] == ["1", "2"]
        assert body["doc"]["filename"] == "report.pdf"
        assert body["doc"]["contentType"] == "application/pdf"


def test_text_and_xml_are_decoded_with_their_charset(hookcore: Hookcore, instance: dict) -> None:
    url = instance["webhookUrls"]["Echo"]
    xml = _seen(
        hookcore,
        hookcore.client.post(url, content="<a>é</a>".encode(), headers={"content-type": "application/xml"}),
    )
    assert xml["body"] == "<a>é</a>"
    latin = _seen(
        hookcore,
        hookcore.client.post(
            url, content="café".encode("latin-1"), headers={"content-type": "text/plain; charset=ISO-8859-1"}
        ),
    )
    assert latin["body"] == "café"
    assert latin["contentType"] == "text/plain; charset=ISO-8859-1"
    utf16 = _seen(
        hookcore,
        hookcore.client.post(
            url, content="hé".encode("utf-16"), headers={"content-type": "text/plain; charset=utf-16"}
        ),
    )
    assert utf16["body"] == "hé"


def test_undecodable_text_keeps_the_bytes_and_says_why(hookcore: Hookcore, instance: dict) -> None:
    response = hookcore.client.post(
        instance["webhookUrls"]["Echo"],
        content=b"\xff\xfe\xfa",
        headers={"content-type": "text/plain; charset=utf-8"},
    )
    seen = _seen(hookcore, response)
    assert bytes.fromhex(seen["body"]["bytes"]) == b"\xff\xfe\xfa"
    logs = hookcore.execution(response.json()["executionId"])["logs"]
    assert logs and "raw bytes" in logs[0]["message"] and logs[0]["level"] == "warning"


def test_json_suffix_types_are_parsed(hookcore: Hookcore, instance: dict) -> None:
    seen = _seen(
        hookcore,
        hookcore.client.post(
            instance["webhookUrls"]["Echo"],
            content=b'{"a":[1,2]}',
            headers={"content-type": "application/vnd.api+json"},
        ),
    )
    assert seen["body"] == {"a": [1, 2]}


@pytest.mark.parametrize(
    "body",
    [
        b'--X\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue',
        b"garbage without any boundary",
    ],
)
def test_malformed_multipart_is_400_without_an_execution(
    hookcore: Hookcore, instance: dict, body: bytes
) -> None:
    with nothing_stored(hookcore.nats.url):
        response = hookcore.client.post(
            instance["webhookUrls"]["Echo"],
            content=body,
            headers={"content-type": "multipart/form-data; boundary=X"},
        )
    assert_refused(response, 400, ErrorCode.MALFORMED_MULTIPART, "Received malformed multipart payload.")


def test_multipart_without_boundary_parameter_is_400(hookcore: Hookcore, instance: dict) -> None:
    with nothing_stored(hookcore.nats.url):
        response = hookcore.client.post(
            instance["webhookUrls"]["Echo"],
            content=b"--X\r\n",
            headers={"content-type": "multipart/form-data"},
        )
    assert_refused(response, 400, ErrorCode.MALFORMED_MULTIPART, "Received malformed multipart payload.")


def test_too_many_parts_is_413(hookcore: Hookcore, instance: dict) -> None:
    files = [("f", ("x.bin", b"x", "application/octet-stream"))] * 1001
    with nothing_stored(hookcore.nats.url):
        response = hookcore.client.post(instance["webhookUrls"]["Echo"], files=files)
    assert "1000" in assert_refused(response, 413, ErrorCode.MULTIPART_TOO_LARGE)


def test_unicode_and_binary_parts_arrive_byte_exact(hookcore: Hookcore, instance: dict) -> None:
    blob = bytes(range(256)) * 4 + b"\r\n--notaboundary\r\n"
    response = httpx.post(
        instance["webhookUrls"]["Echo"],
        files={"ünïcode": ("naïve.bin", blob)},
        data={"text": "ünïcode ✓"},
        timeout=30,
    )
    body = _seen(hookcore, response)["body"]
    assert body["text"]["data"] == "ünïcode ✓"
    assert body["ünïcode"]["filename"] == "naïve.bin"
    assert base64.b64decode(body["ünïcode"]["data"]) == blob
