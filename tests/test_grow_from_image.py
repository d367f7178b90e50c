"""A base_video stage grown from an image U-Net (network.kind: unet_motion): equal to the image model on every frame at
step 0, motion modules alone trained under freeze_spatial, trained/exported/sampled through the CLI, saved and loaded
without the image model, one sentence on a text width the image model does not take; CLIP text folders as encoders."""

import json
import shutil

import pytest
import torch
from typer.testing import CliRunner

from cascade.cli import app
from cascade.errors import CascadeError
from cascade.stage import make_stage_config
from cascade.types import TextEmbedding
from stages.base_video.stage import BaseVideoStage
from stages.text_encoder.config import TextEncoderConfig
from stages.text_encoder.stage import TextEncoderStage

runner = CliRunner()
TEXT_DIM = 384  # the packaged MiniLM's width, which the tiny base_video preset's training encodes with
MOTION = {"kind": "unet_motion", "motion_num_attention_heads": 4, "motion_norm_num_groups": 8}


def tiny_image_unet(cross_attention_dim: int = TEXT_DIM):
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel(sample_size=16, in_channels=3, out_channels=3, block_out_channels=(32, 64),
                                layers_per_block=1, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
                                cross_attention_dim=cross_attention_dim, attention_head_dim=8, norm_num_groups=8)


@pytest.fixture(scope="module")
def image_unet(tmp_path_factory):
    """(folder, model): a tiny random image U-Net saved the way a user has one (save_pretrained, safetensors)."""
    folder = tmp_path_factory.mktemp("image_unet")
    unet = tiny_image_unet().eval()
    unet.save_pretrained(folder)
    return folder, unet


def grown(folder, **network) -> BaseVideoStage:
    torch.manual_seed(0)
    over = {"network": dict(MOTION, pretrained_unet2d=str(folder), **network)}
    return BaseVideoStage(make_stage_config(BaseVideoStage, "tiny", over))


def inputs(b=2, f=4, size=8, length=8):
    g = torch.Generator().manual_seed(1)
    return {"sample": torch.randn(b, 3, f, size, size, generator=g), "timestep": torch.tensor([20.0, 700.0][:b]),
            "encoder_hidden_states": torch.randn(b, length, TEXT_DIM, generator=g)}


def test_grown_model_equals_the_image_model_on_every_frame(image_unet):
    folder, unet = image_unet
    net = grown(folder).network.eval()
    inp = inputs()
    with torch.no_grad():
        video = net(**inp)  # (B, C, F, H, W)
        frames = [unet(inp["sample"][:, :, i], inp["timestep"], inp["encoder_hidden_states"]).sample
                  for i in range(inp["sample"].shape[2])]
    torch.testing.assert_close(video, torch.stack(frames, dim=2), rtol=0, atol=1e-5)
    # the motion modules are live and know frame order once trained away from zero
    with torch.no_grad():
        for p in net.temporal_parameters():
            p.add_(0.05 * torch.randn_like(p))
        moved = net(**inp)
        assert (moved - video).abs().max() > 1e-3
        reversed_in = dict(inp, sample=inp["sample"].flip(2))
        assert (net(**reversed_in).flip(2) - moved).abs().max() > 1e-4


def test_freeze_spatial_trains_the_motion_modules_only(image_unet):
    from cascade.training.config import OptimConfig
    from cascade.training.optim import build_optimizer

    stage = grown(image_unet[0], freeze_spatial=True)
    net = stage.network
    assert all(not p.requires_grad for p in net.spatial_parameters())
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    opt = build_optimizer(net, OptimConfig(lr=1e-3, warmup_steps=0))
    g = torch.Generator().manual_seed(0)
    video = torch.rand(2, 3, 4, 8, 8, generator=g) * 2 - 1
    text = TextEmbedding(tokens=torch.randn(2, 8, TEXT_DIM, generator=g), mask=torch.ones(2, 8, dtype=torch.bool),
                         pooled=torch.randn(2, TEXT_DIM, generator=g), spec=stage.config.text)
    for _ in range(3):
        opt.zero_grad()
        stage.training_loss(None, video, text, g).mean().backward()
        opt.step()
    changed = {n for n, p in net.named_parameters() if not torch.equal(p, before[n])}
    temporal = {n for n, _ in net.named_parameters() if ".motion_modules." in n}
    assert changed and changed <= temporal
    assert any("proj_in" in n for n in changed)  # past the zeroed output projection, the whole module learns


