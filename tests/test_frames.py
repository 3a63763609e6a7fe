"""Frame naming shared by layouts, stores and video I/O: which files, in which order."""

from vsr.frames import list_frames, natural_key


def test_natural_order():
    names = ["frame10.png", "Frame2.png", "frame2b.png", "a9", "a09b", "a10", "b1", "a09"]
    assert sorted(names, key=natural_key) == [
        "a09",
        "a9",
        "a09b",
        "a10",
        "b1",
        "Frame2.png",
        "frame2b.png",
        "frame10.png",
    ]


def test_list_frames_keeps_image_files_only(tmp_path):
    for name in ["00000010.png", "00000002.jpg", ".hidden.png", "notes.txt", "00000001.PNG"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in list_frames(tmp_path)] == [
        "00000001.PNG",
        "00000002.jpg",
        "00000010.png",
    ]
    assert list_frames(tmp_path / "missing") == ()


def test_decode_names_the_frame_and_round_trips_png(tmp_path):
    import numpy as np
    import pytest

    from vsr.frames import decode_image, encode_png

    frame = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    data = encode_png(frame)
    assert np.array_equal(decode_image(data, "a key"), frame)
    (tmp_path / "f.png").write_bytes(data)
    decoded = decode_image(tmp_path / "f.png", "f.png")
    assert np.array_equal(decoded, frame) and decoded.flags.writeable
    with pytest.raises(OSError, match=r"cannot decode frame db\[000/00000001\]: "):
        decode_image(b"\x89PNG\r\n\x1a\n truncated", "db[000/00000001]")
