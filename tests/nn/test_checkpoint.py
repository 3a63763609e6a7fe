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


# The ten files of the authors' release (official BasicVSR_PlusPlus configs), by architecture:
# (mid_channels, num_blocks, x4 or same size) -> file names.
RELEASED = {
    (64, 7, True): (
        "basicvsr_plusplus_c64n7_8x1_600k_reds4_20210217-db622b2f.pth",
        "basicvsr_plusplus_c64n7_4x2_300k_vimeo90k_bi_20210305-4ef437e2.pth",
        "basicvsr_plusplus_c64n7_4x2_300k_vimeo90k_bd_20210305-ab315ab1.pth",
    ),
    (128, 25, True): ("basicvsr_plusplus_c128n25_ntire_vsr.pth",),
    (64, 15, False): (
        "basicvsr_plusplus_deblur_dvd-ecd08b7f.pth",
        "basicvsr_plusplus_deblur_gopro-3c5bb9b5.pth",
        "basicvsr_plusplus_denoise-28f6920c.pth",
    ),
    (128, 25, False): tuple(
        f"basicvsr_plusplus_c128n25_ntire_decompress_track{t}.pth" for t in (1, 2, 3)
    ),
}


def _mmagic_file(path, model: BasicVSRPlusPlus) -> None:
    """`model`'s weights, randomised, in the layout of the released mmagic / MMEditing files."""
    generator = torch.Generator().manual_seed(len(path.name))
    sd = {
        f"generator.{k}": torch.randn(v.shape, generator=generator) if v.is_floating_point() else v
        for k, v in model.state_dict().items()
    }
    sd["step_counter"] = torch.zeros(1)
    torch.save({"meta": {"mmedit_version": "0.8.0", "iter": 600000}, "state_dict": sd}, path)


@pytest.mark.parametrize(("arch", "names"), list(RELEASED.items()), ids=lambda x: str(x))
def test_every_released_architecture_is_inferred(tmp_path, arch, names):
    mid, blocks, x4 = arch
    path = tmp_path / names[0]
    _mmagic_file(path, BasicVSRPlusPlus(mid, blocks, is_low_res_input=x4))
    sd = torch.load(path, weights_only=True)["state_dict"]
    # The shapes the released files have (mmagic's module names): x4 models extract features
    # at the input size; same-size models at 1/4, with two stride-2 convs. Both upsample the
    # features x4 by two pixel shuffles (same size: back to the input's size).
    if x4:
        assert sd["generator.feat_extract.main.0.weight"].shape == (mid, 3, 3, 3)
    else:
        assert sd["generator.feat_extract.0.weight"].shape == (mid, 3, 3, 3)
        assert sd["generator.feat_extract.2.weight"].shape == (mid, mid, 3, 3)
        assert f"generator.feat_extract.4.main.2.{4}.conv1.weight" in sd  # 5 residual blocks
    assert sd["generator.upsample1.upsample_conv.weight"].shape == (4 * mid, mid, 3, 3)
    assert sd["generator.upsample2.upsample_conv.weight"].shape == (256, mid, 3, 3)
    model = load_generator(path)
    assert (model.mid_channels, len(model.backbone["backward_1"].main[2])) == (mid, blocks)
    assert model.is_low_res_input is x4 and model.scale == (4 if x4 else 1)
    loaded = model.state_dict()
    assert all(
        torch.equal(loaded[k[len("generator.") :]], v) for k, v in sd.items() if k != "step_counter"
    )
    if arch == (64, 7, True):  # the published parameter count of c64n7
        assert sum(p.numel() for p in model.parameters()) == 7_322_927
    # Frames of an odd size: x4 gives 4x the size, same size pads to /4 and crops back.
    lqs = torch.rand(1, 2, 3, 18, 22)
    with torch.no_grad():
        out = model(lqs)
    assert out.shape == ((1, 2, 3, 72, 88) if x4 else (1, 2, 3, 18, 22))
