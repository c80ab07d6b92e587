"""The parser tests' fixed agent: a book of seven leads in Chicago, and a fixed "now"."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from webapp.understanding.lead_names import LeadDirectory
from webapp.understanding.plan import LeadRef

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 3, 5, 15, 0, tzinfo=CHICAGO)  # Thursday, three days before US DST
LEADS = [
    LeadRef(1, "John Doe", "qualified"),
    LeadRef(2, "Jane Doe", "new"),
    LeadRef(3, "John Smith", "contacted"),
    LeadRef(4, "Sarah Smith", "contacted"),
    LeadRef(5, "Dana Cole", "contacted"),
    LeadRef(6, "José García", "new"),
    LeadRef(7, "Chloë O'Brien", "new"),
]
DIRECTORY = LeadDirectory(LEADS)
