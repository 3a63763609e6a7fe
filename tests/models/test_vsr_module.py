"""The LightningModule in real Trainer runs on the tiny demo data."""

import math
import re

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from vsr.models import VSRModule
from vsr.nn import BasicVSRPlusPlus


class Record(Callback):
    """What the optimiser and the flow network looked like at every training step."""

    def __init__(self):
        self.steps = []

    def on_before_optimizer_step(self, trainer, module, optimizer):
        spynet = module.generator.spynet
        self.steps.append(
            {
                "step": trainer.global_step,
                "spynet_has_grad": any(p.grad is not None for p in spynet.parameters()),
                "lr": {g["name"]: g["lr"] for g in optimizer.param_groups},
            }
        )


def trainer(tmp_path, max_steps, **kwargs) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu",
        max_steps=max_steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        num_sanity_val_steps=0,
        **{"limit_val_batches": 1, **kwargs},
    )


def tiny_module(**kwargs) -> VSRModule:
    torch.manual_seed(0)
    return VSRModule(BasicVSRPlusPlus(8, 1), **kwargs)


def test_spynet_is_frozen_for_fix_flow_iters_steps_with_its_own_lr(tiny_datamodule, tmp_path):
    record = Record()
    module = tiny_module(fix_flow_iters=2)
    spynet_before = [p.detach().clone() for p in module.generator.spynet.parameters()]
    trainer(tmp_path, 4, callbacks=[record]).fit(module, datamodule=tiny_datamodule())
    assert [s["step"] for s in record.steps] == [0, 1, 2, 3]
    assert [s["spynet_has_grad"] for s in record.steps] == [False, False, True, True]
    first = record.steps[0]["lr"]
    assert first["main"] == pytest.approx(1e-4)
    assert first["spynet"] == pytest.approx(0.25e-4)
    # the flow net moved once unfrozen
    after = list(module.generator.spynet.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(after, spynet_before, strict=True))


def test_cosine_decay_per_step_to_eta_min(tiny_datamodule, tmp_path):
    record = Record()
    module = tiny_module(fix_flow_iters=0, eta_min=1e-7)
    trainer(tmp_path, 5, callbacks=[record], limit_val_batches=0).fit(
        module, datamodule=tiny_datamodule()
    )
    lrs = [s["lr"]["main"] for s in record.steps]
    expected = [1e-7 + (1e-4 - 1e-7) * (1 + math.cos(math.pi * i / 5)) / 2 for i in range(5)]
    assert lrs == pytest.approx(expected, rel=1e-6)
    spynet = [s["lr"]["spynet"] for s in record.steps]
    assert spynet[0] == pytest.approx(0.25e-4) and spynet[-1] < spynet[0]


def test_validation_logs_protocol_metrics_and_the_bicubic_baseline(tiny_datamodule, tmp_path):
    module = tiny_module(fix_flow_iters=0)
    t = trainer(tmp_path, 2, val_check_interval=2)
    t.fit(module, datamodule=tiny_datamodule())
    metrics = t.callback_metrics
    for key in ("val/psnr", "val/ssim", "val/psnr_best", "val/psnr_bicubic"):
        assert key in metrics and torch.isfinite(metrics[key])
    assert metrics["val/psnr_best"] == metrics["val/psnr"]
    assert module.samples["output"].shape == (3, 3, 32, 32)


def test_ema_weights_are_averaged_and_saved_under_generator_ema(tiny_datamodule, tmp_path):
    module = tiny_module(fix_flow_iters=0, ema_decay=0.5)
    trainer(tmp_path, 3, limit_val_batches=0).fit(module, datamodule=tiny_datamodule())
    state = module.state_dict()
    assert int(state["generator_ema.n_averaged"]) == 3
    live, ema = state["generator.conv_last.weight"], state["generator_ema.module.conv_last.weight"]
    assert not torch.equal(live, ema)
    assert not any(p.requires_grad for p in module.generator_ema.parameters())


def test_pretrained_weights_initialise_the_generator(tmp_path):
    source = BasicVSRPlusPlus(8, 1)
    torch.nn.init.normal_(source.conv_last.weight)
    path = tmp_path / "reds.pth"
    torch.save({"state_dict": {f"generator.{k}": v for k, v in source.state_dict().items()}}, path)
    module = VSRModule(BasicVSRPlusPlus(8, 1), pretrained=str(path))
    torch.testing.assert_close(module.generator.conv_last.weight, source.conv_last.weight)


