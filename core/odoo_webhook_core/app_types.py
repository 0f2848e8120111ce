"""App types: which models a kind of app sees.

The mapping is data (tables webhook_app_type / webhook_app_type_model, edited
in Odoo under Webhooks -> Configuration). These are only the defaults that
`init-db` and the addon's install seed, from the upgrade guide.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ALL_MODELS", "DEFAULT_APP_TYPES", "AppType"]

ALL_MODELS = "*"


@dataclass(frozen=True)
class AppType:
    code: str
    name: str
    models: tuple[str, ...]  # (ALL_MODELS,) = every model
    # res.groups ids: when not empty, only users of one of them may use it.
    group_ids: tuple[int, ...] = ()

    @property
    def all_models(self) -> bool:
        return ALL_MODELS in self.models


DEFAULT_APP_TYPES: tuple[AppType, ...] = (
    AppType("sales_app", "Sales app", ("sale.order", "res.partner", "product.template")),
    AppType("delivery_app", "Delivery app", ("stock.picking", "res.partner")),
    AppType("manager_app", "Manager app", (ALL_MODELS,)),
)
