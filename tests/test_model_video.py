"""The shipped ToyWorld video model: test_model.py's tests, on the video weights (a file of its
own, so that `pytest -n 2 --dist loadfile` samples the image and video models on different
workers)."""
from __future__ import annotations

import pytest
from test_model import (load_shipped, test_explicit_test_id_texture_rate_matches_model_card,  # noqa: F401
                        test_same_seed_same_pixels, test_weights_are_safetensors_only)


@pytest.fixture(scope="module", params=["video"])
def shipped(request):
    return load_shipped(request.param)
