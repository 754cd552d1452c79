"""The warning that the gateway logs when it listens beyond the loopback interface."""

from __future__ import annotations

import pytest

from devd.runtime.gateway import exposure_warning


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_hosts_no_warning(host: str) -> None:
    assert exposure_warning(host) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "devbox.internal"])
def test_other_hosts_warned(host: str) -> None:
    warning = exposure_warning(host)

    assert warning is not None
    assert host in warning
    assert "other machines" in warning
    assert "--host 127.0.0.1" in warning
