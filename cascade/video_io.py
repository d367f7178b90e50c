"""Video files: mp4 (H.264, yuv420p, +faststart) and gif writing through imageio-ffmpeg's bundled ffmpeg,
PNG frame folders, and reading/probing through PyAV. Every write goes to a temp file, then a rename."""

from __future__ import annotations

import logging
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np

from cascade.errors import CascadeError
from cascade.io_utils import atomic_dir, atomic_path

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".gif")


def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped inside imageio-ffmpeg (no system ffmpeg needed)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def check_writable(path: str | Path) -> None:
    """Raise one sentence if `path` cannot be written as a video, before any compute is spent."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix and suffix not in VIDEO_SUFFIXES:
        raise CascadeError(f"unsupported output extension '{path.suffix}' for {path}; use .mp4, .gif or a directory")
    if suffix and path.is_dir():
        raise CascadeError(f"{path} is an existing directory; give a file name such as {path / 'out.mp4'}")
    parent = path.parent if suffix else path
    existing = parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise CascadeError(f"cannot write {path}: {existing} is a file, not a directory")
    import os
    import tempfile

    if not os.access(existing, os.W_OK | os.X_OK):
        raise CascadeError(f"cannot write {path}: {existing} is not writable")
    if parent.exists():
        try:
            fd, probe = tempfile.mkstemp(prefix=".cascade-write-check.", dir=parent)
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            raise CascadeError(f"cannot write {path}: {e.strerror or e}") from None


def write_video(path: str | Path, frames: np.ndarray, fps: float, *, crf: int = 18) -> Path:
    """Write uint8 frames (F, H, W, 3) as .mp4 (H.264), .gif, or (no suffix) a directory of PNG frames."""
    path = Path(path)
    frames = _check_frames(frames)
    if fps <= 0:
        raise CascadeError(f"fps must be positive, got {fps}")
    suffix = path.suffix.lower()
    if suffix == ".mp4":
        _write_mp4(path, frames, fps, crf)
    elif suffix == ".gif":
        _write_gif(path, frames, fps)
    elif suffix == "":
        _write_png_dir(path, frames)
    else:
        raise CascadeError(f"unsupported output extension '{path.suffix}'; use .mp4, .gif or a directory")
    return path


def _check_frames(frames) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1:
        raise CascadeError(f"frames must be uint8 (F, H, W, 3), got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise CascadeError(f"frames must be uint8, got {frames.dtype}")
    return np.ascontiguousarray(frames)


def _pad_even(frames: np.ndarray) -> np.ndarray:
    """yuv420p needs even sizes: repeat the last row/column where one is odd."""
    f, h, w, _ = frames.shape
    ph, pw = h % 2, w % 2
    if ph or pw:
        frames = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
    return frames


def _write_mp4(path: Path, frames: np.ndarray, fps: float, crf: int) -> None:
    import ffmpeg

    frames = _pad_even(frames)
    f, h, w, _ = frames.shape
    rate = Fraction(fps).limit_denominator(1001)
    with atomic_path(path) as tmp:
        stream = (
            ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{w}x{h}", framerate=str(rate))
            .output(str(tmp), format="mp4", vcodec="libx264", pix_fmt="yuv420p", crf=crf, preset="medium",
                    r=str(rate), movflags="+faststart", **{"x264-params": "log-level=error"})
            .overwrite_output()
            .global_args("-loglevel", "error", "-nostdin")
        )
        try:
            stream.run(cmd=ffmpeg_exe(), input=frames.tobytes(), capture_stdout=True, capture_stderr=True)
        except ffmpeg.Error as e:
            tail = (e.stderr or b"").decode(errors="replace").strip().splitlines()[-3:]
            raise CascadeError(f"ffmpeg could not encode {path}: {' '.join(tail) or 'unknown error'}") from None


def _write_gif(path: Path, frames: np.ndarray, fps: float) -> None:
    from PIL import Image

    images = [Image.fromarray(fr) for fr in frames]
    duration = max(10, int(round(1000 / fps / 10)) * 10)  # GIF delays are in 10 ms units
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0,
                       optimize=False, disposal=1)


def _write_png_dir(path: Path, frames: np.ndarray) -> None:
    from PIL import Image

    with atomic_dir(path) as tmp:
        for i, fr in enumerate(frames):
            Image.fromarray(fr).save(tmp / f"frame_{i:04d}.png")


def read_video(path: str | Path, *, max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """Decode a video file with PyAV -> (uint8 frames (F, H, W, 3), fps)."""
    import av

    path = Path(path)
    if not path.is_file():
        raise CascadeError(f"{path} does not exist")
    if path.stat().st_size == 0:
        raise CascadeError(f"{path} is empty (0 bytes)")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise CascadeError(f"{path} has no video stream")
            stream = container.streams.video[0]
            fps = _stream_fps(stream)
            frames = []
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except CascadeError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise CascadeError(f"{path} could not be decoded ({type(e).__name__}); it is corrupt or not a video") from None
    if not frames:
        raise CascadeError(f"{path} holds no decodable frames")
    return np.stack(frames), fps


def _stream_fps(stream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    return 0.0


def probe_video(path: str | Path) -> dict:
    """Container facts, as ffprobe would report them: codec, pixel format, size, frames, fps, faststart."""
    import av

    path = Path(path)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            frames = stream.frames or sum(1 for _ in container.demux(stream) if _.size)
            info = {
                "codec": stream.codec_context.name,
                "pix_fmt": stream.codec_context.pix_fmt,
                "width": stream.codec_context.width,
                "height": stream.codec_context.height,
                "frames": int(frames),
                "fps": _stream_fps(stream),
                "duration": float(container.duration / 1e6) if container.duration else None,
                "format": container.format.name,
            }
    except (av.error.FFmpegError, OSError, IndexError) as e:
        raise CascadeError(f"{path} could not be probed ({type(e).__name__}); it is corrupt or not a video") from None
    info["faststart"] = _moov_before_mdat(path) if path.suffix.lower() in (".mp4", ".mov", ".m4v") else None
    return info


def _moov_before_mdat(path: Path) -> bool:
    """Walk the top-level MP4 boxes: +faststart puts 'moov' before 'mdat' so browsers can start playing."""
    with open(path, "rb") as f:
        while True:
            header = f.read(8)
            if len(header) < 8:
                return False
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
                body = size - 16
            else:
                body = size - 8
            if kind == b"moov":
                return True
            if kind == b"mdat":
                return False
            if size == 0:
                return False
            f.seek(body, 1)
