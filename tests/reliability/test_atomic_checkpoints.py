"""A process killed while writing a checkpoint leaves the previous one intact."""

import torch
from faults import kill_saver_repeatedly

from vsr.callbacks import AtomicCheckpointIO


def test_sigkill_during_atomic_saves_never_leaves_a_broken_checkpoint(tmp_path):
    result = kill_saver_repeatedly(tmp_path / "last.ckpt", atomic=True, kills=4)
    assert result["whole"] == result["kills"]
    # Killed writes leave only hidden temporary files, never a file under the target's name.
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["last.ckpt"]


def test_the_injection_does_hit_plain_saves_mid_write(tmp_path):
    """Control: the same kills truncate plain torch.save files, so the test above has teeth."""
    result = kill_saver_repeatedly(tmp_path / "last.ckpt", atomic=False, kills=4, seed=1)
    assert result["whole"] < result["kills"]


def test_checkpoint_io_round_trip(tmp_path):
    io = AtomicCheckpointIO()
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}, "global_step": 7}, tmp_path / "a.ckpt")
    loaded = io.load_checkpoint(tmp_path / "a.ckpt")
    assert loaded["global_step"] == 7 and torch.equal(loaded["state_dict"]["w"], torch.ones(3))