@pytest.mark.slow
def test_compiled_blocks_train_and_keep_clean_checkpoint_keys(tiny_datamodule, tmp_path):
    module = tiny_module(fix_flow_iters=0, compile=True)
    trainer(tmp_path, 2, limit_val_batches=0).fit(module, datamodule=tiny_datamodule())
    keys = list(module.state_dict())
    assert not any("_orig_mod" in k for k in keys)
    assert "generator.backbone.backward_1.main.0.weight" in keys


def test_pretrained_weights_are_read_like_load_generator(tmp_path):
    from vsr.nn.checkpoint import CheckpointError

    source = BasicVSRPlusPlus(8, 1)
    path = tmp_path / "reds.pth"
    torch.save({"state_dict": {f"generator.{k}": v for k, v in source.state_dict().items()}}, path)
    module = VSRModule(BasicVSRPlusPlus(8, 1), pretrained=str(path))
    for key, value in source.state_dict().items():
        assert torch.equal(module.generator.state_dict()[key], value)
    with pytest.raises(FileNotFoundError, match=re.escape("checkpoint not found: /no/such.pth")):
        VSRModule(BasicVSRPlusPlus(8, 1), pretrained="/no/such.pth")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match=re.escape(f"cannot read {tmp_path / 'junk.pth'}")):
        VSRModule(BasicVSRPlusPlus(8, 1), pretrained=str(tmp_path / "junk.pth"))


def metric_state(metric) -> dict:
    return {
        k: v.clone() if torch.is_tensor(v) else [x.clone() for x in v]
        for k, v in metric.metric_state.items()
    }


def test_test_sets_and_validation_have_metrics_of_their_own(tiny_datamodule, tmp_path):
    sets = [
        {"name": "A", "split": "reds4_val", "clips": ["000"], "max_frames": 3},
        {"name": "B", "split": "reds4_val", "clips": ["011"], "max_frames": 3},
    ]
    # One result per test set's loader, each holding every set's numbers.
    fresh = trainer(tmp_path, 1).test(tiny_module(), datamodule=tiny_datamodule(test_sets=sets))
    # A validation in progress (fit's) when the test runs: its pending state stays out of the
    # test's numbers, and the test leaves it as it was.
    module = tiny_module()
    gt = torch.rand(1, 3, 3, 32, 32)
    for metric in (module.val_psnr, module.val_ssim, module.val_psnr_bicubic):
        metric.update((gt + 0.1).clamp(0, 1), gt)
    pending = {
        name: metric_state(getattr(module, name))
        for name in ("val_psnr", "val_ssim", "val_psnr_bicubic")
    }
    results = trainer(tmp_path, 1).test(module, datamodule=tiny_datamodule(test_sets=sets))
    assert set(results[0]) == {"test/A/psnr", "test/A/ssim", "test/B/psnr", "test/B/ssim"}
    assert results == fresh
    for name, state in pending.items():
        after = metric_state(getattr(module, name))
        assert after.keys() == state.keys()
        for key, value in state.items():
            if torch.is_tensor(value):
                assert torch.equal(after[key], value), (name, key)
            else:
                assert len(after[key]) == len(value) == 1 and torch.equal(after[key][0], value[0])
    val = {id(m) for m in (module.val_psnr, module.val_ssim, module.val_psnr_bicubic)}
    assert not val & {id(m) for ms in module.test_metrics.values() for m in ms.values()}


def test_a_frame_scored_twice_is_the_mean_of_its_two_outputs():
    # Vimeo-90K-T's mirrored input: GT frame j against the mean of outputs pred_index[j].
    module = tiny_module().eval()
    lq = torch.rand(1, 4, 3, 8, 8)
    batch = {
        "lq": lq,
        "gt": torch.zeros(1, 2, 3, 32, 32),
        "pred_index": torch.tensor([[[0, 3], [1, 2]]]),
    }
    with torch.no_grad():
        out = module.generator(lq)[0]
        pred = module.predict_clip(batch)
    expected = torch.stack([(out[0] + out[3]) / 2, (out[1] + out[2]) / 2]).clamp(0, 1)
    assert pred.shape == (1, 2, 3, 32, 32)
    torch.testing.assert_close(pred[0], expected)
