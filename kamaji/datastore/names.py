"""Up-front validation of tenant names and passwords against a datastore's identifier rules.

Every bad name is reported at once as a ValidationError whose FieldError names the field and the value (names are
not secrets); a bad password is reported without its value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kamaji.datastore.types import TenantStorage
from kamaji.errors import FieldError, ValidationError

PASSWORD_PATTERN = re.compile(r"[A-Za-z0-9._~-]{8,128}")
PASSWORD_RULE = "must be 8 to 128 characters from A-Z a-z 0-9 . _ ~ - (it is written into kine's DSN unescaped)"


@dataclass(frozen=True)
class NameRules:
    """What a datastore accepts as a tenant schema and user name.

    Lengths are in UTF-8 bytes (``*_max_bytes``) or in characters (``*_max_chars``); ``forbidden`` characters may
    appear nowhere; ``printable_only`` refuses control, format, unassigned and non-characters; ``reserved_*`` names
    (compared case-insensitively) belong to the datastore or its admin and would be clobbered or dropped by a
    tenant of that name.
    """

    schema_max_bytes: int | None = None
    schema_max_chars: int | None = None
    user_max_bytes: int | None = None
    user_max_chars: int | None = None
    forbidden: str = "\0"
    printable_only: bool = False
    bmp_only: bool = False
    no_trailing_space: bool = False
    reserved_schemas: frozenset[str] = frozenset()
    reserved_users: frozenset[str] = frozenset()
    reserved_user_prefixes: tuple[str, ...] = ()
    reserved_schema_prefixes: tuple[str, ...] = ()
    password: bool = False


def _name_problems(
    value: str,
    *,
    max_bytes: int | None,
    max_chars: int | None,
    rules: NameRules,
    reserved: frozenset[str],
    prefixes: tuple[str, ...],
) -> list[str]:
    problems: list[str] = []
    if not value:
        return ["must not be empty"]
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:
        return [f"{value!r}: is not valid Unicode text (lone surrogate)"]
    if max_bytes is not None and len(encoded) > max_bytes:
        problems.append(f"{value!r}: is {len(encoded)} bytes, longer than {max_bytes}")
    if max_chars is not None and len(value) > max_chars:
        problems.append(f"{value!r}: is {len(value)} characters, longer than {max_chars}")
    bad = sorted({c for c in value if c in rules.forbidden})
    if bad:
        problems.append(f"{value!r}: must not contain {', '.join(repr(c) for c in bad)}")
    if rules.printable_only and not value.isprintable():
        odd = sorted({c for c in value if not c.isprintable()})
        problems.append(f"{value!r}: must not contain unprintable characters ({', '.join(repr(c) for c in odd)})")
    if rules.bmp_only and any(ord(c) > 0xFFFF for c in value):
        problems.append(f"{value!r}: characters beyond U+FFFF are not allowed")
    if rules.no_trailing_space and value != value.rstrip(" "):
        problems.append(f"{value!r}: must not end with a space")
    if value.lower() in reserved or any(value.lower().startswith(p) for p in prefixes):
        problems.append(f"{value!r}: is reserved by the datastore")
    return problems


def validate_tenant(
    tenant: TenantStorage,
    rules: NameRules,
    *,
    admin: str | None = None,
    driver: str = "",
    password: bool = True,
) -> None:
    """Raise ValidationError listing every problem with ``tenant``'s names, and with its password when the rules
    require one and ``password`` is true (teardown and check need only the names)."""
    users = rules.reserved_users | ({admin.lower()} if admin else set())
    errors: list[FieldError] = []
    for problem in _name_problems(
        tenant.schema,
        max_bytes=rules.schema_max_bytes,
        max_chars=rules.schema_max_chars,
        rules=rules,
        reserved=rules.reserved_schemas,
        prefixes=rules.reserved_schema_prefixes,
    ):
        errors.append(FieldError("spec.dataStoreSchema", problem, tenant.schema))
    for problem in _name_problems(
        tenant.username,
        max_bytes=rules.user_max_bytes,
        max_chars=rules.user_max_chars,
        rules=rules,
        reserved=frozenset(users),
        prefixes=rules.reserved_user_prefixes,
    ):
        errors.append(FieldError("spec.dataStoreUsername", problem, tenant.username))
    if rules.password and password:
        if tenant.password is None:
            errors.append(FieldError("password", "is required (the caller chooses it and keeps it stable)"))
        elif not PASSWORD_PATTERN.fullmatch(tenant.password):
            errors.append(FieldError("password", PASSWORD_RULE))
    if errors:
        raise ValidationError(errors, subject=f"{driver} tenant".strip())
