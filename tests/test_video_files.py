import os

import numpy as np
import pytest

from cascade.errors import CascadeError
from cascade.video_io import check_writable, probe_video, read_video, write_video


def moving_clip(f=16, h=32, w=32):
    x = np.zeros((f, h, w, 3), np.uint8)
    x[..., 2] = np.linspace(0, 120, w, dtype=np.uint8)[None, None, :]  # a gradient background
    for i in range(f):
        x[i, h // 4: h // 2, i: i + 8, 0] = 230  # a red block moving right
    return x


def test_mp4_round_trip_and_container_fields(tmp_path):
    clip = moving_clip()
    p = write_video(tmp_path / "a.mp4", clip, 8.0)
    info = probe_video(p)
    assert (info["codec"], info["pix_fmt"], info["frames"], info["fps"]) == ("h264", "yuv420p", 16, 8.0)
    assert (info["width"], info["height"]) == (32, 32) and info["faststart"] is True
    assert abs(info["duration"] - 2.0) < 0.2
    back, fps = read_video(p)
    assert back.shape == clip.shape and fps == 8.0
    assert np.abs(back.astype(int) - clip).mean() < 6  # within H.264 tolerance
    # the moving object is where it should be in the last frame
    assert back[-1, 12, 18, 0] > 150 and back[0, 12, 18, 0] < 80


def test_odd_sizes_are_padded_to_even_and_fractional_fps(tmp_path):
    clip = moving_clip(8, 31, 33)
    p = write_video(tmp_path / "odd.mp4", clip, 7.5)
    info = probe_video(p)
    assert (info["width"], info["height"]) == (34, 32) and info["fps"] == 7.5
    back, _ = read_video(p)
    assert np.abs(back[:, :31, :33].astype(int) - clip).mean() < 6


def test_gif_and_png_directory(tmp_path):
    clip = moving_clip(6)
    g = write_video(tmp_path / "a.gif", clip, 5.0)
    back, fps = read_video(g)
    assert back.shape == clip.shape and abs(fps - 5.0) < 0.5
    d = write_video(tmp_path / "frames", clip, 5.0)
    assert sorted(os.listdir(d)) == [f"frame_{i:04d}.png" for i in range(6)]


def test_unsupported_extension_and_bad_frames(tmp_path):
    with pytest.raises(CascadeError, match="unsupported output extension '.avi'"):
        write_video(tmp_path / "a.avi", moving_clip(2), 8)
    with pytest.raises(CascadeError, match="uint8"):
        write_video(tmp_path / "a.mp4", moving_clip(2).astype(np.float32), 8)
    assert os.listdir(tmp_path) == []


def test_check_writable(tmp_path):
    check_writable(tmp_path / "new" / "dir" / "x.mp4")  # creatable parents are fine
    assert not (tmp_path / "new").exists()  # and nothing is left behind
    (tmp_path / "file").write_text("x")
    with pytest.raises(CascadeError, match="is a file, not a directory"):
        check_writable(tmp_path / "file" / "x.mp4")
    (tmp_path / "d.mp4").mkdir()
    with pytest.raises(CascadeError, match="existing directory"):
        check_writable(tmp_path / "d.mp4")
    with pytest.raises(CascadeError, match="unsupported output extension"):
        check_writable(tmp_path / "x.webm")


def test_read_errors(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(CascadeError, match="empty"):
        read_video(tmp_path / "empty.mp4")
    good = write_video(tmp_path / "g.mp4", moving_clip(), 8).read_bytes()
    (tmp_path / "bad.mp4").write_bytes(good[: len(good) // 3])
    with pytest.raises(CascadeError, match="corrupt|no decodable"):
        read_video(tmp_path / "bad.mp4")
    with pytest.raises(CascadeError, match="does not exist"):
        read_video(tmp_path / "nope.mp4")


def test_failed_write_leaves_no_temp_files(tmp_path, monkeypatch):
    import cascade.video_io as vio

    monkeypatch.setattr(vio, "ffmpeg_exe", lambda: "/bin/false")
    with pytest.raises(Exception):
        write_video(tmp_path / "a.mp4", moving_clip(2), 8)
    assert os.listdir(tmp_path) == []
