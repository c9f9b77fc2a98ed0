"""Model families on the market core.

The registry (:mod:`.base`), what they share (:mod:`.common`) and one module per family
(:mod:`.stress`, :mod:`.coercion`, :mod:`.pooling`, :mod:`.diversify`).
"""

from resilience.optimize.families.base import FAMILIES, ModelFamily, family
from resilience.optimize.families.common import FamilyContext, FamilyRun

__all__ = ["FAMILIES", "FamilyContext", "FamilyRun", "ModelFamily", "family"]
