"""The part of odoo-webhook-server that the Odoo addon custom_model_webhook
shares, installed alone in Odoo's Python: the schema (schema.py, sql/), the
capture triggers (capture.py, sql/capture.sql), the archiving rules
(archiving.py), the default app types and Odoo's model-read rule. Standard
library only: it runs SQL through whatever DB-API cursor it is given.
"""

__version__ = "2.0.0"
__all__ = ["__version__"]
