"""``field__any=ids``: membership in a collection, sent to PostgreSQL as one array parameter.

``field__in`` with a thousand ids is a thousand placeholders, which psycopg parses and converts on every
query (tens of milliseconds for the monitor's queries over 1,000 business processes); ``= ANY(%s)`` is one.
Integers go as one array literal: psycopg would dump a list of them item by item. Other databases get the
ordinary IN.

For a large collection, give a set (or any iterable that is neither a list nor a tuple): Django's query
builder walks a list or tuple item by item, in case one is an expression, which for a thousand ids costs
more than the rest of building the query.
"""

from django.db.models import Field, ForeignObject, IntegerField, Lookup
from django.db.models.lookups import In


@ForeignObject.register_lookup
@Field.register_lookup
class Any(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self):
        # A tuple, being hashable, is not walked again when Django hashes the lookup.
        values = tuple(self.rhs)
        if self._of_integers() and all(type(v) is int for v in values):
            return values  # what the field would make of them
        return tuple(self.lhs.output_field.get_prep_value(value) for value in values)

    def as_sql(self, compiler, connection):
        return In(self.lhs, self.rhs).as_sql(compiler, connection)

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if self._of_integers():
            values = ",".join(str(value) for value in self.rhs if value is not None)  # NULL never matches
            return f"{lhs} = ANY(%s::bigint[])", (*lhs_params, "{" + values + "}")
        return f"{lhs} = ANY(%s)", (*lhs_params, list(self.rhs))

    def _of_integers(self) -> bool:
        """Whether the field holds integers (a foreign key: its target's)."""
        field = self.lhs.output_field
        return isinstance(getattr(field, "target_field", field), IntegerField)
