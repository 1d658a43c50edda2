"""Settings of the audit trail: who asked, uploaded, deleted or changed what (the ``audit`` section).

    >>> from core.settings import Settings
    >>> Settings().audit.enabled, Settings().audit.include_questions, Settings().audit.retention_days
    (True, False, 365)
"""

from __future__ import annotations

from pydantic import Field

from core.section import Section


class AuditSettings(Section):
    enabled: bool = Field(default=True, description="Record every ask, upload, delete, key change and admin action.")
    include_questions: bool = Field(
        default=False,
        description="Also record the text of each question asked (`ask`, `chat`). Off: an entry says who asked "
        "which collection and when, never what; questions can carry personal or confidential data.",
    )
    retention_days: int = Field(
        default=365,
        ge=0,
        description="Days an audit entry is kept; each write trims older ones (whole stream nodes at a time, so a "
        "few may outlive it briefly). 0 keeps them forever.",
    )
