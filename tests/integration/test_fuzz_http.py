"""Bad input over real HTTP: always a clear 4xx (JSON error) or an accepted request, never a 5xx."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from support import Hookcore

content_types = st.sampled_from(
    [
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=----X",
        "text/plain; charset=utf-16",
        "text/plain; charset=nope",
        "application/xml",
        "image/png",
        "application/problem+json",
        "",
    ]
)
bodies = st.one_of(
    st.binary(max_size=500),
    st.text(max_size=200).map(str.encode),
    st.just(b'--X\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--X--\r\n'),
    st.just(b'{"a": [1, 2, {"b": null}]}'),
)


@settings(max_examples=150, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
    suffix=st.text(alphabet="abc/%20é?&=+", max_size=20),
    content_type=content_types,
    payload=bodies,
    extra=st.dictionaries(
        st.sampled_from(["x-a", "api-key", "hookcore-synchronous", "x-acme-account"]),
        st.text(alphabet="abcXYZ019-", max_size=20),
        max_size=3,
    ),
)
def test_no_request_gets_a_server_error(
    hookcore: Hookcore,
    instance: dict,
    method: str,
    suffix: str,
    content_type: str,
    payload: bytes,
    extra: dict[str, str],
) -> None:
    url = instance["webhookUrls"]["Quick"] + "/" + suffix
    headers = {"content-type": content_type, **extra}
    response = hookcore.client.request(method, url, content=payload, headers=headers)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()) == {"error"}, response.text
    elif "executionId" in response.text:
        assert response.headers["hookcore-execution-id"] == response.json()["executionId"]
