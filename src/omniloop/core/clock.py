"""The platform clock: UTC for storage, the bank's timezone (Asia/Shanghai by default) for business dates."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


@dataclass
class Clock:
    timezone: str = "Asia/Shanghai"

    def now(self) -> datetime:
        return datetime.now(UTC)

    def local_now(self) -> datetime:
        return self.now().astimezone(ZoneInfo(self.timezone))

    def today(self) -> date:
        """The business date in the bank's timezone."""
        return self.local_now().date()
