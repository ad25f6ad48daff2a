"""Database helpers that work the same on PostgreSQL and SQLite."""

from django.db.models import Aggregate, JSONField

__all__ = ["JSONGroupArray"]


class JSONGroupArray(Aggregate):
    """Aggregate rows into one JSON array (`json_agg` on PostgreSQL, `json_group_array` on SQLite)."""

    function = "json_group_array"
    output_field = JSONField()

    def as_postgresql(self, compiler, connection, **extra_context):
        # psycopg decodes `json` itself; casting to text leaves decoding to JSONField on both backends.
        return self.as_sql(
            compiler, connection, function="json_agg", template="%(function)s(%(expressions)s)::text", **extra_context
        )
