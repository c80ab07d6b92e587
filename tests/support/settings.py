"""The settings every test app starts from, and the test agent with a handful of leads."""

from __future__ import annotations

import os

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://localhost:6379/15")

TEST_SETTINGS = {
    "APP_ENV": "testing",
    "TESTING": True,
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "test-auth-token",
    "TWILIO_PHONE_NUMBER": "+13125550000",
    "PUBLIC_BASE_URL": "https://fieldline.test",
    "REDIS_URL": TEST_REDIS_URL,
    "RATE_LIMIT_PER_MINUTE": 1000,
}

AGENT_PHONE = "+13125550100"
AGENT_LEADS = [
    ("John Doe", "+13125550123", "contacted"),
    ("Jane Doe", "+13125550124", "new"),
    ("Sarah Smith", "+13125550125", "contacted"),
    ("John Smith", "+13125550126", "qualified"),
    ("Dana Cole", "+17735550127", "negotiating"),
]
