"""Credentials kept out of messages: store URIs redacted, exception texts scrubbed.

No oredox message quotes a store URI's user name or password: :func:`redact_uri` for
a URI shown on purpose, :func:`exception_detail` for a library's error message.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote_plus, unquote, unquote_plus

# ``scheme://`` up to the last ``@`` of the same whitespace-free run: user:password
_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)\S*@")
_LEAK_WINDOW = 4  # this many characters of a password in a row count as quoting it


def redact_uri(uri: str) -> str:
    """Return ``uri`` with everything between ``://`` and its last ``@`` as ``***``.

    The last ``@``, not the first: a password that holds an unencoded ``@``
    (``mongodb://alice:p@ss@host/db``) is hidden whole.
    """
    scheme, sep, rest = uri.partition("://")
    if not sep or "@" not in rest:
        return uri
    return f"{scheme}://***@{rest.rpartition('@')[2]}"


def redact_text(text: str) -> str:
    """``text`` with every ``scheme://user:password@`` in it as ``scheme://***@``."""
    return _CREDENTIALS.sub(r"\1***@", text)


def _secrets(uri: str | None) -> tuple[set[str], set[str]]:
    """The credentials of ``uri`` as a message may quote them, and its password.

    Credentials: what :func:`redact_uri` hides, as written, percent-decoded and
    encoded. Password: after the first ``:`` (all of it without one), raw and decoded.
    """
    _, sep, rest = (uri or "").partition("://")
    userinfo = rest.rpartition("@")[0] if sep else ""
    if not userinfo:
        return set(), set()
    user, colon, password = userinfo.partition(":")
    password = password if colon else user
    passwords = {form for form in (password, unquote_plus(password)) if form}
    forms = {userinfo, unquote_plus(userinfo), unquote(userinfo), quote_plus(password)}
    return {form for form in forms | passwords if form}, passwords


def _quotes_password(text: str, uri: str | None) -> bool:
    """Whether ``text`` holds the password of ``uri``, or a run of 4 of its chars."""
    n = _LEAK_WINDOW
    return any(
        pw[i : i + n] in text
        for pw in _secrets(uri)[1]
        for i in range(max(1, len(pw) - n + 1))
    )


def short_text(text: Any, limit: int = 120) -> str:
    """``text`` on one line (whitespace runs as one space), its middle cut if long."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    half = (limit - 3) // 2
    return f"{text[:half]}...{text[-half:]}"


def scrub_secrets(text: str, *uris: str | None) -> str:
    """``text`` with no credentials of ``uris`` and no ``scheme://user:pw@``.

    Credentials shorter than four characters are left (replacing them would mangle
    the text): :func:`exception_detail` withholds a message that quotes them.
    """
    forms = {f for uri in uris for f in _secrets(uri)[0] if len(f) >= _LEAK_WINDOW}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return redact_text(text)


def exception_detail(exc: BaseException, *uris: str | None, limit: int = 200) -> str:
    """``"Class: message"`` of ``exc``, one line, scrubbed of the URIs' credentials.

    A message that still quotes a piece of a password (a library that quoted part
    of a malformed URI) is left out: the class name alone.
    """
    message = scrub_secrets(short_text(exc, limit=10**6), *uris)
    if not message or any(_quotes_password(message, uri) for uri in uris):
        return type(exc).__name__
    return f"{type(exc).__name__}: {short_text(message, limit)}"
