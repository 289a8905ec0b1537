"""The vocabularies of the domain: states, locations, end states, completion statuses.

Each choice carries its label and the colour its badge is drawn in.
"""

from django.db import models


class CallbackState(models.TextChoices):
    """Where a callback is in its life (seed 004 names)."""

    SCHEDULED = "scheduled", "Scheduled"
    QUEUED = "queued", "Queued"
    ROUTING = "routing", "Routing"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"

    @classmethod
    def open_states(cls) -> list[str]:
        """States of a callback still to be processed (monitor column Clbk To Be Proc)."""
        return [cls.SCHEDULED, cls.QUEUED, cls.ROUTING, cls.PROCESSING]


class Location(models.TextChoices):
    """The interaction location shown to supervisors (seed 001 names)."""

    PENDING = "Pending", "Pending"
    BUSINESS_PROCESS = "HandlingByBusinessProcess", "HandlingByBusinessProcess"
    AGENT = "HandlingByAgent", "HandlingByAgent"


LOCATION_OF_STATE = {
    CallbackState.SCHEDULED: Location.PENDING,
    CallbackState.QUEUED: Location.BUSINESS_PROCESS,
    CallbackState.ROUTING: Location.AGENT,
    CallbackState.PROCESSING: Location.AGENT,
}


class AgentPhase(models.TextChoices):
    """The interaction state while a callback is with an agent (seed 001)."""

    OFFERED = "offered", "Offered"
    DIALING = "dialing", "Dialing"
    HANDLING = "handling", "Handling"


class EndState(models.TextChoices):
    """Why a callback was removed from queue. Every value but PURGED and CANCELLED counts as processed."""

    REACHED = "reached", "Reached"
    FAILED = "failed", "Failed"
    WRONG_DESTINATION = "wrong_destination", "Wrong destination"
    PURGED = "purged", "Purged"
    CANCELLED = "cancelled", "Cancelled"
    ABORTED = "aborted", "Aborted"

    @classmethod
    def processed(cls) -> list[str]:
        """End states counted in the monitor's Proc column (succeeded + failed)."""
        return [cls.REACHED, cls.FAILED, cls.WRONG_DESTINATION, cls.ABORTED]


END_STATE_COLOURS = {
    EndState.REACHED: "green",
    EndState.FAILED: "red",
    EndState.WRONG_DESTINATION: "orange",
    EndState.PURGED: "grey",
    EndState.CANCELLED: "grey",
    EndState.ABORTED: "purple",
}


class CompletionStatus(models.TextChoices):
    """How an attempt ended. The first six are set by agents (or No Answer by the timer); the last two by the system."""

    HANDLED = "handled", "Handled"
    ANSWERING_MACHINE = "answering_machine", "Answering Machine"
    NO_ANSWER = "no_answer", "No Answer"
    CANCEL = "cancel", "Cancel"
    CALLBACK_REQUESTED = "callback_requested", "Callback Requested"
    WRONG_DESTINATION = "wrong_destination", "Wrong Destination"
    ABORTED = "aborted", "Aborted"
    WITHDRAWN = "withdrawn", "Withdrawn"

    @classmethod
    def agent_statuses(cls) -> list[str]:
        return [
            cls.HANDLED,
            cls.ANSWERING_MACHINE,
            cls.NO_ANSWER,
            cls.CANCEL,
            cls.CALLBACK_REQUESTED,
            cls.WRONG_DESTINATION,
        ]


class AnsweredBy(models.TextChoices):
    PERSON = "person", "Person"
    VOICEMAIL = "voicemail", "Voicemail"


class AuditAction(models.TextChoices):
    CALLBACK_REQUESTED = "callback.requested", "Callback requested"
    ATTEMPT_OFFERED = "attempt.offered", "Attempt offered"
    ATTEMPT_ACCEPTED = "attempt.accepted", "Attempt accepted"
    ATTEMPT_CONNECTED = "attempt.connected", "Attempt connected"
    ATTEMPT_COMPLETED = "attempt.completed", "Attempt completed"
    ATTEMPT_AMENDED = "attempt.amended", "Attempt status amended"
    WRAPUP_COMPLETED = "attempt.wrapup_completed", "After call work ended"
    NO_ANSWER_TIMEOUT = "attempt.no_answer_timeout", "No answer (timer)"
    RELEASED_TO_QUEUE = "callback.released", "Returned to queue"
    SENT_TO_QUEUE = "callback.sent_to_queue", "Sent to queue"
    RESCHEDULED = "callback.rescheduled", "Callback rescheduled"
    RECREATED = "callback.recreated", "Callback recreated"
    CANCELLED = "callback.cancelled", "Callback cancelled"
    PURGED = "callback.purged", "Callback purged"
    ABORTED = "callback.aborted", "Callback aborted (schedule closed)"
    STOPPED = "business_process.stopped", "Callbacks stopped"
    RESUMED = "business_process.resumed", "Callbacks resumed"
    SCHEDULE_OPENED = "business_process.schedule_opened", "Schedule opened"
    SCHEDULE_CLOSED = "business_process.schedule_closed", "Schedule closed"
    BUSINESS_PROCESS_CREATED = "business_process.created", "Business process created"
    BUSINESS_PROCESS_CHANGED = "business_process.changed", "Business process renamed"
    BUSINESS_PROCESS_DEACTIVATED = "business_process.deactivated", "Business process deactivated"
    BUSINESS_PROCESS_REACTIVATED = "business_process.reactivated", "Business process reactivated"
    API_TOKEN_ISSUED = "api_token.issued", "API token issued"
    API_TOKEN_REVOKED = "api_token.revoked", "API token revoked"
    TIMING_CHANGED = "business_process.timing_changed", "Callback Timing changed"
    SCHEDULE_CHANGED = "business_process.schedule_changed", "Schedule changed"
