"""Development helpers: a throwaway PostgreSQL, a simulated Odoo, the demo.

Nothing here is used by the production command (`odoo-webhook-server serve`).
"""
