import itertools

import pytest
import torch

from vsr.nn import BasicVSRPlusPlus


def tiny(**kwargs) -> BasicVSRPlusPlus:
    torch.manual_seed(0)
    return BasicVSRPlusPlus(mid_channels=8, num_blocks=1, **kwargs)


def randomise_offset_heads(model: BasicVSRPlusPlus) -> None:
    # The offset heads and SPyNet's last layers start at zero; random ones make the offsets
    # and flows really move (and let gradients reach the layers before them).
    for module in model.deform_align.values():
        if hasattr(module, "conv_offset"):
            torch.nn.init.normal_(module.conv_offset[-1].weight, std=0.05)
    for level in model.spynet.basic_module:
        torch.nn.init.normal_(level.basic_module[-1].conv.weight, std=0.01)


def test_c64n7_has_the_published_parameter_count():
    assert sum(p.numel() for p in BasicVSRPlusPlus().parameters()) == 7_322_927


def test_initialisation_is_mmagics():
    """mmagic initialises the upsampling convolutions (PixelShufflePack) Kaiming-normal, fan-in,
    zero bias (std sqrt(2 / fan_in)), and the residual blocks' convolutions 0.1 x that; the
    other convolutions keep PyTorch's default (std 1 / sqrt(3 fan_in))."""
    torch.manual_seed(0)
    net = BasicVSRPlusPlus(mid_channels=64, num_blocks=1)
    fan_in = 64 * 9
    kaiming = (2 / fan_in) ** 0.5
    for conv, std in (
        (net.upsample1.upsample_conv, kaiming),
        (net.upsample2.upsample_conv, kaiming),
        (net.reconstruction.main[2][0].conv1, 0.1 * kaiming),
        (net.conv_hr, (1 / (3 * fan_in)) ** 0.5),
    ):
        assert conv.weight.std().item() == pytest.approx(std, rel=0.03)
    assert not net.upsample1.upsample_conv.bias.any()


def test_state_dict_keys_are_mmagics(parity):
    mmagic = {
        k[len("generator.") :]: tuple(v.shape)
        for k, v in parity["checkpoint"]["state_dict"].items()
        if k.startswith("generator.")
    }
    ours = {k: tuple(v.shape) for k, v in BasicVSRPlusPlus(16, 2).state_dict().items()}
    assert ours == mmagic


@pytest.mark.parametrize(
    ("kwargs", "size", "out_size"),
    [
        ({}, (12, 10), (48, 40)),
        ({"scale": 2}, (12, 10), (24, 20)),
        ({"is_low_res_input": False}, (16, 20), (16, 20)),
        ({"is_low_res_input": False}, (13, 7), (13, 7)),  # padded to a multiple of 4 inside
        ({}, (7, 9), (28, 36)),
    ],
)
def test_output_shapes(kwargs, size, out_size):
    model = tiny(**kwargs).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 3, *size))
    assert out.shape == (2, 3, 3, *out_size)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(("t", "size"), itertools.product([1, 2, 3], [(1, 1), (2, 3), (5, 17)]))
def test_tiny_frames_and_single_frames_work(t, size):
    model = tiny().eval()
    with torch.no_grad():
        out = model(torch.rand(1, t, 3, *size))
    assert out.shape == (1, t, 3, 4 * size[0], 4 * size[1])
    assert torch.isfinite(out).all()


def test_every_parameter_gets_a_gradient():
    model = tiny()
    randomise_offset_heads(model)
    out = model(torch.rand(1, 4, 3, 16, 16))
    out.mean().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert no_grad == []
    assert not torch.isnan(out).any()


def test_mirror_detection_holds_for_one_call_only():
    model = tiny().eval()
    randomise_offset_heads(model)
    half = torch.rand(1, 3, 3, 16, 16)
    mirrored = torch.cat([half, half.flip(1)], dim=1)
    plain = torch.rand(1, 6, 3, 16, 16)
    assert model.is_mirror_extended(mirrored)
    assert not model.is_mirror_extended(plain)
    assert not model.is_mirror_extended(torch.rand(1, 5, 3, 8, 8))
    with torch.no_grad():
        fresh = model(plain)
        model(mirrored)
        after_mirror = model(plain)
    torch.testing.assert_close(after_mirror, fresh, atol=0, rtol=0)


