import json
import os
import re

import pytest
from typer.testing import CliRunner

from cascade.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _commands(command, path=()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, path + (name,))


def test_help_on_every_command():
    """--help works everywhere and shows every option's help text whole: rich reads "[...]" as markup, so a
    help string like "[default: shipped weights/]" must not vanish into "Cascade weights directory ."."""
    import typer.main

    commands = list(_commands(typer.main.get_command(app)))
    assert {p for p, _ in commands} >= {(), ("render",), ("info",), ("train",), ("export",), ("assemble",),
                                          ("eval",), ("data",), ("data", "shapes")}
    for path, command in commands:
        r = run(*path, "--help")
        assert r.exit_code == 0, (path, r.output)
        assert "Usage" in r.output
        shown = " ".join(re.sub(r"[│╭╮╰╯─]", " ", r.output).split())
        for param in command.params:
            text = " ".join((getattr(param, "help", None) or "").split())
            assert text in shown, (path, param.name, text)


def test_version():
    from cascade import __version__

    r = run("--version")
    assert r.exit_code == 0 and r.output.strip() == f"cascade {__version__}"


def test_info_prints_graph(fake_weights):
    r = run("info", fake_weights)
    assert r.exit_code == 0, r.output
    for stage in ("text", "base", "tsr", "ssr", "temporal_blend", "spatial_bicubic"):
        assert stage in r.output
    assert "output: ssr" in r.output


def test_render_one_prompt_writes_mp4(tmp_path, fake_weights):
    from cascade.video_io import probe_video

    out = tmp_path / "clip.mp4"
    r = run("render", "a red circle moving left", "-o", out, "--weights", fake_weights, "--seed", 3, "-v", "--device", "cpu")
    assert r.exit_code == 0, r.output
    info = probe_video(out)
    assert (info["codec"], info["pix_fmt"], info["frames"], info["fps"]) == ("h264", "yuv420p", 8, 8.0)
    assert (info["width"], info["height"]) == (16, 16) and info["faststart"]
    assert "timings" in r.output and "total" in r.output


def test_render_several_prompts_to_directory_and_gif(tmp_path, fake_weights):
    out = tmp_path / "renders"
    r = run("render", "a red circle", "a blue square!", "-o", out, "--weights", fake_weights, "--format", "gif", "-q")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["a_blue_square.gif", "a_red_circle.gif"]
    # a file name with several prompts names the folder and the container (the default out.mp4 must not become
    # a folder called out.mp4, which then stood in the way of the next one-prompt render)
    r = run("render", "a red circle", "a blue square", "-o", tmp_path / "clips.gif", "--weights", fake_weights, "-q")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == ["a_blue_square.gif", "a_red_circle.gif"]
    assert not (tmp_path / "clips.gif").exists()
    r = run("render", "a red circle", "-o", f"{tmp_path}/one/", "--weights", fake_weights, "-q")  # a trailing /
    assert r.exit_code == 0, r.output
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["a_red_circle.mp4"]
    r = run("render", "a red circle", "-o", tmp_path / "x.mp4", "--format", "gif", "--weights", fake_weights)
    assert r.exit_code == 2 and "--format gif disagrees with -o" in r.output  # wrote an mp4 before
    assert not (tmp_path / "x.mp4").exists()


def test_same_seed_same_file(tmp_path, fake_weights):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    for p in (a, b):
        assert run("render", "a red circle", "-o", p, "--weights", fake_weights, "--seed", 5, "-q").exit_code == 0
    from cascade.video_io import read_video
    fa, fb = read_video(a)[0], read_video(b)[0]
    assert (fa == fb).all()


@pytest.mark.parametrize("args, message", [
    (["   "], "prompt is empty"),
    (["a red circle", "--device", "tpu9"], "unknown device"),
    (["a red circle", "--steps", "-3"], "steps must be a whole number from 1 to 1000, got -3"),
    (["a red circle", "--steps", "0"], "steps must be a whole number from 1 to 1000, got 0"),
    (["a red circle", "--guidance", "-1"], "guidance must be a number from 0 to 100, got -1"),
    (["a red circle", "--guidance", "nan"], "guidance must be a number from 0 to 100, got nan"),
    (["a red circle", "--guidance", "inf"], "guidance must be a number from 0 to 100, got inf"),
    (["a red circle", "--dtype", "int4"], "unknown dtype"),
    (["a red circle", "-o", "{tmp}/clip.avi"], "unsupported output extension"),
    (["a red circle", "-o", "{tmp}"], "directory"),
    (["a red circle", "-o", "{tmp}/afile/x.mp4"], "{tmp}/afile"),
])
def test_bad_input_one_sentence_exit_2_nothing_written(tmp_path, fake_weights, args, message):
    (tmp_path / "afile").write_text("not a dir")
    before = sorted(os.listdir(tmp_path))
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "out.mp4")]
    r = run("render", *args, "--weights", fake_weights)
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert message.replace("{tmp}", str(tmp_path)) in text
    assert text.count("error:") == 1
    assert sorted(os.listdir(tmp_path)) == before


def test_bad_weights(tmp_path, fake_weights):
    out = tmp_path / "o.mp4"
    r = run("render", "a red circle", "-o", out, "--weights", tmp_path / "missing")
    assert r.exit_code == 2 and "does not exist" in r.output
    weights_file = fake_weights / "base" / "model.safetensors"
    good = weights_file.read_bytes()
    weights_file.write_bytes(b"\x80\x04junk")
    r = run("render", "a red circle", "-o", out, "--weights", fake_weights)
    assert r.exit_code == 2 and "sha256" in " ".join(r.output.split())
    weights_file.write_bytes(good)
    manifest = json.loads((fake_weights / "cascade.json").read_text())
    manifest["graph"]["edges"][1]["from"] = "text"  # a text embedding into temporal_sr's video input
    (fake_weights / "cascade.json").write_text(json.dumps(manifest))
    r = run("render", "a red circle", "-o", out, "--weights", fake_weights)
    assert r.exit_code == 2 and "tsr expects a video from text" in " ".join(r.output.split())
    assert not out.exists()


def test_assemble_names_a_preset_that_needs_training(tmp_path):
    r = run("assemble", "--stage", "spatial_sr=preset:default", "--out", tmp_path / "w")
    out = " ".join(r.output.split())
    assert r.exit_code == 2 and "spatial_sr preset 'default' has weights to train" in out  # printed the whole config
    assert "NetworkConfig" not in out and not (tmp_path / "w").exists()
