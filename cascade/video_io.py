"""Video files: mp4 (H.264, yuv420p, +faststart) and gif writing through imageio-ffmpeg's bundled ffmpeg,
PNG frame folders, and reading/probing through PyAV. Every write goes to a temp path, then a rename."""

from __future__ import annotations

import logging
import math
import os
import re
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np

from cascade.errors import CascadeError
from cascade.io_utils import atomic_dir, atomic_path, check_writable_path

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".gif")
FRAME_NAME = re.compile(r"frame_\d{4,}\.png")
GIF_MIN_DELAY_CS = 2  # browsers play GIF delays below 2 cs (20 ms) at 100 ms, so never write less


def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped inside imageio-ffmpeg (no system ffmpeg needed)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _unsupported(path: Path) -> CascadeError:
    return CascadeError(f"unsupported output extension '{path.suffix}'; use .mp4, .gif or a directory")


def _is_frames_dir(path: Path) -> bool:
    """A path with no suffix, or an existing directory, means a folder of PNG frames."""
    return path.suffix == "" or path.is_dir()


def _check_frames_dir_target(path: Path) -> None:
    """Refuse to replace a directory that holds anything but frame_NNNN.png files written by cascade."""
    if path.is_dir():
        foreign = [p.name for p in path.iterdir() if not FRAME_NAME.fullmatch(p.name)]
        if foreign:
            raise CascadeError(f"{path} already holds other files (e.g. {foreign[0]}); "
                               "give a new or empty directory for the frames")
    elif path.exists():
        raise CascadeError(f"{path} is an existing file; give a directory name or a .mp4/.gif file name")


def refuse_special_file(path: Path) -> None:
    """One sentence for an output path that exists and is neither a file nor a folder (/dev/full, a FIFO)."""
    if path.exists() and not (path.is_file() or path.is_dir()):
        raise CascadeError(f"{path} is a device or special file, not a regular file; give a file name such as out.mp4")


def check_writable(path: str | Path) -> None:
    """Raise one sentence if `path` cannot be written as a video, before any compute is spent; leaves nothing."""
    path = Path(path)
    refuse_special_file(path)
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES and path.is_dir():
        raise CascadeError(f"{path} is an existing directory; give a file name such as {path / 'out.mp4'}")
    if suffix and suffix not in VIDEO_SUFFIXES and not path.is_dir():
        raise _unsupported(path)
    if _is_frames_dir(path):
        _check_frames_dir_target(path)
    check_writable_path(path)


def write_video(path: str | Path, frames: np.ndarray, fps: float, *, crf: int = 18) -> Path:
    """Write uint8 frames (F, H, W, 3) as .mp4 (H.264), .gif, or (no suffix / existing dir) PNG frames."""
    path = Path(path)
    frames = _check_frames(frames)  # (F, H, W, 3) uint8
    if not (fps > 0 and math.isfinite(fps)):
        raise CascadeError(f"fps must be positive, got {fps}")
    suffix = path.suffix.lower()
    if _is_frames_dir(path):
        _check_frames_dir_target(path)
        _write_png_dir(path, frames)
    elif suffix == ".mp4":
        _write_mp4(path, frames, fps, crf)
    elif suffix == ".gif":
        _write_gif(path, frames, fps)
    else:
        raise _unsupported(path)
    f, h, w, _ = frames.shape
    log.debug("wrote %s (%d frames, %dx%d, %g fps)", path, f, w, h, fps)
    return path