def test_mirror_shortcut_equals_computing_both_flows():
    model = tiny().eval()
    half = torch.rand(1, 3, 3, 16, 16)
    lqs = torch.cat([half, half.flip(1)], dim=1)
    with torch.no_grad():
        fast = model.compute_flow(lqs, mirrored=True)
        full = model.compute_flow(lqs, mirrored=False)
    for a, b in zip(fast, full, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


@pytest.mark.parametrize("is_low_res_input", [True, False])
def test_feature_cache_gives_the_same_output(is_low_res_input):
    model = tiny(is_low_res_input=is_low_res_input).eval()
    randomise_offset_heads(model)
    lqs = torch.rand(1, 5, 3, 16, 12)
    with torch.no_grad():
        plain = model(lqs)
        model.cpu_cache_length = 2  # 5 frames > 2: features parked between uses
        cached = model(lqs)
    torch.testing.assert_close(cached, plain, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("second_order", "grid_propagation", "alignment"),
    list(itertools.product([True, False], [True, False], ["deformable", "flow"])),
)
def test_ablation_switches(second_order, grid_propagation, alignment):
    model = tiny(second_order=second_order, grid_propagation=grid_propagation, alignment=alignment)
    assert list(model.backbone) == (
        ["backward_1", "forward_1", "backward_2", "forward_2"]
        if grid_propagation
        else ["backward_1", "forward_1"]
    )
    assert model.reconstruction.main[0].in_channels == 8 * (3 + 2 * grid_propagation)
    out = model(torch.rand(1, 4, 3, 8, 8))
    out.mean().backward()
    assert out.shape == (1, 4, 3, 32, 32)
    assert all(p.grad is not None for p in model.parameters())


def test_the_full_model_has_more_parameters_than_each_ablation():
    def count(**kw):
        return sum(p.numel() for p in tiny(**kw).parameters())

    full = count()
    assert count(second_order=False) < full
    assert count(grid_propagation=False) < full
    assert count(alignment="flow") < full


def test_bad_arguments_and_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="scale must be 4 or 2"):
        BasicVSRPlusPlus(8, 1, scale=3)
    with pytest.raises(ValueError, match="alignment must be one of"):
        BasicVSRPlusPlus(8, 1, alignment="optical")
    with pytest.raises(ValueError, match="deform_impl must be one of"):
        BasicVSRPlusPlus(8, 1, deform_impl="cuda")
    with pytest.raises(ValueError, match=r"mid_channels \(12\) must be a multiple of 8"):
        BasicVSRPlusPlus(12, 1)
    BasicVSRPlusPlus(12, 1, alignment="flow")  # no deformable groups to split
    with pytest.raises(ValueError, match=r"\(n, t, 3, h, w\)"):
        tiny()(torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"\(n, t, 3, h, w\)"):
        tiny()(torch.rand(1, 0, 3, 8, 8))


def _saved_bytes_of_forward(model: BasicVSRPlusPlus, lqs: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The output and the bytes autograd keeps from the forward pass (parameters aside)."""
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        if not isinstance(t, torch.nn.Parameter):
            total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(lqs)
    return out, total


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"second_order": False}, {"alignment": "flow"}, {"cpu_cache_length": 2}],
    ids=["basicvsrpp", "first_order", "flow_alignment", "cpu_cache"],
)
def test_gradient_checkpointing_gives_the_same_gradients_and_keeps_less(kwargs):
    model = tiny(**kwargs)
    randomise_offset_heads(model)
    lqs = torch.rand(1, 4, 3, 12, 12)
    out, kept_plain = _saved_bytes_of_forward(model, lqs)
    out.square().mean().backward()
    plain = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    model.gradient_checkpointing = True
    out, kept = _saved_bytes_of_forward(model, lqs)
    out.square().mean().backward()
    for name, param in model.named_parameters():
        torch.testing.assert_close(param.grad, plain[name], atol=1e-6, rtol=1e-4, msg=name)
    # Per-frame steps are recomputed, not kept; SPyNet's activations stay. With SPyNet frozen
    # (the first training steps), almost nothing of the forward pass is kept.
    assert kept < 0.75 * kept_plain
    model.spynet.requires_grad_(False)
    model.gradient_checkpointing = False
    _, kept_plain = _saved_bytes_of_forward(model, lqs)
    model.gradient_checkpointing = True
    _, kept = _saved_bytes_of_forward(model, lqs)
    assert kept < kept_plain / 10, (kept, kept_plain)


@pytest.mark.parametrize("impl", ["torchvision", "sample", "sample_checkpoint"])
def test_deform_impl_is_set_on_every_alignment_block_and_changes_nothing(impl):
    """Every formulation gives the reference outputs and gradients (torchvision's kernel)."""
    torch.manual_seed(0)
    reference = tiny(deform_impl="torchvision")
    randomise_offset_heads(reference)
    model = tiny(deform_impl=impl)
    model.load_state_dict(reference.state_dict())
    assert {m.deform_impl for m in model.deform_align.values()} == {impl}
    lqs = torch.rand(1, 4, 3, 12, 12)
    out_ref, out = reference(lqs), model(lqs)
    torch.testing.assert_close(out, out_ref, atol=1e-5, rtol=1e-4)
    out_ref.square().mean().backward()
    out.square().mean().backward()
    grads = dict(model.named_parameters())
    for name, param in reference.named_parameters():
        torch.testing.assert_close(grads[name].grad, param.grad, atol=1e-6, rtol=1e-4, msg=name)
