"""Keep secrets out of error messages: drivers run this on a native error before wrapping and chaining it."""

from __future__ import annotations


def scrub(exc: BaseException, hide: tuple[str | None, ...]) -> None:
    """Replace every secret in ``hide`` by ``***`` in the error's args, so neither our message nor the chained
    native error (a syntax error echoes the statement) carries a password."""
    secrets = [s for s in hide if s]
    if not secrets:
        return
    args = []
    for arg in exc.args:
        if isinstance(arg, str):
            for s in secrets:
                arg = arg.replace(s, "***")
        args.append(arg)
    exc.args = tuple(args)
