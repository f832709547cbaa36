"""Parsing DataStore endpoints (``host:port``, no scheme; IPv6 hosts in brackets). Pure."""

from __future__ import annotations

from kamaji.errors import FieldError, ValidationError


def split_endpoint(endpoint: str, default_port: int) -> tuple[str, int]:
    """``("host", port)`` from ``host:port``, ``[v6]:port``, ``host`` or ``[v6]``; ValidationError when malformed."""
    host, port = endpoint, ""
    if endpoint.startswith("["):
        close = endpoint.find("]")
        if close < 0 or (close + 1 < len(endpoint) and endpoint[close + 1] != ":"):
            raise ValidationError([FieldError("spec.endpoints", f"{endpoint!r}: malformed [IPv6]:port")])
        host, port = endpoint[1:close], endpoint[close + 2 :]
    elif endpoint.count(":") == 1:
        host, port = endpoint.split(":")
    if not host or "/" in host:
        raise ValidationError([FieldError("spec.endpoints", f"{endpoint!r}: expected host:port with no scheme")])
    if not port:
        return host, default_port
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValidationError([FieldError("spec.endpoints", f"{endpoint!r}: port must be 1-65535")])
    return host, int(port)


def join_endpoint(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
