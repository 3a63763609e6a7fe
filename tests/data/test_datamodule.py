"""VSRDataModule from plain arguments and from the Hydra configs in conf/data."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from torch.utils.data import DataLoader, DistributedSampler

from vsr.data import DataError, VSRDataModule

CONF = Path(__file__).parents[2] / "conf" / "data"
SMALL = {"num_frames": 5, "gt_patch_size": 32, "num_workers": 0, "samples_per_epoch": 8}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, synth) -> Path:
    """`paths.data_dir` holding every dataset the configs name."""
    root = tmp_path_factory.mktemp("data_dir")
    for name in ("REDS", "demo"):
        synth.make_reds(root / name)
    synth.make_vimeo(root / "vimeo90k")
    synth.make_folder(root / "Vid4")  # BIx4 stored; BDx4 made on the fly
    synth.make_folder(root / "UDM10", lr_dir="BDx4")
    synth.make_folder(root / "clips", gt_dir=".", lr_dir=None)
    return root


def batches(loader: DataLoader) -> list[dict]:
    return list(loader)


def test_reds_fit_loaders(reds_root: Path, synth) -> None:
    dm = VSRDataModule(
        kind="reds",
        root=str(reds_root),
        batch_size=2,
        val_sets=[{"name": "REDS4"}],
        **SMALL,
    )
    dm.setup("fit")
    assert dm.train_set.clips == ["001", "002", "240", "241"]
    loader = dm.train_dataloader()
    assert isinstance(loader.sampler, DistributedSampler)  # so Lightning keeps it as is
    train = batches(loader)
    assert len(train) == 4
    batch = train[0]
    assert set(batch) == {"lq", "gt", "clip", "frames", "crop"}
    assert batch["lq"].shape == (2, 5, 3, 8, 8) and batch["lq"].dtype == torch.float32
    assert batch["gt"].shape == (2, 5, 3, 32, 32) and batch["gt"].dtype == torch.float32
    assert len(batch["clip"]) == 2 and batch["frames"].shape == (2, 5)
    assert batch["crop"].shape == (2, 2)

    assert dm.val_set_names == ["REDS4"]
    val = batches(dm.val_dataloader())
    assert [b["clip"][0] for b in val] == ["000", "011", "015", "020"]
    item = val[1]
    assert item["lq"].shape == (1, 8, 3, 12, 16) and item["gt"].shape == (1, 8, 3, 48, 64)
    assert item["set"] == ["REDS4"] and item["pred_index"].shape == (1, 8, 1)
    gt = (item["gt"][0, 2].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    np.testing.assert_array_equal(gt, synth.gt_frame("011", 2))


def test_workers_reproduce_main_process_and_epochs_differ(reds_root: Path) -> None:
    def epochs(num_workers: int, seed: int = 0) -> list[list[dict]]:
        args = SMALL | {"num_workers": num_workers}
        dm = VSRDataModule(kind="reds", root=str(reds_root), batch_size=2, seed=seed, **args)
        dm.setup("fit")
        loader = dm.train_dataloader()  # persistent workers: the epoch travels with indices
        out = []
        for epoch in range(2):
            loader.sampler.set_epoch(epoch)
            out.append(batches(loader))
        return out

    main, workers = epochs(0), epochs(2)
    for a, b in zip(main, workers, strict=True):
        for x, y in zip(a, b, strict=True):
            assert x["clip"] == y["clip"] and torch.equal(x["gt"], y["gt"])
    assert not torch.equal(main[0][0]["gt"], main[1][0]["gt"])
    other = epochs(0, seed=1)
    assert not torch.equal(other[0][0]["gt"], main[0][0]["gt"])


def test_vimeo_mirror_and_vimeo_t(vimeo_root: Path) -> None:
    dm = VSRDataModule(
        kind="vimeo",
        root=str(vimeo_root),
        batch_size=1,
        mirror=True,
        test_sets=[{"name": "Vimeo-90K-T", "mirror": True, "gt_frames": [3]}],
        **(SMALL | {"num_frames": 7}),
    )
    dm.setup("fit")
    dm.setup("test")
    assert dm.train_set.clips == ["00001/0001", "00001/0002", "00002/0001"]
    batch = next(iter(dm.train_dataloader()))
    assert batch["lq"].shape == (1, 14, 3, 8, 8)
    test = batches(dm.test_dataloader())
    assert [b["clip"][0] for b in test] == ["00001/0003", "00002/0007"]
    assert test[0]["lq"].shape == (1, 14, 3, 12, 16) and test[0]["gt"].shape == (1, 1, 3, 48, 64)
    assert test[0]["pred_index"].tolist() == [[[3, 10]]]


def test_folder_without_low_res_generates_them(tmp_path: Path, synth) -> None:
    root = synth.make_folder(tmp_path / "clips", gt_dir=".", lr_dir=None)
    dm = VSRDataModule(kind="folder", root=str(root), degradation="bd", **SMALL)
    dm.setup("fit")
    assert dm.train_set.generate_lr and dm.train_set.clips == ["calendar", "city walk"]
    assert next(iter(dm.train_dataloader()))["lq"].shape == (1, 5, 3, 8, 8)
    stored = VSRDataModule(kind="folder", root=str(root), lr_source="stored", **SMALL)
    with pytest.raises(DataError, match="BIx4 does not exist"):
        stored.setup("fit")


def test_rank_and_samples_per_epoch(reds_root: Path) -> None:
    dm = VSRDataModule(kind="reds", root=str(reds_root), **(SMALL | {"samples_per_epoch": None}))
    dm.setup("fit")
    assert len(dm.train_set) == 4 and (dm.train_set.rank, dm.train_set.world_size) == (0, 1)
    few = VSRDataModule(
        kind="reds", root=str(reds_root), batch_size=4, **(SMALL | {"samples_per_epoch": 3})
    )
    with pytest.raises(DataError, match="make no full batch of 4"):
        few.setup("fit")


def test_bad_arguments(reds_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="backend 42"):
        VSRDataModule(root=str(reds_root), backend=42)
    missing = VSRDataModule(root=str(reds_root), backend=str(tmp_path / "REDS.arrays"))
    with pytest.raises(DataError, match=r"no frame store at .*REDS\.arrays"):
        missing.setup("fit")
    with pytest.raises(ValueError, match=r"unknown keys \['scale'\]"):
        VSRDataModule(root=str(reds_root), val_sets=[{"name": "x", "scale": 2}])


def test_frame_store_backend(reds_root: Path) -> None:
    from vsr.data import FolderStore
    from vsr.data.layouts import discover

    store = FolderStore.from_layout(discover("reds", reds_root, split="all"))
    dm = VSRDataModule(kind="reds", root="unused", backend=lambda: store, **SMALL)
    dm.setup("fit")
    assert dm.train_set.clips == ["001", "002", "240", "241"] and not dm.train_set.generate_lr
    reference = VSRDataModule(kind="reds", root=str(reds_root), **SMALL)
    reference.setup("fit")
    assert torch.equal(dm.train_set[3]["gt"], reference.train_set[3]["gt"])


@pytest.mark.parametrize("name", ["reds", "vimeo_bi", "vimeo_bd", "folder", "demo"])
def test_configs_instantiate_and_load(name: str, data_dir: Path) -> None:
    from hydra import compose, initialize_config_dir

    # Composed as vsr-train composes it (a data config may inherit another with `defaults:`).
    with initialize_config_dir(config_dir=str(CONF.parent), version_base="1.3"):
        cfg = compose("train", overrides=[f"data={name}", f"paths.data_dir={data_dir}", "seed=7"])
    overrides = SMALL | {"num_frames": 7 if name.startswith("vimeo") else 5}
    dm = instantiate(cfg.data, **overrides)
    assert isinstance(dm, VSRDataModule) and dm.seed == 7
    dm.setup("fit")
    dm.setup("test")
    batch = next(iter(dm.train_dataloader()))
    frames = 14 if name.startswith("vimeo") else 5
    assert batch["lq"].shape == (dm.batch_size, frames, 3, 8, 8)
    for stage in ("val", "test"):
        loaders = getattr(dm, f"{stage}_dataloader")()
        loaders = loaders if isinstance(loaders, list) else [loaders]
        names = getattr(dm, f"{stage}_set_names")
        assert len(loaders) == len(names)
        for loader, set_name in zip(loaders, names, strict=True):
            item = next(iter(loader))
            assert item["set"] == [set_name] and item["lq"].shape[-2:] == (12, 16)


class _Recorder(L.LightningModule):
    """Smallest module that trains on the batches and records the clips it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Conv2d(3, 3, 1)
        self.seen: list[tuple[int, list[str]]] = []
        self.validated: list[str] = []

    def training_step(self, batch, batch_idx):
        self.seen.append((self.current_epoch, list(batch["clip"])))
        return self.layer(batch["lq"].flatten(0, 1)).mean()

    def validation_step(self, batch, batch_idx):
        self.validated.append(batch["clip"][0])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_lightning_sets_the_epoch(reds_root: Path) -> None:
    dm = VSRDataModule(
        kind="reds", root=str(reds_root), batch_size=2, val_sets=[{"name": "REDS4"}], **SMALL
    )
    model = _Recorder()
    trainer = L.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, datamodule=dm)
    data = dm.train_set
    for epoch in (0, 1):
        seen = [c for e, clips in model.seen if e == epoch for c in clips]
        assert seen == [data.clip_of(epoch, i) for i in range(8)]
    assert model.validated == ["000", "011", "015", "020"] * 2
