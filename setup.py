"""robot_agent: correct a robot arm in plain language, and make it remember.

Builds with colcon (ament_python) in a ROS 2 workspace and installs with pip
into a virtualenv. The layout keeps the users' top-level folders as Python
packages: ``robot_agent`` (brain + ROS face), ``skills``, ``memory``, ``sim``.
"""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "robot_agent"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(
        include=["robot_agent", "robot_agent.*", "skills", "skills.*", "memory", "memory.*", "sim", "sim.*"]
    ),
    package_data={
        "sim": ["scenes/*.yaml", "scenarios/*.yaml", "scenarios/*/*.yaml", "scenarios/*/*/*.yaml", "corpus/*.yaml"],
        "sim.phrases": ["*.yaml"],
        "robot_agent.console": ["static/*.html", "static/*.js", "static/*.css"],
    },
    include_package_data=True,
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="robot_agent maintainers",
    maintainer_email="robot-agent@example.org",
    description="Language corrections for robot arms: hierarchical LLM planner, "
    "online corrections, distilled FAISS memory, PyBullet sim, ROS 2.",
    license="Apache-2.0",
    python_requires=">=3.10",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "robot-agent = robot_agent.cli:main",
            "sim_node = sim.ros.sim_node:main",
            "agent_node = robot_agent.ros.agent_node:main",
        ],
    },
)
