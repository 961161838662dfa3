"""Domain exceptions, in one place. Each subclasses a built-in so callers can catch broadly."""

from __future__ import annotations


class RobotAgentError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(RobotAgentError, ValueError):
    """A configuration value or file is invalid."""


class SceneError(RobotAgentError, ValueError):
    """A scene or scenario file is invalid; the message names the file and the field."""


class SkillError(RobotAgentError, RuntimeError):
    """A skill could not be run as asked (bad arguments, unknown object...)."""


class UnknownSkillError(SkillError, KeyError):
    """No skill of that name is registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class UnknownObjectError(SkillError, KeyError):
    """The named object is not in the scene."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ParameterError(SkillError, ValueError):
    """A skill parameter is of the wrong type or outside its allowed range."""


class SafetyError(RobotAgentError, RuntimeError):
    """A motion was refused because it would leave the configured safety limits."""


class UnreachableError(SafetyError):
    """A target pose is outside the workspace or has no inverse-kinematics solution."""


class KnowledgeBaseError(RobotAgentError, RuntimeError):
    """The knowledge base could not be opened, read or written."""


class KnowledgeBaseLockedError(KnowledgeBaseError):
    """Another process holds the knowledge base open for writing."""


class PolicyError(RobotAgentError, RuntimeError):
    """The high-level policy could not produce a valid plan."""


class EpisodeLogError(RobotAgentError, ValueError):
    """An episode log (rosbag2 directory) is missing, corrupt, truncated or foreign."""


class SpeechError(RobotAgentError, RuntimeError):
    """Speech could not be captured or transcribed."""


class RobotLinkError(SafetyError):
    """The robot's state stream is missing or stale (joint-state watchdog); the arm was told to hold."""


class MessageError(RobotAgentError, ValueError):
    """A message payload (task, correction, scene JSON) is malformed; the message says what and where."""
