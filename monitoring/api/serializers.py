"""The shape of a monitor row in the read API: monitoring.columns.Row.as_api(), described for the schema."""

from rest_framework import serializers

from ..columns import ACTIVE, OFF_SCHEDULE, STOPPED


class MonitorRowSerializer(serializers.Serializer):
    """One business process's monitor columns (seed 001), as numbers; null where there is nothing to divide by."""

    code = serializers.CharField(allow_null=True, help_text="The business process's code (null on the totals row).")
    name = serializers.CharField()
    status = serializers.ChoiceField(
        choices=[ACTIVE, OFF_SCHEDULE, STOPPED],
        allow_null=True,
        help_text="CLBK Stat: active (schedule open), off_schedule (closed) or stopped by a supervisor. "
        "Null on the totals row.",
    )
    proc = serializers.IntegerField(
        help_text="Proc: callbacks that reached an end state other than Purged or Cancelled during the current shift."
    )
    to_be_processed = serializers.IntegerField(help_text="Clbk To Be Proc: callbacks not in an end state.")
    avg_time_seconds = serializers.FloatField(
        allow_null=True,
        help_text="Clbk Avg Time: mean handle time (accept → end of After Call Work) of the attempts that ended "
        "during the current shift; null when none did.",
    )
    purged = serializers.IntegerField(help_text="Clbk Purged: callbacks purged during the current shift.")
    pct_reached = serializers.FloatField(
        allow_null=True, help_text="% Clbk Reached: Reached ÷ Proc × 100; null when Proc is 0."
    )
    pct_failed = serializers.FloatField(
        allow_null=True, help_text="% Clbk Fail: (Proc − Reached) ÷ Proc × 100; null when Proc is 0."
    )
    shift_start = serializers.DateTimeField(
        allow_null=True, help_text="When the current shift began (null on the totals row: each process has its own)."
    )
    computed_at = serializers.DateTimeField()


class MonitorSerializer(serializers.Serializer):
    """Every active business process, and the totals row (sums; percentages and average weighted)."""

    results = MonitorRowSerializer(many=True)
    totals = MonitorRowSerializer()


class RefusalSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="Why nothing was changed.")
