"""Loading the files users bring, and parity with the reference implementation."""

import pytest
import torch

from vsr import load_generator
from vsr.nn import BasicVSRPlusPlus
from vsr.nn.checkpoint import CheckpointError

TOLERANCE = 1e-4  # the fixture's stated max abs difference


def generator_weights(parity) -> dict:
    sd = parity["checkpoint"]["state_dict"]
    return {k[len("generator.") :]: v for k, v in sd.items() if k.startswith("generator.")}


def to_basicsr(weights: dict) -> dict:
    out = {}
    for key, value in weights.items():
        parts = key.split(".")
        if key.startswith("spynet.basic_module."):
            key = ".".join([*parts[:4], str(2 * int(parts[4])), parts[6]])
        key = key.replace("upsample1.upsample_conv.", "upconv1.")
        key = key.replace("upsample2.upsample_conv.", "upconv2.")
        out[key] = value
    return out


def perturbed(weights: dict, amount: float) -> dict:
    return {k: v + amount if v.is_floating_point() else v for k, v in weights.items()}


@pytest.fixture
def mmagic_file(parity, tmp_path):
    path = tmp_path / "basicvsr_plusplus_c16n2_mmagic.pth"
    torch.save(parity["checkpoint"], path)
    return path


@pytest.mark.parametrize("impl", ["auto", "torchvision", "sample"])
def test_mmagic_checkpoint_reproduces_the_reference_outputs(parity, mmagic_file, impl):
    """Every deformable-conv formulation reproduces the reference outputs."""
    model = load_generator(mmagic_file)
    assert not model.training
    for block in model.deform_align.values():
        block.deform_impl = impl
    # Two passes over the inputs on one instance: state leaking between calls shows up.
    for _ in range(2):
        for kind, lqs in parity["inputs"].items():
            with torch.no_grad():
                out = model(lqs)
            diff = (out - parity["outputs"][kind]).abs().max().item()
            assert diff <= TOLERANCE, f"{kind}: max abs diff {diff}"


def test_architecture_is_inferred_from_the_tensors(mmagic_file):
    model = load_generator(mmagic_file)
    assert model.mid_channels == 16
    assert len(model.backbone["backward_1"].main[2]) == 2
    assert model.is_low_res_input and model.scale == 4
    assert model.second_order and model.alignment == "deformable"
    assert list(model.backbone) == ["backward_1", "forward_1", "backward_2", "forward_2"]


def test_basicsr_checkpoint_with_ema_choice(parity, tmp_path):
    weights = generator_weights(parity)
    ema = perturbed(weights, 1e-3)
    path = tmp_path / "basicsr.pth"
    torch.save({"params": to_basicsr(weights), "params_ema": to_basicsr(ema)}, path)
    for use_ema, expected in ((True, ema), (False, weights)):
        model = load_generator(path, ema=use_ema)
        for key, value in expected.items():
            torch.testing.assert_close(model.state_dict()[key], value, atol=0, rtol=0)
    lqs = parity["inputs"]["plain"]
    with torch.no_grad():
        out = load_generator(path, ema=False)(lqs)
    assert (out - parity["outputs"]["plain"]).abs().max() <= TOLERANCE


def test_basicsr_checkpoint_without_ema_falls_back_to_params(parity, tmp_path):
    path = tmp_path / "basicsr_params_only.pth"
    torch.save({"params": to_basicsr(generator_weights(parity))}, path)
    model = load_generator(path, ema=True)
    torch.testing.assert_close(
        model.state_dict()["conv_last.weight"], generator_weights(parity)["conv_last.weight"]
    )


def test_lightning_checkpoint_prefers_ema_weights(parity, tmp_path):
    weights = generator_weights(parity)
    ema = perturbed(weights, 2e-3)
    state = {f"generator.{k}": v for k, v in weights.items()}
    state.update({f"generator_ema.module.{k}": v for k, v in ema.items()})
    state["generator_ema.n_averaged"] = torch.tensor(10)
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": state, "global_step": 10, "epoch": 0}, path)
    torch.testing.assert_close(
        load_generator(path).state_dict()["conv_last.bias"], ema["conv_last.bias"]
    )
    torch.testing.assert_close(
        load_generator(path, ema=False).state_dict()["conv_last.bias"], weights["conv_last.bias"]
    )


@pytest.mark.parametrize("prefix", ["", "module."])
def test_bare_state_dict(parity, tmp_path, prefix):
    path = tmp_path / "bare.pth"
    torch.save({prefix + k: v for k, v in generator_weights(parity).items()}, path)
    with torch.no_grad():
        out = load_generator(path)(parity["inputs"]["odd_size"])
    assert (out - parity["outputs"]["odd_size"]).abs().max() <= TOLERANCE


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scale": 2},
        {"is_low_res_input": False},
        {"second_order": False},
        {"grid_propagation": False},
        {"alignment": "flow"},
        {"alignment": "flow", "second_order": False, "grid_propagation": False},
    ],
)
def test_our_checkpoints_round_trip_with_their_architecture(tmp_path, kwargs):
    torch.manual_seed(0)
    model = BasicVSRPlusPlus(16, 2, **kwargs).eval()
    path = tmp_path / "ours.pth"
    torch.save(model.state_dict(), path)
    loaded = load_generator(path)
    lqs = torch.rand(1, 3, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(lqs), model(lqs), atol=0, rtol=0)


def test_a_file_that_is_no_checkpoint_says_what_was_expected(tmp_path):
    path = tmp_path / "optimizer.pth"
    torch.save({"optimizer": {"lr": torch.tensor(1.0)}, "epoch": 3}, path)
    with pytest.raises(CheckpointError, match=r"optimizer\.pth.*mmagic.*BasicSR.*epoch, optimizer"):
        load_generator(path)


def test_a_broken_checkpoint_lists_missing_and_unexpected_keys(parity, tmp_path):
    weights = generator_weights(parity)
    del weights["conv_hr.weight"]
    weights["conv_extra.weight"] = torch.zeros(1)
    path = tmp_path / "broken.pth"
    torch.save(weights, path)
    with pytest.raises(
        CheckpointError, match=r"Missing keys: conv_hr\.weight.*Unexpected keys: conv_extra\.weight"
    ):
        load_generator(path)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.pth"):
        load_generator(tmp_path / "nowhere.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"cannot read .*garbage\.pth"):
        load_generator(garbage)
