"""cascade.video_io: mp4/gif/PNG-folder writing, PyAV reading and probing, pre-compute writability checks."""

import os
import stat
import struct

import numpy as np
import pytest
from PIL import Image

import cascade.video_io as vio
from cascade.errors import CascadeError
from cascade.video_io import check_writable, probe_video, read_video, write_video


def gradient_clip(f=16, h=64, w=64):
    """A diagonal colour gradient that slides 8 px per frame, plus a bright square moving right."""
    y, x = np.mgrid[0:h, 0:w]
    clip = np.zeros((f, h, w, 3), np.uint8)  # (F, H, W, 3)
    for i in range(f):
        clip[i, ..., 0] = (x * 3 + i * 8) % 256
        clip[i, ..., 1] = (y * 3) % 256
        clip[i, ..., 2] = 128
        clip[i, h // 4: h // 4 + 8, 2 * i: 2 * i + 8] = 255
    return clip


def mae(a, b):
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def leftovers(d):
    return sorted(p for p in os.listdir(d) if p.startswith("."))


def test_mp4_round_trip(tmp_path):
    clip = gradient_clip()
    out = write_video(tmp_path / "clip.mp4", clip, 8.0)
    assert out == tmp_path / "clip.mp4" and leftovers(tmp_path) == []
    info = probe_video(out)
    assert (info["codec"], info["pix_fmt"], info["width"], info["height"]) == ("h264", "yuv420p", 64, 64)
    assert info["frames"] == 16 and info["fps"] == 8.0 and abs(info["duration"] - 2.0) < 0.15
    assert info["faststart"] is True
    assert stat.S_IMODE(out.stat().st_mode) & 0o044  # readable by others, not mkstemp's 0600
    back, fps = read_video(out)
    assert back.shape == clip.shape and back.dtype == np.uint8 and fps == 8.0
    assert mae(back, clip) < 6
    # frames come back in order: each is closer to its own source than to a neighbour 3 frames away
    for i in range(16):
        assert mae(back[i], clip[i]) < mae(back[i], clip[(i + 3) % 16])
    first5, _ = read_video(out, max_frames=5)
    assert first5.shape == (5, 64, 64, 3) and np.array_equal(first5, back[:5])


def test_faststart_box_walker(tmp_path):
    def box(kind, payload=b""):
        return struct.pack(">I4s", 8 + len(payload), kind) + payload

    late = tmp_path / "late.mp4"
    late.write_bytes(box(b"ftyp", b"isom") + box(b"mdat", b"\0" * 32) + box(b"moov"))
    assert vio._moov_before_mdat(late) is False
    early = tmp_path / "early.mp4"  # a 64-bit "largesize" free box first, then moov
    early.write_bytes(box(b"ftyp", b"isom") + struct.pack(">I4sQ", 1, b"free", 20) + b"\0" * 4 + box(b"moov"))
    assert vio._moov_before_mdat(early) is True
    broken = tmp_path / "broken.mp4"  # a box claiming 3 bytes must not loop forever
    broken.write_bytes(struct.pack(">I4s", 3, b"ftyp") + box(b"moov"))
    assert vio._moov_before_mdat(broken) is False


def test_odd_size_is_padded_to_even(tmp_path):
    clip = gradient_clip(8, 31, 33)  # H=31, W=33
    info = probe_video(write_video(tmp_path / "odd.mp4", clip, 8.0))
    assert (info["width"], info["height"]) == (34, 32)
    back, _ = read_video(tmp_path / "odd.mp4")
    assert back.shape == (8, 32, 34, 3)
    assert mae(back[:, :31, :33], clip) < 6
    # the padding repeats the edge, so it looks like the last real row/column, not black
    assert mae(back[:, 31, :33], clip[:, 30]) < 12 and mae(back[:, :31, 33], clip[:, :, 32]) < 12


@pytest.mark.parametrize("fps,exact", [(7.5, 7.5), (30000 / 1001, 30000 / 1001)])
def test_non_integer_fps_is_kept(tmp_path, fps, exact):
    out = write_video(tmp_path / "f.mp4", gradient_clip(6, 16, 16), fps)
    info = probe_video(out)
    assert info["fps"] == pytest.approx(exact, abs=1e-9) and info["frames"] == 6
    assert info["duration"] == pytest.approx(6 / exact, abs=0.05)
    assert read_video(out)[1] == pytest.approx(exact, abs=1e-9)


def test_gif_round_trip(tmp_path):
    clip = gradient_clip(10, 32, 32)
    out = write_video(tmp_path / "a.gif", clip, 7.5)
    with Image.open(out) as im:
        assert im.n_frames == 10 and im.info["loop"] == 0
        delays = []
        for i in range(im.n_frames):
            im.seek(i)
            delays.append(im.info["duration"])
    assert set(delays) <= {130, 140} and sum(delays) == 1330  # 10 / 7.5 s = 1.333 s in 10 ms steps
    back, fps = read_video(out)
    assert back.shape == clip.shape and fps == pytest.approx(7.5, abs=0.05)
    assert mae(back, clip) < 12  # 256-colour palette per frame
    assert probe_video(out)["frames"] == 10


def test_gif_delays_track_fps():
    delays = vio._gif_delays_cs(8, 8.0)  # 12.5 cs per frame on average
    assert set(delays) == {12, 13} and sum(delays) == 100
    assert sum(vio._gif_delays_cs(30, 30.0)) == 100
    assert vio._gif_delays_cs(3, 200.0) == [2, 2, 2]  # browsers slow anything under 2 cs to 10 cs


def test_frames_directory(tmp_path):
    clip = gradient_clip(5, 12, 10)
    out = write_video(tmp_path / "frames", clip, 8.0)
    assert sorted(os.listdir(out)) == [f"frame_{i:04d}.png" for i in range(5)]
    assert np.array_equal(np.asarray(Image.open(out / "frame_0003.png")), clip[3])  # PNG is lossless
    # an existing directory is a frames directory even with a dotted name; old frames are replaced
    (tmp_path / "run.v2").mkdir()
    write_video(tmp_path / "run.v2", clip[:2], 8.0)
    write_video(out, clip[:2], 8.0)
    assert sorted(os.listdir(out)) == ["frame_0000.png", "frame_0001.png"]
    assert sorted(os.listdir(tmp_path / "run.v2")) == ["frame_0000.png", "frame_0001.png"]
    assert leftovers(tmp_path) == []
    # a directory holding other files is never wiped
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(CascadeError, match="already holds other files"):
        write_video(tmp_path / "mine", clip, 8.0)
    assert os.listdir(tmp_path / "mine") == ["notes.txt"]


def test_unsupported_extension_and_bad_input(tmp_path):
    with pytest.raises(CascadeError) as e:
        write_video(tmp_path / "a.xyz", gradient_clip(2, 8, 8), 8.0)
    assert str(e.value) == "unsupported output extension '.xyz'; use .mp4, .gif or a directory"
    with pytest.raises(CascadeError, match="uint8"):
        write_video(tmp_path / "a.mp4", gradient_clip(2, 8, 8).astype(np.float32), 8.0)
    with pytest.raises(CascadeError, match=r"\(F, H, W, 3\)"):
        write_video(tmp_path / "a.mp4", np.zeros((2, 8, 8), np.uint8), 8.0)
    with pytest.raises(CascadeError, match="fps"):
        write_video(tmp_path / "a.mp4", gradient_clip(2, 8, 8), 0)
    with pytest.raises(CascadeError, match="crf"):
        write_video(tmp_path / "a.mp4", gradient_clip(2, 8, 8), 8.0, crf=-1)
    assert os.listdir(tmp_path) == []


def test_check_writable(tmp_path):
    check_writable(tmp_path / "new" / "deeper" / "x.mp4")  # creatable parents are fine
    check_writable(tmp_path / "frames_out")
    assert os.listdir(tmp_path) == []  # and nothing is left behind
    (tmp_path / "file").write_text("x")
    with pytest.raises(CascadeError, match="is a file, not a directory"):
        check_writable(tmp_path / "file" / "sub" / "x.mp4")
    (tmp_path / "d.mp4").mkdir()
    with pytest.raises(CascadeError, match="existing directory"):
        check_writable(tmp_path / "d.mp4")
    with pytest.raises(CascadeError, match="unsupported output extension '.webm'"):
        check_writable(tmp_path / "x.webm")
    with pytest.raises(CascadeError, match="existing file"):
        check_writable(tmp_path / "file")  # no suffix asks for a frames folder, but it is a file


def test_check_writable_agrees_with_a_real_write(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        try:  # as root chmod does not stop writes; as a user it does: the check must say what really happens
            (locked / "probe").write_text("x")
            (locked / "probe").unlink()
            writable = True
        except PermissionError:
            writable = False
        if writable:
            check_writable(locked / "x.mp4")
        else:
            with pytest.raises(CascadeError, match="not writable"):
                check_writable(locked / "x.mp4")
        assert os.listdir(locked) == []
    finally:
        locked.chmod(0o700)


def test_check_writable_on_a_filesystem_that_refuses(tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr("cascade.io_utils.tempfile.mkstemp", refuse)
    with pytest.raises(CascadeError, match="not writable .*Read-only file system"):
        check_writable(tmp_path / "x.gif")


def test_read_errors(tmp_path):
    with pytest.raises(CascadeError, match="does not exist"):
        read_video(tmp_path / "nope.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(CascadeError, match="empty"):
        read_video(tmp_path / "empty.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all " * 20)
    with pytest.raises(CascadeError, match="corrupt"):
        read_video(tmp_path / "junk.mp4")
    good = write_video(tmp_path / "good.mp4", gradient_clip(), 8.0).read_bytes()
    for frac in (0.1, 0.5, 0.9):
        (tmp_path / "cut.mp4").write_bytes(good[: int(len(good) * frac)])
        with pytest.raises(CascadeError, match="truncated"):
            read_video(tmp_path / "cut.mp4")
    with pytest.raises(CascadeError):
        probe_video(tmp_path / "junk.mp4")


def test_failed_write_is_atomic_and_shows_ffmpeg_stderr(tmp_path, monkeypatch):
    tools = tmp_path / "tools"
    tools.mkdir()
    fake = tools / "ffmpeg"
    fake.write_text("#!/bin/sh\ncat >/dev/null\necho 'libx264: encoder exploded' >&2\nexit 1\n")
    fake.chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.mp4").write_bytes(b"old video")
    monkeypatch.setattr(vio, "ffmpeg_exe", lambda: str(fake))
    with pytest.raises(CascadeError, match="encoder exploded"):
        write_video(out / "keep.mp4", gradient_clip(2, 8, 8), 8.0)
    with pytest.raises(CascadeError, match="encoder exploded"):
        write_video(out / "new.mp4", gradient_clip(2, 8, 8), 8.0)
    assert os.listdir(out) == ["keep.mp4"] and (out / "keep.mp4").read_bytes() == b"old video"
