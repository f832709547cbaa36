"""kamaji.reconcile.webhook.WebhookServer over real HTTPS: both handlers deny with their message and echo the
request's uid; anything else is a 404 or a 400, never a crash."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from kamaji.reconcile.webhook import DENY_MESSAGE, FREEZE_MESSAGE, WebhookServer
from kamaji.testing.certs import TestCA


def _post(url: str, body: bytes, context: ssl.SSLContext) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def server(tmp_path: Path) -> Any:
    ca = TestCA(tmp_path)
    pair = ca.issue("webhook", "kamaji-webhook", ip_addresses=["127.0.0.1"], server=True)
    with WebhookServer(pair.cert, pair.key) as running:
        yield running, ssl.create_default_context(cafile=str(ca.cert))


@pytest.mark.parametrize(("path", "message"), [("/write-permission", DENY_MESSAGE), ("/migrate", FREEZE_MESSAGE)])
def test_every_review_is_denied_with_the_handlers_message(server: Any, path: str, message: str) -> None:
    running, context = server
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u-1"}}
    code, body = _post(running.url + path, json.dumps(review).encode(), context)
    assert code == 200
    assert body["kind"] == "AdmissionReview" and body["apiVersion"] == "admission.k8s.io/v1"
    assert body["response"] == {
        "uid": "u-1", "allowed": False, "status": {"code": 403, "reason": "Forbidden", "message": message}
    }  # fmt: skip


def test_other_paths_and_bodies_are_refused_cleanly(server: Any) -> None:
    running, context = server
    assert _post(running.url + "/mutate", b"{}", context)[0] == 404
    assert _post(running.url + "/migrate", b"not json", context)[0] == 400
    assert _post(running.url + "/migrate", b"[1, 2]", context)[0] == 400
    code, body = _post(running.url + "/write-permission", b"{}", context)  # still answers, uid empty
    assert code == 200 and body["response"]["allowed"] is False
