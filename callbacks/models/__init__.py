from .audit import AuditEntry, IngestedEvent
from .business_processes import BusinessProcess, ScheduleException, ScheduleRange
from .callbacks import Agent, Attempt, Callback
from .tokens import ApiToken

__all__ = [
    "Agent",
    "ApiToken",
    "Attempt",
    "AuditEntry",
    "BusinessProcess",
    "Callback",
    "IngestedEvent",
    "ScheduleException",
    "ScheduleRange",
]
