"""ToyWorld's scene categories, one module each, in one table.

Each module holds one :class:`.base.Category` subclass, registered in :data:`CATEGORIES` when
imported; this package imports the eight in ``csg.TOYWORLD_CATEGORIES``'s order (``csg``
imports the package, so every import of ``lina_core.csg`` has them).  Adding a category is one
module here (and one line below), or, for a test, a registered class in the test file itself.
"""
from __future__ import annotations

# registration order is the table's order: csg.TOYWORLD_CATEGORIES's
from . import reflection, shadow, buoyancy, balance, scale  # noqa: F401  isort: skip
from . import roles, fill, place  # noqa: F401  isort: skip
from .base import CATEGORIES, Category, Jitter, category, register, unregister

__all__ = ["CATEGORIES", "Category", "Jitter", "category", "register", "unregister",
           "reflection", "shadow", "buoyancy", "balance", "scale", "roles", "fill", "place"]
