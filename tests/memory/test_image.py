"""Visual retrieval through the real open_clip loading path, with a tiny CLIP the test makes.

No CLIP weights exist on this machine, so the test builds a small CLIP config, saves its
weights with torch.save, and loads them back exactly as a user's checkpoint is loaded
(memory.image_weights + memory.image_model_config). The crops come from the simulator.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from memory import KnowledgeBase, KnowledgeItem
from memory.embedders import OpenClipImageEmbedder, make_image_embedder
from robot_agent.config import MemoryConfig
from robot_agent.errors import ConfigError

TINY = {"embed_dim": 64,
        "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
        "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1}}


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> tuple[Path, Path]:
    import open_clip
    import torch

    d = tmp_path_factory.mktemp("clip")
    cfg = d / "tiny-clip.json"
    cfg.write_text(json.dumps(TINY))
    open_clip.add_model_config(cfg)
    torch.manual_seed(0)
    model = open_clip.create_model("tiny-clip", pretrained=None)
    weights = d / "tiny-clip.pt"
    torch.save(model.state_dict(), weights)
    return cfg, weights


@pytest.fixture(scope="module")
def crops() -> dict[str, list[np.ndarray]]:
    """Two views of each object: the scene rendered, then every object shifted a little."""
    from sim.camera import Camera
    from sim.scene import builtin_scene
    from sim.world import SimWorld

    out: dict[str, list[np.ndarray]] = {}
    with SimWorld(builtin_scene("tabletop")) as world:
        cam = Camera(world)
        for name, crop in cam.object_crops().items():
            out.setdefault(name, []).append(crop)
        for obj in world.objects.values():
            if obj.drawer_link is None:
                pos, orn = world.client.getBasePositionAndOrientation(obj.body)
                world.client.resetBasePositionAndOrientation(obj.body, [pos[0] + 0.03, pos[1] - 0.02, pos[2]], orn)
        for name, crop in Camera(world).object_crops().items():
            out.setdefault(name, []).append(crop)
    return out


def test_loading_path_and_dimension(tiny_clip) -> None:
    cfg, weights = tiny_clip
    emb = make_image_embedder("unused-name", str(weights), str(cfg))
    assert isinstance(emb, OpenClipImageEmbedder) and emb.dim == TINY["embed_dim"]
    v = emb.embed([np.zeros((30, 40, 3), dtype=np.uint8), np.full((64, 64, 3), 200, dtype=np.uint8)])
    assert v.shape == (2, 64) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_missing_weights_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="do not exist"):
        OpenClipImageEmbedder("ViT-B-32", tmp_path / "nope.pt")


def test_no_weights_means_text_only(caplog) -> None:
    assert make_image_embedder("ViT-B-32", "") is None


def test_crop_of_the_same_object_ranks_first(tiny_clip, crops, tmp_path: Path, text_embedder) -> None:
    cfg, weights = tiny_clip
    image = OpenClipImageEmbedder("x", weights, cfg)
    # A tiny CLIP with random weights sees colour and coarse shape, not semantics: compare objects
    # that differ in appearance (a red block and a red apple would be a coin toss for it).
    names = ["red_block", "blue_block", "white_mug", "plate", "tray", "cabinet"]
    gallery = image.embed([crops[n][0] for n in names])
    queries = image.embed([crops[n][1] for n in names])
    sims = queries @ gallery.T
    assert all(int(np.argmax(sims[i])) == i for i in range(len(names))), np.round(sims, 3)
    # And through the knowledge base: the visual score decides between two same-text items.
    mcfg = MemoryConfig(text_weight=0.5, image_weight=0.5, skill_threshold=0.3)
    with KnowledgeBase(tmp_path / "kb", text_embedder, image, mcfg) as kb:
        a = kb.add(KnowledgeItem("skill", "a", scope={"skill": "pick", "object_category": "block",
                                                      "object_description": "toy block"},
                                 parameters={"grasp_offset": [0.0, 0.01, 0.0]}), image=crops["red_block"][0])
        b = kb.add(KnowledgeItem("skill", "b", scope={"skill": "pick", "object_category": "fruit",
                                                      "object_description": "toy block"},
                                 parameters={"grasp_offset": [0.0, -0.01, 0.0]}), image=crops["blue_block"][0])
        hit_red = kb.retrieve_for_skill("pick", "toy block", image=crops["red_block"][1])
        hit_blue = kb.retrieve_for_skill("pick", "toy block", image=crops["blue_block"][1])
        assert hit_red[0][0].id == a.id and hit_blue[0][0].id == b.id
        assert kb.stats()["indexes"]["skill_image"] == 2
