import json

import pytest
import torch
from safetensors.torch import save_file

from cascade.errors import CascadeError
from cascade.pipeline import CascadePipeline
from fake_stages import make_fake_pipeline


def test_run_produces_declared_specs_and_blend_bicubic_baselines():
    pipe = make_fake_pipeline()
    outs = pipe.run(["a red circle", "a blue square"], seed=1)
    base, tsr, ssr = outs["base"], outs["tsr"], outs["ssr"]
    assert tuple(base.tensor.shape) == (2, 3, 4, 8, 8)
    assert tuple(tsr.tensor.shape) == (2, 3, 8, 8, 8) and tsr.fps == 8
    assert tuple(ssr.tensor.shape) == (2, 3, 8, 16, 16)
    # blend keeps known frames at even indices and averages neighbours in between
    assert torch.allclose(tsr.tensor[:, :, ::2], base.tensor)
    assert torch.allclose(tsr.tensor[:, :, 1], (base.tensor[:, :, 0] + base.tensor[:, :, 1]) / 2, atol=1e-6)
    # bicubic downsampled back is close to its input
    down = torch.nn.functional.avg_pool3d(ssr.tensor, (1, 2, 2))
    assert (down - tsr.tensor).abs().mean() < 0.1
    assert set(pipe.last_timings) == {"text", "base", "tsr", "ssr"}


def test_same_seed_same_video_other_seed_differs():
    pipe = make_fake_pipeline()
    a = pipe("a red circle", seed=3).tensor
    b = pipe("a red circle", seed=3).tensor
    c = pipe("a red circle", seed=4).tensor
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_save_load_round_trip_identical_output(fake_weights):
    manifest = json.loads((fake_weights / "cascade.json").read_text())
    assert "base/model.safetensors" in manifest["files"] and manifest["format"] == "cascade/1"
    pipe = CascadePipeline.from_pretrained(fake_weights)
    ref = make_fake_pipeline()
    assert torch.equal(pipe("a red circle", seed=0).tensor, ref("a red circle", seed=0).tensor)
    assert not any(p.name.endswith(".tmp") for p in fake_weights.parent.iterdir())


def test_save_is_atomic_replacement(fake_weights):
    pipe = CascadePipeline.from_pretrained(fake_weights)
    pipe.save_pretrained(fake_weights)  # overwrite in place
    assert sorted(p.name for p in fake_weights.parent.iterdir()) == ["weights"]
    CascadePipeline.from_pretrained(fake_weights)


def test_missing_dir_manifest_and_weights(tmp_path, fake_weights):
    with pytest.raises(CascadeError, match="does not exist"):
        CascadePipeline.from_pretrained(tmp_path / "nope")
    (fake_weights / "base" / "model.safetensors").unlink()
    with pytest.raises(CascadeError, match=r"model.safetensors is missing; restore it \(git checkout weights/"):
        CascadePipeline.from_pretrained(fake_weights)
    (fake_weights / "cascade.json").unlink()
    with pytest.raises(CascadeError, match="cascade.json is missing"):
        CascadePipeline.from_pretrained(fake_weights)


def test_sha_mismatch_and_corrupt_file(fake_weights):
    f = fake_weights / "base" / "model.safetensors"
    save_file({"weight": torch.zeros(3, 8), "bias": torch.zeros(3)}, str(f))
    with pytest.raises(CascadeError, match="does not match the sha256"):
        CascadePipeline.from_pretrained(fake_weights)
    f.write_bytes(b"garbage")
    with pytest.raises(CascadeError, match="sha256"):
        CascadePipeline.from_pretrained(fake_weights)
    # with verification off, a corrupt file is still reported in one sentence
    with pytest.raises(CascadeError, match="not a readable safetensors"):
        CascadePipeline.from_pretrained(fake_weights, verify=False)


def test_pickle_refused(fake_weights):
    import pickle
    (fake_weights / "base" / "model.bin").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CascadeError, match="pickle"):
        CascadePipeline.from_pretrained(fake_weights)
    (fake_weights / "base" / "model.bin").unlink()
    # a pickle disguised under the safetensors name
    (fake_weights / "base" / "model.safetensors").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CascadeError, match="pickle"):
        CascadePipeline.from_pretrained(fake_weights, verify=False)


