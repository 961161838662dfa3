"""``python -m robot_agent.cli``: the ``robot-agent`` command."""

import sys

from robot_agent.cli import main

sys.exit(main())
