import pytest
import torch

import mmcl

# A fixture book for tests/test_browser.py (built there), not a chapter for nbval.
collect_ignore = ["browser_fixture"]


def available_devices():
    devs = ["cpu"]
    if torch.cuda.is_available():
        devs.append("cuda")
    return devs


@pytest.fixture(params=available_devices())
def device(request):
    return request.param


@pytest.fixture
def small64():
    """A small float64 sample with wrong pairs."""
    return mmcl.make_multimodal(
        60, 7, 5, 2, eta=0.8, noise=0.5, seed=3, dtype=torch.float64
    )


@pytest.fixture
def reps64():
    return mmcl.make_multimodal(
        40, 6, 5, 2, eta=0.9, noise=0.5, replicates=3, seed=4, dtype=torch.float64
    )