def _check_frames(frames) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or 0 in frames.shape:
        raise CascadeError(f"frames must be a non-empty uint8 array (F, H, W, 3), got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise CascadeError(f"frames must be uint8 (F, H, W, 3), got {frames.dtype}; scale to 0..255 first")
    return np.ascontiguousarray(frames)


def _pad_even(frames: np.ndarray) -> np.ndarray:
    """yuv420p subsamples chroma 2x2, so H and W must be even: repeat the last row/column where one is odd."""
    _, h, w, _ = frames.shape  # (F, H, W, 3)
    if h % 2 or w % 2:
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return frames


def _public_mode(tmp: Path) -> None:
    """mkstemp/mkdtemp make 0600/0700 paths; give the output the usual umask-based mode (0644/0755) before the rename."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, (0o777 if tmp.is_dir() else 0o666) & ~umask)


def _rate(fps: float) -> Fraction:
    """fps as an exact rational: 7.5 -> 15/2, 29.97002997 -> 30000/1001."""
    return Fraction(fps).limit_denominator(1001)


def _write_mp4(path: Path, frames: np.ndarray, fps: float, crf: int) -> None:
    import ffmpeg

    if not 0 <= crf <= 51:
        raise CascadeError(f"crf must be between 0 (lossless) and 51 for H.264, got {crf}; 18 is visually lossless")
    frames = _pad_even(frames)  # (F, H', W', 3), H' and W' even
    _, h, w, _ = frames.shape
    rate = str(_rate(fps))
    with atomic_path(path) as tmp:
        stream = (
            ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{w}x{h}", framerate=rate)
            .output(str(tmp), format="mp4", vcodec="libx264", pix_fmt="yuv420p", crf=crf, preset="medium",
                    r=rate, movflags="+faststart", **{"x264-params": "log-level=error"})
            .overwrite_output()
            .global_args("-hide_banner", "-loglevel", "error", "-nostdin")
        )
        try:
            stream.run(cmd=ffmpeg_exe(), input=frames.tobytes(), capture_stdout=True, capture_stderr=True)
        except ffmpeg.Error as e:
            tail = (e.stderr or b"").decode(errors="replace").strip().splitlines()[-3:]
            raise CascadeError(f"ffmpeg could not encode {path}: {' / '.join(tail) or 'it exited with an error'}") from None
        except OSError as e:
            raise CascadeError(f"could not run ffmpeg to encode {path} ({e}); reinstall imageio-ffmpeg") from None
        _public_mode(tmp)


def _gif_delays_cs(n: int, fps: float) -> list[int]:
    """Per-frame GIF delays (centiseconds) whose running sum tracks i/fps, so total length stays exact."""
    ends = [round((i + 1) * 100 / fps) for i in range(n)]
    delays = [b - a for a, b in zip([0] + ends[:-1], ends)]
    return [max(GIF_MIN_DELAY_CS, d) for d in delays]


def _write_gif(path: Path, frames: np.ndarray, fps: float) -> None:
    from PIL import Image

    if fps > 100 / GIF_MIN_DELAY_CS:
        log.warning("GIF cannot play faster than %d fps; %s will play slower than %g fps", 100 // GIF_MIN_DELAY_CS, path, fps)
    images = [Image.fromarray(fr) for fr in frames]  # each (H, W, 3)
    durations_ms = [10 * d for d in _gif_delays_cs(len(images), fps)]
    with atomic_path(path) as tmp:  # Pillow merges identical consecutive frames, adding their delays
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=durations_ms,
                       loop=0, optimize=False, disposal=1)
        _public_mode(tmp)


def _write_png_dir(path: Path, frames: np.ndarray) -> None:
    from PIL import Image

    with atomic_dir(path, ours=lambda name: bool(FRAME_NAME.fullmatch(name))) as tmp:
        for i, fr in enumerate(frames):  # fr: (H, W, 3)
            Image.fromarray(fr).save(tmp / f"frame_{i:04d}.png")
        _public_mode(tmp)


def read_video(path: str | Path, *, max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """Decode a video file with PyAV -> (uint8 frames (F, H, W, 3) RGB, fps)."""
    import av

    path = Path(path)
    if not path.exists():
        raise CascadeError(f"{path} does not exist")
    if not path.is_file():
        raise CascadeError(f"{path} is not a file; give a .mp4 or .gif video")
    if path.stat().st_size == 0:
        raise CascadeError(f"{path} is empty (0 bytes); re-render or re-download it")
    frames: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise CascadeError(f"{path} has no video stream; it is truncated or not a video")
            stream = container.streams.video[0]
            fps = _stream_fps(stream)
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))  # (H, W, 3)
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except CascadeError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise CascadeError(f"{path} is corrupt or truncated and could not be decoded ({type(e).__name__}); "
                           "re-render or re-download it") from None
    if not frames:
        raise CascadeError(f"{path} holds no decodable frames; it is corrupt or truncated")
    return np.stack(frames), fps  # (F, H, W, 3)


def _stream_fps(stream) -> float:
    rates = [stream.average_rate, stream.guessed_rate, stream.base_rate]
    if stream.codec_context.name == "gif":  # GIF delays vary by a centisecond; the guessed rate averages them out
        rates.insert(0, rates.pop(1))
    for rate in rates:
        if rate:
            return float(rate)
    return 0.0


def probe_video(path: str | Path) -> dict:
    """Container facts, as ffprobe would report them: codec, pixel format, size, frames, fps, faststart."""
    import av

    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise CascadeError(f"{path} is missing or empty; re-render it")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise CascadeError(f"{path} has no video stream; it is truncated or not a video")
            stream = container.streams.video[0]
            frames = stream.frames or sum(1 for pkt in container.demux(stream) if pkt.size)
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
    except CascadeError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise CascadeError(f"{path} is corrupt or not a video and could not be probed ({type(e).__name__})") from None
    info["faststart"] = _moov_before_mdat(path) if path.suffix.lower() in (".mp4", ".mov", ".m4v") else None
    return info


def _moov_before_mdat(path: Path) -> bool:
    """Walk the top-level ISO-BMFF boxes: +faststart puts 'moov' before 'mdat' so browsers can start playing."""
    with open(path, "rb") as f:
        while header := f.read(8):
            if len(header) < 8:
                return False
            size, kind = struct.unpack(">I4s", header)
            head = 8
            if size == 1:  # 64-bit "largesize" follows the type
                large = f.read(8)
                if len(large) < 8:
                    return False
                size, head = struct.unpack(">Q", large)[0], 16
            if kind == b"moov":
                return True
            if kind == b"mdat" or size < head:  # size 0 means "to end of file"; smaller is a broken box
                return False
            f.seek(size - head, os.SEEK_CUR)
    return False
