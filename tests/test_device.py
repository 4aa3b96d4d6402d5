"""Device logic: the default device, its overrides, and the solvers on every available device."""

import pytest
import torch

import mmcl


def test_available_devices_start_with_cpu():
    devs = mmcl.available_devices()
    assert devs[0] == "cpu" and ("cuda" in devs) == torch.cuda.is_available()


def test_default_device_precedence(monkeypatch):
    monkeypatch.delenv("MMCL_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert mmcl.default_device().type == expected
    monkeypatch.setenv("MMCL_DEVICE", "cpu")
    assert mmcl.default_device() == torch.device(
        "cpu"
    )  # the environment overrides the default
    assert (
        mmcl.default_device(torch.device("cpu")).type == "cpu"
    )  # the argument overrides all
    monkeypatch.setenv("MMCL_DEVICE", "  ")
    assert mmcl.default_device().type == expected  # blank means unset


def test_default_device_errors(monkeypatch):
    monkeypatch.setenv("MMCL_DEVICE", "tpu7")
    with pytest.raises(ValueError, match="environment variable MMCL_DEVICE"):
        mmcl.default_device()
    with pytest.raises(ValueError, match="device must name a torch device"):
        mmcl.default_device("not-a-device")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"only \['cpu'"):
            mmcl.default_device("cuda")


def test_to_device_moves_tensors(device):
    a, b = mmcl.to_device(torch.ones(2), torch.zeros(3), device=device)
    assert a.device.type == device and b.device.type == device
    assert mmcl.to_device(torch.ones(1), device=device).device.type == device


def test_batched_replicates_on_every_device(device):
    d = mmcl.make_multimodal(
        64, 6, 5, 2, eta=0.8, replicates=2, seed=1, dtype=torch.float64
    )
    cpu = mmcl.svd_iteration(d.X, d.Y, 2, "clip", tau=0.7, max_iter=8, block_size=16)
    on = mmcl.svd_iteration(
        d.X.to(device), d.Y.to(device), 2, "clip", tau=0.7, max_iter=8, block_size=16
    )
    assert on.G1.device.type == device and on.G1.shape == (2, 2, 6)
    assert torch.allclose(
        on.G1.cpu().transpose(-1, -2) @ on.G2.cpu(),
        cpu.G1.transpose(-1, -2) @ cpu.G2,
        atol=1e-8,
    )


def test_minibatch_gradient_on_every_device(device):
    d = mmcl.make_multimodal(100, 6, 5, 2, eta=1.0, noise=0.3, seed=2, device=device)
    res = mmcl.minibatch_gradient(
        d.X, d.Y, 2, "clip", lr=0.05, batch_size=50, n_epochs=15, record_iterates=True
    )
    assert res.G1.device.type == device and len(res.iterates) == 15 == len(
        res.history["time"]
    )
    losses = [float(v) for v in res.history["loss"]]
    assert losses[-1] < losses[0] - 0.1
    assert float(mmcl.sin_theta_distance(res.G1.T, d.U1)) < 0.3
