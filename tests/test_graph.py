import pytest

from cascade.errors import CascadeError
from cascade.graph import CascadeGraph
from fake_stages import FakeTextConfig, FakeVideoConfig
from stages.spatial_sr.config import SpatialBicubicConfig, SpatialSRConfig
from stages.temporal_sr.config import TemporalBlendConfig, TemporalSRConfig


def graph(nodes, edges, output):
    return CascadeGraph.from_dict({"nodes": {n: {"type": t} for n, t in nodes.items()},
                                   "edges": [{"from": a, "to": b, "input": i} for a, b, i in edges],
                                   "output": output})


NODES = {"text": "test_text", "base": "test_video", "tsr": "temporal_blend", "ssr": "spatial_bicubic"}
EDGES = [("text", "base", "text"), ("base", "tsr", "video"), ("tsr", "ssr", "video")]


def configs(**over):
    c = {"text": FakeTextConfig(), "base": FakeVideoConfig(),
         "tsr": TemporalBlendConfig(frames=4, fps=4.0, height=8, width=8),
         "ssr": SpatialBicubicConfig(frames=8, fps=8.0, height=8, width=8)}
    c.update(over)
    return c


def test_valid_graph_builds_in_order():
    g = graph(NODES, EDGES, "ssr").build(configs())
    assert g.order == ["text", "base", "tsr", "ssr"]
    rows = g.describe()
    assert rows[-1]["output"].startswith("8 frames at 8 fps, 16x16")


@pytest.mark.parametrize("over, message", [
    ({"tsr": TemporalBlendConfig(frames=8, fps=4.0, height=8, width=8)},
     "tsr expects 8 frames at 4 fps from base, which makes 4 frames at 4 fps"),
    ({"tsr": TemporalBlendConfig(frames=4, fps=2.0, height=8, width=8)},
     "tsr expects 4 frames at 2 fps from base, which makes 4 frames at 4 fps"),
    ({"ssr": SpatialBicubicConfig(frames=8, fps=8.0, height=16, width=16)},
     "ssr expects 16x16 frames from tsr, which makes 8x8 frames"),
    ({"ssr": SpatialBicubicConfig(frames=8, fps=8.0, height=8, width=8, channels=4)},
     "ssr expects 4 channels from tsr, which makes 3 channels"),
    ({"ssr": SpatialBicubicConfig(frames=8, fps=8.0, height=8, width=8, space="latent")},
     "ssr expects latent-space video from tsr, which makes pixel-space video"),
    ({"base": FakeVideoConfig(text_dim=16)},
     "base expects 16-wide text embeddings from text, which makes 8-wide text embeddings"),
    ({"base": FakeVideoConfig(text_length=7)},
     "base expects 7-token text embeddings from text, which makes 4-token text embeddings"),
])
def test_each_mismatch_names_both_stages_and_field(over, message):
    with pytest.raises(CascadeError) as e:
        graph(NODES, EDGES, "ssr").build(configs(**over))
    assert str(e.value) == message


def test_kind_mismatch():
    with pytest.raises(CascadeError, match="tsr expects a video from text, which makes a text embedding"):
        graph(NODES, [("text", "base", "text"), ("text", "tsr", "video"), ("tsr", "ssr", "video")], "ssr").build(configs())


def test_cycle_is_reported():
    with pytest.raises(CascadeError, match="cycle"):
        graph(NODES, [("text", "base", "text"), ("ssr", "tsr", "video"), ("tsr", "ssr", "video")], "ssr").build(configs())


def test_missing_stage_and_unknown_type_and_output():
    with pytest.raises(CascadeError, match="names a stage 'nope'"):
        graph(NODES, EDGES + [("nope", "ssr", "video")], "ssr").build(configs())
    with pytest.raises(CascadeError, match="unknown stage type 'warp_drive'"):
        graph({**NODES, "x": "warp_drive"}, EDGES, "ssr").build(configs())
    with pytest.raises(CascadeError, match="output 'final'"):
        graph(NODES, EDGES, "final").build(configs())


def test_two_producers_for_one_input():
    with pytest.raises(CascadeError, match="tsr.video has two producers, base and ssr"):
        graph(NODES, EDGES + [("ssr", "tsr", "video")], "ssr").build(configs())


def test_unfed_input_and_unknown_input():
    with pytest.raises(CascadeError, match="tsr needs its 'video' input"):
        graph(NODES, [("text", "base", "text"), ("tsr", "ssr", "video")], "ssr").build(configs())
    with pytest.raises(CascadeError, match="tsr has no input 'audio'"):
        graph(NODES, EDGES + [("base", "tsr", "audio")], "ssr").build(configs())


def test_malformed_graph_dict():
    with pytest.raises(CascadeError, match="malformed"):
        CascadeGraph.from_dict({"nodes": {"a": {"type": "test_text"}}, "edges": [{"from": "a"}], "output": "a"})


def test_build_reads_only_configs_no_weights(tmp_path, fake_weights):
    # weights deleted: build still succeeds, because it reads configs alone
    (fake_weights / "base" / "model.safetensors").unlink()
    import json
    g = CascadeGraph.from_dict(json.loads((fake_weights / "cascade.json").read_text())["graph"]).build(root=fake_weights)
    assert g.order[-1] == "ssr"


def test_text_lexicon_mismatch_is_named():
    """A base stage trained on lexicon-expanded prompts cannot be fed plain ones (nor the other way round)."""
    from stages.base_video.presets import PRESETS as BASE
    from stages.text_encoder.presets import PRESETS as TEXT

    g = graph({"text": "text_encoder", "base": "base_video"}, [("text", "base", "text")], "base")
    assert g.build({"text": TEXT["default"], "base": BASE["default"]}).order == ["text", "base"]
    plain_base = BASE["default"].model_copy(update={"text": TEXT["large"].output_spec()})
    with pytest.raises(CascadeError) as e:
        g.build({"text": TEXT["default"], "base": plain_base})
    assert str(e.value) == ("base expects prompts encoded without a lexicon from text, which makes prompts expanded "
                            "with the wordnet-shapes lexicon")
    with pytest.raises(CascadeError, match="base expects 32-token text embeddings from text, which makes 16-token"):
        g.build({"text": TEXT["plain"], "base": BASE["default"]})
