import uuid

from django.db import models

from ..choices import LOCATION_OF_STATE, AgentPhase, AnsweredBy, CallbackState, CompletionStatus, EndState
from .business_processes import BusinessProcess


class Agent(models.Model):
    """A contact-center agent, known by the login id the telephony platform uses."""

    login_id = models.CharField(max_length=100, unique=True)
    display_name = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["display_name", "login_id"]

    def __str__(self) -> str:
        return self.display_name or self.login_id


class Callback(models.Model):
    """A customer's request to be called back, waiting in a business process until it reaches an end state.

    Only the lifecycle engine (callbacks.engine) changes a callback; read its docstring for the rules.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    external_id = models.CharField(max_length=100, unique=True, help_text="The integration's id for this callback.")
    business_process = models.ForeignKey(BusinessProcess, on_delete=models.PROTECT, related_name="callbacks")
    phone = models.CharField(max_length=20, help_text="E.164")
    customer_name = models.CharField(max_length=200, blank=True)
    desired_time = models.DateTimeField(null=True, blank=True, help_text="Empty: as soon as possible.")
    owner_agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.PROTECT, related_name="owned_callbacks"
    )
    current_agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.PROTECT, related_name="current_callbacks"
    )
    state = models.CharField(max_length=20, choices=CallbackState.choices)
    agent_phase = models.CharField(max_length=20, choices=AgentPhase.choices, blank=True)
    end_state = models.CharField(max_length=20, choices=EndState.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Attempts counted towards failure.")
    was_scheduled = models.BooleanField(default=False, help_text="Began as a scheduled callback.")
    created = models.DateTimeField(help_text="Original entrance time.")
    queued_at = models.DateTimeField(null=True, blank=True, help_text="When it last entered the queue.")
    # The next moment the timer tick must look at this callback: the end of its wait while Pending,
    # the no-answer deadline while Dialing; empty otherwise.
    due_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["business_process", "state"], name="callback_bp_state"),
            # Clbk To Be Proc: the open callbacks alone (a few percent of the table), counted per business process
            # from this index alone instead of one descent of callback_bp_state per business process and state.
            models.Index(
                fields=["business_process"],
                condition=models.Q(state__in=CallbackState.open_states()),
                name="callback_open_bp",
            ),
            models.Index(fields=["phone"], name="callback_phone"),
            models.Index(fields=["due_at"], name="callback_due", condition=models.Q(due_at__isnull=False)),
            # The monitor counts the callbacks that ended in each business process's shift by end state: with the end
            # state in the index, from the index alone (the rows themselves lie scattered over the table).
            models.Index(
                fields=["business_process", "completed_at"], include=["end_state"], name="callback_bp_completed"
            ),
            models.Index(fields=["completed_at"], name="callback_completed"),
            models.Index(fields=["created"], name="callback_created"),
        ]
        constraints = [
            models.CheckConstraint(
                name="callback_end_state_iff_completed",
                condition=(
                    models.Q(state=CallbackState.COMPLETED, completed_at__isnull=False) & ~models.Q(end_state="")
                )
                | (~models.Q(state=CallbackState.COMPLETED) & models.Q(end_state="")),
            ),
        ]
        permissions = [
            ("manage_callbacks", "Can send to queue, purge, create, reschedule, cancel and recreate callbacks"),
            ("view_reports", "Can view and download reports"),
            ("manage_api_tokens", "Can create and revoke API tokens"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.phone})"

    @property
    def location(self) -> str:
        """The seed's interaction location: Pending, HandlingByBusinessProcess or HandlingByAgent (empty when ended)."""
        return LOCATION_OF_STATE.get(self.state, "")

    @property
    def is_open(self) -> bool:
        return self.state != CallbackState.COMPLETED


class Attempt(models.Model):
    """One offer of a callback to an agent (or its removal by the schedule), with how it ended."""

    callback = models.ForeignKey(Callback, on_delete=models.CASCADE, related_name="attempt_set")
    # The callback's, kept here too: the monitor's Clbk Avg Time reads attempts by business process and shift
    # without joining a million callbacks.
    business_process = models.ForeignKey(BusinessProcess, on_delete=models.PROTECT, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.PROTECT, related_name="attempts")
    offered_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.CharField(max_length=20, choices=AnsweredBy.choices, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completion_status = models.CharField(max_length=30, choices=CompletionStatus.choices, blank=True)
    completed_by_timer = models.BooleanField(default=False, help_text="No Answer set by the system, not the agent.")
    acw_ended_at = models.DateTimeField("ACW end", null=True, blank=True)

    class Meta:
        ordering = ["callback", "number"]
        constraints = [
            models.UniqueConstraint(fields=["callback", "number"], name="attempt_unique_number"),
        ]
        indexes = [
            models.Index(fields=["acw_ended_at"], name="attempt_acw_ended"),
            # The monitor's Clbk Avg Time, from the index alone (see callback_bp_completed).
            models.Index(
                fields=["business_process", "acw_ended_at"], include=["accepted_at"], name="attempt_bp_acw_ended"
            ),
            models.Index(fields=["agent", "offered_at"], name="attempt_agent_offered"),
            # The agent reconciliation counts these offers directly (their reason may still change): few rows.
            models.Index(
                fields=["offered_at"],
                condition=models.Q(accepted_at__isnull=True) | models.Q(acw_ended_at__isnull=True),
                name="attempt_offered_unsettled",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.callback.external_id} #{self.number}"

    @property
    def handle_time(self):
        """Accept → end of After Call Work, or None while not finished."""
        if self.accepted_at and self.acw_ended_at:
            return self.acw_ended_at - self.accepted_at
        return None
