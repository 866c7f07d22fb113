"""URL canonical form and domain, used at import and by every analysis that groups by link.

Canonical form: scheme and host lower-cased, ``www.``/``m.``/``mobile.`` host prefix dropped,
default port dropped, fragment dropped, tracking parameters (``utm_*``, ``fbclid``, ``gclid``,
...) removed, remaining query parameters sorted, trailing ``/`` of the path removed, and ``http``
folded into ``https``. The domain is the canonical host.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING = {
    "fbclid", "gclid", "dclid", "msclkid", "igshid", "mc_cid", "mc_eid", "ref_src", "ref_url",
    "s", "si", "feature", "cmpid", "ocid", "smid", "smtyp", "_ga", "yclid", "spm",
}
_HOST_PREFIXES = ("www.", "m.", "mobile.", "amp.")


@lru_cache(maxsize=262144)
def canonical_url(url: str) -> tuple[str, str]:
    """(canonical url, domain). Unparseable input comes back stripped, with an empty domain."""
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
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), "")), host