def test_freeze_spatial_refuses_random_spatial_weights(tmp_path):
    from cascade.training.build import build_task
    from cascade.training.config import validate_config

    cfg = {"stage": "base_video", "preset": "tiny", "model": {"network": {"freeze_spatial": True}},
           "data": {"kind": "shapes", "num_clips": 8}}
    with pytest.raises(CascadeError, match="freeze_spatial trains only the temporal layers, but this base_video "
                                           "network's spatial weights are a random init") as e:
        build_task(validate_config(cfg, source="x.yaml"), source="x.yaml")
    assert "\n" not in str(e.value)
    torch.manual_seed(0)
    BaseVideoStage(make_stage_config(BaseVideoStage, "tiny")).save_pretrained(tmp_path / "trained")
    stage, _ = build_task(validate_config(dict(cfg, init_from=str(tmp_path / "trained")), source="x.yaml"))
    assert not any(p.requires_grad for p in stage.network.spatial_parameters())  # fine-tuning a trained stage is fine


def test_trains_exports_and_samples_through_the_cli_without_the_image_model(image_unet, tmp_path):
    folder = shutil.copytree(image_unet[0], tmp_path / "image_unet")
    cfg = tmp_path / "grow.yaml"
    network = dict(MOTION, pretrained_unet2d=str(folder), freeze_spatial=True)
    cfg.write_text(json.dumps({"stage": "base_video", "preset": "tiny", "model": {"network": network},
                               "data": {"kind": "shapes", "num_clips": 16, "seed": 0},
                               "optim": {"lr": 1e-3, "warmup_steps": 1}, "batch_size": 2, "max_steps": 5,
                               "checkpoint_every": 2, "sample_every": 2, "log_every": 1, "trackers": [],
                               "preview_prompts": ["a red circle moving left"]}))
    result = runner.invoke(app, ["train", "base_video", "--config", str(cfg), "--out", str(tmp_path / "run"),
                                 "--max-steps", "2", "--device", "cpu", "-q"])
    assert result.exit_code == 0, result.output
    shutil.rmtree(folder)  # the exported stage records its architecture and needs no image model
    stage = BaseVideoStage.from_pretrained(tmp_path / "run" / "export")
    saved = json.loads((tmp_path / "run" / "export" / "config.json").read_text())["network"]
    assert saved["pretrained_unet2d"] is None and saved["unet"]["down_block_types"][0] == "CrossAttnDownBlockMotion"
    image = image_unet[1].state_dict()
    spatial = {n.removeprefix("unet."): p for n, p in stage.network.named_parameters()
               if ".motion_modules." not in n and n.startswith("unet.")}
    assert spatial and all(torch.equal(p, image[n]) for n, p in spatial.items() if n in image)  # frozen: unchanged
    text = TextEncoderStage(TextEncoderConfig(max_length=8)).encode(["a blue square moving up"])
    video = stage({"text": text}, generator=torch.Generator().manual_seed(0), progress=False)
    assert tuple(video.tensor.shape) == (1, 3, 4, 8, 8) and torch.isfinite(video.tensor).all()


def test_saved_and_loaded_stage_gives_identical_outputs(image_unet, tmp_path):
    stage = grown(image_unet[0])
    with torch.no_grad():
        for p in stage.network.parameters():
            p.add_(0.01 * torch.randn_like(p))  # every tensor, motion modules and null token included, must round-trip
    stage.save_pretrained(tmp_path / "stage")
    loaded = BaseVideoStage.from_pretrained(tmp_path / "stage")
    inp = dict(inputs(), text_drop=torch.tensor([False, True]))
    with torch.no_grad():
        torch.testing.assert_close(loaded.network.eval()(**inp), stage.network.eval()(**inp), rtol=0, atol=0)


def test_text_width_the_image_model_does_not_take_is_one_sentence(tmp_path):
    tiny_image_unet(cross_attention_dim=32).save_pretrained(tmp_path / "narrow")
    with pytest.raises(CascadeError) as e:
        grown(tmp_path / "narrow")
    msg = str(e.value)
    assert "the image U-Net attends to text 32 wide but the stage's text encoder is 384 wide" in msg
    assert "\n" not in msg and msg.count(". ") == 0
    with pytest.raises(CascadeError, match="is not a diffusers model folder"):
        grown(tmp_path / "missing")


def test_example_config_builds_a_grown_stage(image_unet):
    from pathlib import Path

    from cascade.training.config import apply_overrides, load_config

    example = Path(__file__).parent.parent / "configs" / "base_video" / "from_image_unet.yaml"
    cfg = apply_overrides(load_config(example), [f"model.network.pretrained_unet2d={image_unet[0]}"])
    stage = BaseVideoStage(make_stage_config(BaseVideoStage, cfg.preset, cfg.model))
    assert stage.spatial_pretrained and not stage.freezes_untrained_weights
    assert all(not p.requires_grad for p in stage.network.spatial_parameters())
    assert stage.output_spec.frames == 8 and stage.config.network.unet["motion_max_seq_length"] == 32