def test_mismatched_graph_on_disk(fake_weights):
    cfg = fake_weights / "tsr" / "config.json"
    data = json.loads(cfg.read_text())
    data["frames"] = 5
    cfg.write_text(json.dumps(data))
    with pytest.raises(CascadeError, match="sha256"):
        CascadePipeline.from_pretrained(fake_weights)
    with pytest.raises(CascadeError, match="tsr expects 5 frames at 4 fps from base, which makes 4 frames at 4 fps"):
        CascadePipeline.from_pretrained(fake_weights, verify=False)


def test_bad_config_field_named(fake_weights):
    cfg = fake_weights / "tsr" / "config.json"
    data = json.loads(cfg.read_text())
    data["factr"] = 3
    cfg.write_text(json.dumps(data))
    with pytest.raises(CascadeError, match="unknown field 'factr'"):
        CascadePipeline.from_pretrained(fake_weights, verify=False)


def test_bad_call_arguments():
    pipe = make_fake_pipeline()
    with pytest.raises(CascadeError, match="prompt is empty"):
        pipe("   ")
    with pytest.raises(CascadeError, match="prompt is empty"):
        pipe([])
    with pytest.raises(CascadeError, match="steps must be a whole number from 1 to 1000"):
        pipe("a", steps=-1)
    with pytest.raises(CascadeError, match="steps must be a whole number from 1 to 1000"):
        pipe("a", steps=2.5)
    with pytest.raises(CascadeError, match="guidance must be a number from 0 to 100"):
        pipe("a", guidance=-2.0)
    with pytest.raises(CascadeError, match="guidance must be a number from 0 to 100"):  # gave black frames
        pipe("a", guidance=float("nan"))
    with pytest.raises(CascadeError, match="guidance must be a number from 0 to 100, got inf"):
        pipe("a", guidance={"base": float("inf")})
    with pytest.raises(CascadeError, match="unknown device 'gpu0'"):
        pipe("a", device="gpu0")
    with pytest.raises(CascadeError, match="unknown dtype"):
        pipe("a", dtype="float8")


def test_stage_output_checked_against_declared_spec():
    from cascade.types import Video, VideoSpec

    pipe = make_fake_pipeline(tsr=False, ssr=False)
    real = pipe.stages["base"]

    class Liar:  # declares the real spec but returns 5 frames
        config, input_spec, output_spec = real.config, real.input_spec, real.output_spec

        def __call__(self, inputs, **kw):
            spec = VideoSpec(frames=5, height=8, width=8, fps=4.0)
            return Video(tensor=torch.zeros(1, 3, 5, 8, 8), spec=spec)

    pipe.stages["base"] = Liar()
    with pytest.raises(CascadeError, match="base declared 4 frames at 4 fps.* but produced 5 frames"):
        pipe.run("a")


