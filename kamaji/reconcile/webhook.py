"""The tenant webhooks' endpoint: HTTPS, ``POST /write-permission`` and ``POST /migrate``, every AdmissionReview
denied (Kamaji's ``WritePermission`` and ``Freeze`` handlers, reference §6.4). The tenant's API server calls them
through the ``kamaji-write-permissions`` (phase ``WriteLimited``) and ``kamaji-freeze`` (phase ``Migrating``)
ValidatingWebhookConfigurations that ``reconcile`` installs (``kamaji.render.webhook``); which operations reach them
is decided there, so the server needs no state.

    with WebhookServer(cert_file, key_file, port=9443) as server:   # a thread; 127.0.0.1 unless told otherwise
        ...  # reconcile(..., webhook_url=server.url, webhook_ca=ca_pem)
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kamaji.render.webhook import FREEZE_PATH, WRITE_PERMISSIONS_PATH

__all__ = ["DENY_MESSAGE", "FREEZE_MESSAGE", "WebhookServer", "deny"]

DENY_MESSAGE = (
    "the current Control Plane has limited write permissions, current changes are blocked: "
    "removing the webhook may lead to an inconsistent state upon its completion"
)
FREEZE_MESSAGE = (
    "the current Control Plane is in freezing mode due to a maintenance mode, all the changes are blocked: "
    "removing the webhook may lead to an inconsistent state upon its completion"
)
_MESSAGES = {WRITE_PERMISSIONS_PATH: DENY_MESSAGE, FREEZE_PATH: FREEZE_MESSAGE}
_MAX_BODY = 3 * 1024 * 1024  # the API server's own request limit


def deny(review: Mapping[str, Any], message: str = DENY_MESSAGE) -> dict[str, Any]:
    """The AdmissionReview answering ``review``: not allowed, 403, Kamaji's message."""
    request = review.get("request") or {}
    return {
        "apiVersion": review.get("apiVersion") or "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {
            "uid": request.get("uid", ""),
            "allowed": False,
            "status": {"code": 403, "reason": "Forbidden", "message": message},
        },
    }


class _Handler(BaseHTTPRequestHandler):
    server_version = "kamaji-webhook"

    def do_POST(self) -> None:
        message = _MESSAGES.get(self.path.split("?", 1)[0])
        if message is None:
            self._reply(404, {"message": f"no handler at {self.path}"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= _MAX_BODY:
            self._reply(400, {"message": "an AdmissionReview body is required"})
            return
        try:
            review = json.loads(self.rfile.read(length))
            if not isinstance(review, dict):
                raise ValueError("not an object")
        except ValueError:
            self._reply(400, {"message": "the body is not an AdmissionReview"})
            return
        self._reply(200, deny(review, message))

    def _reply(self, code: int, body: Mapping[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the API server logs the denials; one line per request here would be noise


class WebhookServer:
    """The endpoint in a thread of its own. ``port=0`` picks a free one (``.port``; ``.url``, the base URL to give
    ``reconcile(webhook_url=...)``)."""

    def __init__(self, cert_file: str | Path, key_file: str | Path, *, host: str = "127.0.0.1", port: int = 0) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(cert_file), str(key_file))
        self._httpd = ThreadingHTTPServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread: threading.Thread | None = None
        self.host = host

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self) -> WebhookServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="kamaji-webhook", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> WebhookServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
