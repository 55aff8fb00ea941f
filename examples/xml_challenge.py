"""The seed's on_trigger example: echo an XML subscription challenge, parse notifications.

    hookcore up --app examples.xml_challenge:app
    curl "$URL" -H 'Content-Type: application/xml' \\
      -d '<notification><challenge>abc123</challenge></notification>'      # -> abc123
    curl "$URL" -H 'Content-Type: application/xml' \\
      -d '<notification><event>created</event><id>42</id></notification>'  # -> {"executionId": ...}
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from hookcore import HttpResponse, Integration, TriggerResult

app = Integration("xml-notifications")


def echo_challenge(ctx: Any, payload: Any) -> TriggerResult:
    parsed = ET.fromstring(payload.raw_body.data)
    payload.body.data = {parsed.tag: {child.tag: child.text for child in parsed}}
    challenge = parsed.findtext("challenge")
    if challenge is not None:
        return TriggerResult(payload, HttpResponse(200, "text/plain", challenge), run=False)
    return TriggerResult(payload)


@app.flow("Notification", on_trigger=echo_challenge)
async def notification(ctx: Any, payload: Any) -> Any:
    ctx.log.info("notification %s", payload.body.data)
    return payload.body.data
