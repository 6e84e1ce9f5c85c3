"""The error of an invalid intervention spec, in a module of its own so that the spec
(:mod:`.interventions`) and the edit types (:mod:`.edit_types`) both raise it without importing
each other."""
from __future__ import annotations


class SpecError(ValueError):
    """An invalid intervention spec; the message names the field and the allowed range."""
