# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Fields for the columns that the server's schema adds to the addon's tables
(extras_<table>.sql, run by each model's init()).

The ORM neither creates nor alters these columns: their type (bigint, which
Odoo has no field for), NOT NULL and default (the writing transaction's id)
belong to the shared schema. Declaring them still matters: Odoo drops the
NOT NULL constraint of every column of a model's table that is not a field,
on each module update, and the server relies on those constraints.

Models with such fields override _auto_init() with auto_init_shared_schema()
and run the extras in init().
"""

from odoo import fields
from odoo.tools import SQL
from odoo.tools.sql import table_exists


class SchemaInteger(fields.Integer):
    """An int4 column owned by the shared schema, read through the ORM."""

    def update_db(self, model, columns):
        return False  # created and maintained by the model's init()


class SchemaBigInteger(SchemaInteger):
    """An int8 column owned by the shared schema, read through the ORM."""

    _column_type = ("int8", "int8")


def auto_init_shared_schema(model, super_auto_init):
    """Run the ORM's _auto_init, then hand the schema columns to the extras.

    When the ORM creates a table it creates every column of its fields with
    it, schema columns included, bare (no default, nullable). On that fresh,
    empty table they are dropped again so that the model's init() creates
    them from the extras, with their default and NOT NULL.
    """
    created = not table_exists(model.env.cr, model._table)
    result = super_auto_init()
    if created:
        for name, field in model._fields.items():
            if isinstance(field, SchemaInteger):
                model.env.cr.execute(
                    SQL(
                        "ALTER TABLE %s DROP COLUMN %s",
                        SQL.identifier(model._table),
                        SQL.identifier(name),
                    )
                )
    return result
