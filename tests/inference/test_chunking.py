from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from vsr.inference.chunking import (
    Window,
    check_chunking,
    chunk_stream,
    plan_windows,
    run_tiled,
    tile_spans,
)


@pytest.mark.parametrize(
    ("num_frames", "chunk", "overlap"),
    list(itertools.product([1, 7, 24, 25], [1, 3, 8], [0, 2, 4])),
)
def test_windows_keep_every_frame_once_with_context(num_frames, chunk, overlap):
    windows = plan_windows(num_frames, chunk, overlap)
    kept = [i for w in windows for i in range(w.keep_start, w.keep_stop)]
    assert kept == list(range(num_frames))
    for w in windows:
        assert w.start == max(0, w.keep_start - overlap)
        assert w.stop == min(num_frames, w.keep_stop + overlap)
        assert w.keep_stop - w.keep_start <= chunk
        assert w.stop - w.start <= chunk + 2 * overlap


def test_plan_for_the_documented_example():
    assert plan_windows(24, 8, 4) == [
        Window(0, 12, 0, 8),
        Window(4, 20, 8, 16),
        Window(12, 24, 16, 24),
    ]


@pytest.mark.parametrize(("num_frames", "chunk", "overlap"), [(0, 4, 2), (1, 4, 2), (23, 5, 3)])
def test_stream_matches_plan_and_reads_lazily(num_frames, chunk, overlap):
    read = []

    def frames():
        for i in range(num_frames):
            read.append(i)
            yield i

    seen = []
    for window, items in chunk_stream(frames(), chunk, overlap):
        assert items == list(range(window.start, window.stop))
        # Nothing beyond the window's context is read; never more than one window is held.
        assert len(read) <= window.keep_stop + overlap + 1
        assert items[window.keep] == list(range(window.keep_start, window.keep_stop))
        seen.append(window)
    assert seen == plan_windows(num_frames, chunk, overlap)


def test_invalid_chunking_is_refused():
    with pytest.raises(ValueError, match="chunk"):
        plan_windows(10, 0, 2)
    with pytest.raises(ValueError, match="overlap"):
        list(chunk_stream(range(3), 2, -1))
    with pytest.raises(ValueError, match="tile overlap"):
        tile_spans(100, 16, 16)


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        ({"chunk": 0, "overlap": 2}, ("chunk", "--chunk", "got 0")),
        ({"chunk": 5, "overlap": -1}, ("overlap", "--overlap", "got -1")),
        ({"chunk": 5, "overlap": 2, "tile": -8}, ("tile", "--tile", "got -8")),
        ({"chunk": 5, "overlap": 2, "tile_overlap": -1}, ("tile overlap", "--tile-overlap")),
        ({"chunk": 5, "overlap": 2, "tile": 16, "tile_overlap": 16}, ("--tile-overlap", "16")),
    ],
)
def test_check_chunking_names_the_setting(settings, names):
    with pytest.raises(ValueError) as err:
        check_chunking(**settings)
    for name in names:
        assert name in str(err.value)


def test_tile_settings_are_refused_whatever_the_frame_size():
    # A 16-pixel tile with a 16-pixel overlap is wrong even for frames smaller than the tile
    # (which are not tiled at all): the settings fail on the first video, not the first large one.
    with pytest.raises(ValueError, match="tile overlap"):
        tile_spans(10, 16, 16)
    with pytest.raises(ValueError, match="tile"):
        tile_spans(10, -1, 0)
    check_chunking(1, 0, tile=0, tile_overlap=16)  # no tiles: any non-negative overlap
    check_chunking(1, 0, tile=17, tile_overlap=16)


@pytest.mark.parametrize(
    ("size", "tile", "overlap"), [(40, 24, 8), (89, 24, 8), (17, 5, 2), (9, 8, 0)]
)
def test_tiles_cover_the_frame_with_overlap(size, tile, overlap):
    spans = tile_spans(size, tile, overlap)
    assert spans[0][0] == 0
    assert spans[-1][1] == size
    assert all(stop - start == tile for start, stop in spans)
    for (_, stop), (start, _) in itertools.pairwise(spans):
        assert stop - start >= overlap


def test_no_tiling_for_small_frames_or_tile_zero():
    assert tile_spans(30, 0, 16) == [(0, 30)]
    assert tile_spans(30, 30, 16) == [(0, 30)]
    assert tile_spans(30, 256, 16) == [(0, 30)]


class LocalVideoNet(nn.Module):
    """x4 per-frame convs, receptive field 3 input pixels each side (no temporal mixing)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 48, 3, padding=1),
            nn.PixelShuffle(4),
        )

    def forward(self, lqs: torch.Tensor) -> torch.Tensor:
        return self.body(lqs.flatten(0, 1)).unflatten(0, lqs.shape[:2])


@pytest.mark.parametrize(("tile", "overlap"), [(24, 12), (16, 12), (13, 12), (30, 16)])
def test_tiles_blend_exactly_for_a_net_that_sees_less_than_the_dropped_margin(tile, overlap):
    # A quarter of the overlap (3+ pixels) next to each inner tile border is dropped, so a net
    # with a 3-pixel receptive field gives exactly the untiled result, with any tile layout
    # (13/12 makes many tiles overlap at once).
    net = LocalVideoNet()
    lqs = torch.rand(1, 3, 3, 40, 44)
    with torch.no_grad():
        whole = net(lqs)
        tiled = run_tiled(net, lqs, tile, overlap)
    assert tiled.shape == whole.shape
    torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=0)


def test_tiled_output_keeps_only_the_requested_frames():
    net = LocalVideoNet()
    lqs = torch.rand(1, 5, 3, 20, 20)
    with torch.no_grad():
        whole = net(lqs)
        tiled = run_tiled(net, lqs, 16, 12, keep=slice(1, 3))
        untiled = run_tiled(net, lqs, 0, 8, keep=slice(1, 3))
    assert tiled.shape == untiled.shape == (1, 2, 3, 80, 80)
    torch.testing.assert_close(untiled, whole[:, 1:3])
    torch.testing.assert_close(tiled, whole[:, 1:3], atol=1e-5, rtol=0)
