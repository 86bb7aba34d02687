"""One verifying TLS context per process for the HTTP clients (Braze, webhooks, pings).

Building a context loads the whole CA bundle (about 20 ms of CPU); httpx builds one for every
client and transport it creates unless it is given one. The context honours ``SSL_CERT_FILE``
and ``SSL_CERT_DIR`` as httpx does, read when a client is created: a changed value gets a
context of its own. An ``ssl.SSLContext`` may be shared by connections and threads.
"""

from __future__ import annotations

import functools
import os
import ssl

import httpx


def tls_context() -> ssl.SSLContext:
    """The verifying context for an HTTP client created now."""
    return _context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    # httpx reads the two variables itself; they are the cache's key
    return httpx.create_ssl_context()
