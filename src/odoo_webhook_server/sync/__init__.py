"""The sync rules, free of any web framework and of Odoo.

`cursor`, `token` and `coalesce` are pure; `engine` runs them over a
PostgreSQL connection through the SQL in `odoo_webhook_server.storage`.
"""
