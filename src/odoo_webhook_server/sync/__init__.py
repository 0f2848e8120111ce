"""The sync rules, free of any web framework and of Odoo.

`position` (where a device is, in commit order), `cursor`, `token` and
`coalesce` are pure; `engine` runs them over a PostgreSQL connection through
the SQL in `odoo_webhook_server.storage`; `shared` serves the long polls one
commit wakes together.
"""
