"""The HTTP clients share one verifying TLS context per process (building one loads the CA bundle)."""

from __future__ import annotations

import ssl

import certifi
import pytest

from cdi_tui.tls import tls_context


def test_one_verifying_context_is_shared_until_the_ca_variables_change(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    first = tls_context()
    assert first.verify_mode == ssl.CERT_REQUIRED and first.check_hostname
    assert tls_context() is first
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    other = tls_context()
    assert other is not first
    assert other.verify_mode == ssl.CERT_REQUIRED and other.check_hostname
    assert tls_context() is other
