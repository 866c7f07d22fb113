"""URL canonical form and domain, used at import and by every analysis that groups by link.

Canonical form: scheme and host lower-cased, ``www.``/``m.``/``mobile.`` host prefix dropped,
default port dropped, fragment dropped, tracking parameters (``utm_*``, ``fbclid``, ``gclid``,
...) removed, remaining query parameters sorted, trailing ``/`` of the path removed, and ``http``
folded into ``https``. The domain is the canonical host when it looks like a real host name
(``is_domain``): at least two labels, the last one a TLD-like label (two or more letters, or an
``xn--`` label), no ellipsis; or an IP address. Link text cut off by the platform (``https://t…``,
``https://w``, ``open.s``) has no domain.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING = {
    "fbclid", "gclid", "dclid", "msclkid", "igshid", "mc_cid", "mc_eid", "ref_src", "ref_url",
    "s", "si", "feature", "cmpid", "ocid", "smid", "smtyp", "_ga", "yclid", "spm",
}
_HOST_PREFIXES = ("www.", "m.", "mobile.", "amp.")
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_TLD = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")


def is_domain(host: str) -> bool:
    """Whether a (lower-case) host is a plausible domain: labels of letters, digits, ``-``/``_`` and a
    TLD-like last label, or an IP address. Cut-off link text (``t…``, ``w``, ``open.s``) is not."""
    if not host or len(host) > 253 or "…" in host or ".." in host:
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    try:
        labels = (host if host.isascii() else host.encode("idna").decode("ascii")).split(".")
    except UnicodeError:
        return False
    return (len(labels) >= 2 and bool(_TLD.fullmatch(labels[-1]))
            and all(_LABEL.fullmatch(x) for x in labels[:-1]))


@lru_cache(maxsize=262144)
def canonical_url(url: str) -> tuple[str, str]:
    """(canonical url, domain). Unparseable input, or a host that is not a domain (``is_domain``), comes
    back with an empty domain."""
    u = url.strip()
    try:
        parts = urlsplit(u if "://" in u else "https://" + u)
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return u, ""
    if not host:
        return u, ""
    for p in _HOST_PREFIXES:
        if host.startswith(p) and host.count(".") >= 2:
            host = host[len(p):]
            break
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        scheme = "https"
        netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    else:
        netloc = host if port is None else f"{host}:{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.lower().startswith("utm_") and k.lower() not in _TRACKING]
    query.sort()
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), "")), host if is_domain(host) else ""