# -- CLIP text folders as text encoders ---------------------------------------------------------------------------
CLIP_WIDTH = 32


def tiny_clip_tokenizer(folder):
    """A character-level CLIPTokenizer from a vocabulary and merges list written here (no download)."""
    from transformers import CLIPTokenizer

    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for piece in [*letters, *(c + "</w>" for c in letters)]:
        vocab[piece] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt")), len(vocab)


@pytest.fixture(scope="module")
def clip_folders(tmp_path_factory):
    from transformers import CLIPConfig, CLIPModel, CLIPTextConfig, CLIPTextModel

    root = tmp_path_factory.mktemp("clip")
    tokenizer, vocab_size = tiny_clip_tokenizer(root)
    text_config = CLIPTextConfig(vocab_size=vocab_size, hidden_size=CLIP_WIDTH, intermediate_size=64,
                                 num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=32,
                                 bos_token_id=0, eos_token_id=1, pad_token_id=1)
    torch.manual_seed(0)
    text = CLIPTextModel(text_config).eval()
    full = CLIPModel(CLIPConfig(text_config=text_config.to_dict(), projection_dim=16,
                                vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                                               "num_attention_heads": 2, "image_size": 32, "patch_size": 16})).eval()
    for name, model in (("text", text), ("full", full)):
        model.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
    return root, tokenizer, text, full


@pytest.mark.parametrize("which", ["text", "full"])
def test_clip_text_folder_is_a_text_encoder(clip_folders, which):
    root, tokenizer, text, full = clip_folders
    stage = TextEncoderStage(TextEncoderConfig(model=str(root / which), dim=CLIP_WIDTH, max_length=24))
    assert type(stage.network).__name__ == "CLIPTextModel"
    emb = stage.encode(["a red circle", "a blue square moving up"])
    assert tuple(emb.tokens.shape) == (2, 24, CLIP_WIDTH) and emb.mask[0].sum() < emb.mask[1].sum()
    batch = tokenizer(["a red circle"], padding="max_length", truncation=True, max_length=24, return_tensors="pt")
    reference = (text if which == "text" else full.text_model)
    with torch.no_grad():
        expected = reference(**batch).last_hidden_state[0]
    torch.testing.assert_close(emb.tokens[0], expected, rtol=0, atol=1e-6)


def test_clip_text_folder_width_and_length_are_checked(clip_folders):
    root = clip_folders[0]
    with pytest.raises(CascadeError, match=f"is {CLIP_WIDTH} wide but its config says dim=384; set dim to "):
        TextEncoderStage(TextEncoderConfig(model=str(root / "text"), max_length=12))
    with pytest.raises(CascadeError, match="reads at most 32 tokens but its config says max_length=40"):
        TextEncoderStage(TextEncoderConfig(model=str(root / "full"), dim=CLIP_WIDTH, max_length=40))


def test_training_encodes_captions_with_the_text_model_its_spec_names(clip_folders):
    """A stage whose text spec names a local encoder (a CLIP text tower beside an image U-Net) trains on that
    encoder's embeddings, and a cascade that feeds it another encoder's is refused."""
    from cascade.graph import CascadeGraph
    from cascade.registry import frozen_stage_for
    from cascade.types import TextSpec
    from stages.base_video.presets import PRESETS as BASE
    from stages.text_encoder.presets import PRESETS as TEXT

    root = clip_folders[0]
    spec = TextSpec(length=16, dim=CLIP_WIDTH, model=str(root / "text"))
    encoder = frozen_stage_for(spec)
    assert type(encoder.network).__name__ == "CLIPTextModel" and encoder.output_spec == spec
    assert TextEncoderConfig(model=str(root / "text"), dim=CLIP_WIDTH, max_length=16).output_spec() == spec
    assert TEXT["default"].output_spec().model is None  # the packaged MiniLM is named by no folder
    graph = CascadeGraph.from_dict({"nodes": {"text": {"type": "text_encoder"}, "base": {"type": "base_video"}},
                                    "edges": [{"from": "text", "to": "base", "input": "text"}], "output": "base"})
    base = BASE["tiny"].model_copy(update={"text": spec})
    with pytest.raises(CascadeError, match="base expects") as e:
        graph.build({"text": TEXT["tiny"].model_copy(update={"dim": CLIP_WIDTH, "max_length": 16}), "base": base})
    assert "\n" not in str(e.value)
