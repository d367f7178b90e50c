import pytest
import torch
from pydantic import ValidationError

from cascade.types import TextEmbedding, TextSpec, Video, VideoSpec


def test_videospec_frozen_and_validated():
    s = VideoSpec(frames=8, height=32, width=32, fps=4)
    with pytest.raises(ValidationError):
        s.frames = 9
    with pytest.raises(ValidationError):
        VideoSpec(frames=0, height=32, width=32, fps=4)
    with pytest.raises(ValidationError):
        VideoSpec(frames=8, height=32, width=32, fps=4, space="voxel")
    with pytest.raises(ValidationError):
        VideoSpec(frames=8, height=32, width=32, fps=4, colour="red")


def test_video_rejects_tensor_that_disagrees_with_spec():
    spec = VideoSpec(frames=8, height=32, width=32, fps=4)
    Video(tensor=torch.zeros(2, 3, 8, 32, 32), spec=spec)
    for bad in (torch.zeros(2, 3, 7, 32, 32), torch.zeros(2, 4, 8, 32, 32), torch.zeros(3, 8, 32, 32),
                torch.zeros(2, 3, 8, 32, 31)):
        with pytest.raises(ValidationError):
            Video(tensor=bad, spec=spec)
    with pytest.raises(ValidationError):
        Video(tensor=torch.zeros(2, 3, 8, 32, 32, dtype=torch.uint8), spec=spec)


def test_video_frames_uint8_layout_and_range():
    spec = VideoSpec(frames=2, height=4, width=5, fps=8)
    x = torch.full((1, 3, 2, 4, 5), -1.0)
    x[:, 0, 1] = 1.0  # red channel of frame 1 at full
    v = Video(tensor=x, spec=spec)
    f = v.frames
    assert f.shape == (1, 2, 4, 5, 3) and f.dtype == torch.uint8
    assert f[0, 0].max() == 0 and (f[0, 1, :, :, 0] == 255).all() and (f[0, 1, :, :, 1] == 0).all()
    assert v.fps == 8


def test_text_embedding_checks_shapes():
    spec = TextSpec(length=4, dim=8)
    TextEmbedding(tokens=torch.zeros(2, 4, 8), mask=torch.ones(2, 4, dtype=torch.bool), pooled=torch.zeros(2, 8), spec=spec)
    with pytest.raises(ValidationError):
        TextEmbedding(tokens=torch.zeros(2, 5, 8), mask=torch.ones(2, 5, dtype=torch.bool), pooled=torch.zeros(2, 8), spec=spec)
    with pytest.raises(ValidationError):
        TextEmbedding(tokens=torch.zeros(2, 4, 8), mask=torch.ones(2, 3, dtype=torch.bool), pooled=torch.zeros(2, 8), spec=spec)
    with pytest.raises(ValidationError):
        TextEmbedding(tokens=torch.zeros(2, 4, 8), mask=torch.ones(2, 4, dtype=torch.bool), pooled=torch.zeros(1, 8), spec=spec)
