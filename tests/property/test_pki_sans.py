"""Hypothesis: any mix of SAN inputs either issues a serving cert with exactly the valid names, or raises a
ValidationError naming every bad value, by index."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from kamaji.errors import ValidationError
from kamaji.pki import PKIRequest, issue

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SEED = b"\x07" * 32

label = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?\Z")
dns_name = st.lists(label, min_size=1, max_size=4).map(".".join)
wildcard = dns_name.map(lambda d: "*." + d)
ip = st.ip_addresses().map(str)
valid = st.one_of(dns_name, wildcard, ip).map(lambda v: (v, True))
garbage = st.one_of(
    dns_name.map(str.upper).filter(lambda s: s != s.lower()),  # uppercase
    dns_name.map(lambda d: d + "_x"),  # underscore
    dns_name.map(lambda d: "-" + d),  # leading hyphen
    dns_name.map(lambda d: d + "."),  # trailing dot
    dns_name.map(lambda d: d + "..x"),  # empty label
    dns_name.map(lambda d: "*.*." + d),  # double wildcard
    dns_name.map(lambda d: "a*." + d),  # partial wildcard
    st.sampled_from(["", " ", "*", "*.", "::g", "10.0.0.1/8", "host name", "ex ample.com", "a." * 127 + "com"]),
    st.text(min_size=1, max_size=6).filter(lambda s: any(c in s for c in " _/:@!,")),
).map(lambda v: (v, False))

BASE_DNS = {
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "localhost",
    "tcp",
    "tcp.ns.svc",
    "tcp.ns.svc.cluster.local",
}
BASE_IPS = {ipaddress.ip_address(a) for a in ("10.96.0.1", "127.0.0.1", "192.168.10.1")}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(valid, garbage), max_size=8))
def test_sans_are_exactly_the_valid_names_or_a_named_error(entries: list[tuple[str, bool]]) -> None:
    sans = tuple(value for value, _ in entries)
    request = PKIRequest(name="tcp", namespace="ns", uid="u", address="192.168.10.1", cert_sans=sans)
    bad = [(f"spec.networkProfile.certSANs[{i}]", value) for i, (value, ok) in enumerate(entries) if not ok]
    try:
        bundle = issue(request, seed=SEED, now=NOW)
    except ValidationError as exc:
        assert bad, f"valid input refused: {exc}"
        assert [(e.path, e.value) for e in exc.errors] == bad
        for path, value in bad:
            assert path in str(exc)
            assert repr(value) in str(exc)
        return
    assert not bad, f"garbage accepted: {bad}"
    ext = bundle["apiserver"].certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = ext.get_values_for_type(x509.DNSName)
    ips = ext.get_values_for_type(x509.IPAddress)
    want_ips = BASE_IPS | {ipaddress.ip_address(v) for v in sans if _is_ip(v)}
    want_dns = BASE_DNS | {v for v in sans if not _is_ip(v)}
    assert set(dns) == want_dns
    assert set(ips) == want_ips
    assert len(dns) == len(set(dns)) and len(ips) == len(set(ips))  # no duplicates


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
