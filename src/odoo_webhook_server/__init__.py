"""odoo-webhook-server: smart sync between Odoo 18 and mobile apps."""

__version__ = "2.0.0"
__all__ = ["__version__"]