def test_saved_files_are_readable_by_others(tmp_path):
    """Atomic writes go through mkstemp/mkdtemp (0600/0700) and safetensors' own writer; results get umask modes."""
    import os
    import stat

    from cascade.io_utils import atomic_dir, atomic_write_text

    old = os.umask(0o022)
    try:
        with atomic_dir(tmp_path / "d") as d:
            atomic_write_text(d / "a.json", "{}")
            from safetensors.torch import save_file
            import torch

            save_file({"x": torch.zeros(1)}, str(d / "m.safetensors"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755
    for name in ("a.json", "m.safetensors"):
        assert stat.S_IMODE((tmp_path / "d" / name).stat().st_mode) == 0o644


def test_save_pretrained_replaces_its_own_folder_but_never_deletes_other_files(tmp_path):
    """`cascade assemble --out DIR` and save_pretrained replace DIR only when it holds nothing else."""
    from pathlib import Path

    pipe = make_fake_pipeline()
    out = pipe.save_pretrained(tmp_path / "weights")
    before = (out / "cascade.json").read_bytes()
    pipe.save_pretrained(out)  # a cascade folder it wrote: replaced
    assert (out / "cascade.json").read_bytes() == before
    (out / "README.md").write_text("notes")
    with pytest.raises(CascadeError, match=r"already holds README.md.*nothing was written"):
        pipe.save_pretrained(out)
    assert (out / "README.md").read_text() == "notes" and (out / "cascade.json").read_bytes() == before
    (out / "README.md").unlink()
    (out / "base" / "NOTES.md").write_text("inside a stage folder")  # at any depth
    with pytest.raises(CascadeError, match=r"already holds base/NOTES.md"):
        pipe.save_pretrained(out)
    assert (out / "base" / "NOTES.md").read_text() == "inside a stage folder"
    notes = tmp_path / "notes"
    notes.mkdir()
    for name in ("a.txt", "b.txt", "c.txt", "d.txt"):
        (notes / name).write_text(name)
    with pytest.raises(CascadeError, match=r"already holds a.txt, b.txt, c.txt and 1 more"):
        pipe.save_pretrained(notes)
    assert sorted(p.name for p in notes.iterdir()) == ["a.txt", "b.txt", "c.txt", "d.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left behind
    with pytest.raises(CascadeError, match="names no folder"):  # refused before anything is made
        pipe.save_pretrained(Path("."))


def test_video_stages_in_run_order():
    assert make_fake_pipeline().video_stages() == ["base", "tsr", "ssr"]  # the text stage's output is no video
    assert make_fake_pipeline(tsr=False).video_stages() == ["base", "ssr"]
    assert make_fake_pipeline().stage_of_type("spatial_bicubic") == "ssr"
    assert make_fake_pipeline(tsr=False).stage_of_type("temporal_blend") is None


def test_run_from_given_outputs_skips_those_stages():
    pipe = make_fake_pipeline()
    full = pipe.run(["a red circle"], seed=2)
    upstream = pipe.run(["a red circle"], seed=2, until="tsr")
    assert set(upstream) == {"text", "base", "tsr"}
    rest = pipe.run(["a red circle"], seed=2, given=upstream)
    assert set(pipe.last_timings) == {"ssr"}  # only the missing stage ran
    assert torch.equal(rest["ssr"].tensor, full["ssr"].tensor)
    swapped = dict(upstream, tsr=type(upstream["tsr"])(tensor=-upstream["tsr"].tensor, spec=upstream["tsr"].spec))
    assert not torch.equal(pipe.run(["a red circle"], seed=2, given=swapped)["ssr"].tensor, full["ssr"].tensor)
    with pytest.raises(CascadeError, match="no stage for"):
        pipe.run(["a red circle"], given={"prior": upstream["base"]})
    with pytest.raises(CascadeError):
        pipe.run(["a red circle"], given={"base": upstream["tsr"]})  # 8 frames where base declares 4


def test_shipped_weights_draw_what_the_prompt_says():
    """The shipped cascade in weights/ (a smoke test of the files users get; `cascade eval` measures it properly):
    everyday wordings and one never-trained shape name per shape, read back by the shapes probe."""
    from pathlib import Path

    from cascade.eval.suites.shapes.probe import analyze_batch

    weights = Path(__file__).resolve().parents[1] / "weights"
    cases = {"a yellow triangle moving up": ("yellow", "triangle", "up"),
             "a blue square sliding to the right": ("blue", "square", "right"),
             "red ball going up": ("red", "circle", "up"),
             "a green box going left": ("green", "square", "left"),
             "a magenta wedge sliding downward": ("magenta", "triangle", "down")}  # wedge: read through the lexicon gloss
    pipe = CascadePipeline.from_pretrained(weights)
    video = pipe(list(cases), seed=0, progress=False)
    assert tuple(video.frames.shape) == (5, 16, 64, 64, 3) and video.fps == 8.0
    read = [(r["colour"], r["shape"], r["motion"]) for r in analyze_batch(video.frames.numpy())]
    assert read == list(cases.values())
