"""Pytest fixtures around the Twilio stand-in; import them into a test module (or conftest).

`twilio_standin` runs a fresh stand-in per test with the test settings' credentials, so the
app's real twilio client (see `webapp.outbound.sender`) can be pointed at it through
`TWILIO_API_BASE_URL`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.settings import TEST_SETTINGS
from tests.support.twilio_standin import TwilioStandIn


@pytest.fixture
def twilio_standin() -> Iterator[TwilioStandIn]:
    """A running stand-in of Twilio's Messages API on 127.0.0.1 (random port)."""
    with TwilioStandIn(
        account_sid=TEST_SETTINGS["TWILIO_ACCOUNT_SID"],
        auth_token=TEST_SETTINGS["TWILIO_AUTH_TOKEN"],
    ) as standin:
        yield standin
