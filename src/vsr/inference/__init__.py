"""Streamed, chunked and tiled upscaling of videos and frame folders, on `vsr.nn` only.

    from vsr.inference import upscale_video, upscale_frames

    upscale_video("in.mp4", "out.mp4", "basicvsr_plusplus_reds4.pth", chunk=50, overlap=10)
    for frame in upscale_frames(frames, model):  # uint8 (h, w, 3) in, uint8 out
        ...

`video_io` reads and writes frames (PyAV, image folders, partial outputs renamed when
complete), `chunking` cuts videos into overlapping temporal windows and spatial tiles and puts
the outputs back together, `upscale` runs the streaming loop.
"""

from vsr.inference.chunking import (
    Window,
    check_chunking,
    chunk_stream,
    plan_windows,
    run_tiled,
    tile_spans,
)
from vsr.inference.upscale import (
    UpscaleResult,
    select_device,
    to_uint8,
    upscale_frames,
    upscale_video,
)
from vsr.inference.video_io import (
    FolderReader,
    FolderWriter,
    VideoIOError,
    VideoReader,
    VideoWriter,
    check_fps,
    check_paths,
    check_writer_settings,
    open_reader,
    open_writer,
    partial_path,
)

__all__ = [
    "FolderReader",
    "FolderWriter",
    "UpscaleResult",
    "VideoIOError",
    "VideoReader",
    "VideoWriter",
    "Window",
    "check_chunking",
    "check_fps",
    "check_paths",
    "check_writer_settings",
    "chunk_stream",
    "open_reader",
    "open_writer",
    "partial_path",
    "plan_windows",
    "run_tiled",
    "select_device",
    "tile_spans",
    "to_uint8",
    "upscale_frames",
    "upscale_video",
]
