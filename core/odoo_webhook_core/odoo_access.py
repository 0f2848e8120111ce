"""Which models an Odoo user may read: shared by the server (what a pull
serves) and the addon's tests (which compare it with Odoo's own answer)."""

__all__ = ["READABLE_MODELS_SQL"]

# Odoo's own rule (ir.model.access._get_allowed_models('read')): an active
# access row with perm_read, for no group or for a group of the user.
# Record rules (ir.rule) are not applied.
READABLE_MODELS_SQL = """
    SELECT m.model
      FROM ir_model_access a
      JOIN ir_model m ON m.id = a.model_id
     WHERE a.perm_read AND a.active
       AND (a.group_id IS NULL OR a.group_id = ANY(%(groups)s::int4[]))
     GROUP BY m.model
"""
