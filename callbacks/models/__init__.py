from .audit import AuditEntry, IngestedEvent
from .business_processes import BusinessProcess, ScheduleException, ScheduleRange
from .callbacks import Agent, Attempt, Callback
from .preferences import CancellationSummary, UserPreferences
from .tokens import ApiToken

__all__ = [
    "Agent",
    "ApiToken",
    "Attempt",
    "AuditEntry",
    "BusinessProcess",
    "Callback",
    "CancellationSummary",
    "IngestedEvent",
    "ScheduleException",
    "ScheduleRange",
    "UserPreferences",
]
