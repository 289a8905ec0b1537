"""``field__any=[...]``: membership in a list, sent to PostgreSQL as one array parameter.

``field__in`` with a thousand ids is a thousand placeholders, which psycopg parses and converts on every
query (tens of milliseconds for the monitor's queries over 1,000 business processes); ``= ANY(%s)`` is one.
Other databases get the ordinary IN.
"""

from django.db.models import Field, ForeignObject, Lookup
from django.db.models.lookups import In


@ForeignObject.register_lookup
@Field.register_lookup
class Any(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self):
        return [self.lhs.output_field.get_prep_value(value) for value in self.rhs]

    def as_sql(self, compiler, connection):
        return In(self.lhs, self.rhs).as_sql(compiler, connection)

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*lhs_params, list(self.rhs))
