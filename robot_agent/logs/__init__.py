"""Episode logs: standard rosbag2 directories (MCAP storage), one per episode.

One episode is one rosbag2 directory::

    <log>/metadata.yaml      rosbag2 metadata (written when the episode closes)
    <log>/<log>.mcap         the messages
    <log>/recording.lock     present only while the episode is recorded (or after a crash)

The modules, by job:

* :mod:`~robot_agent.logs.schema`: topics, message types, the JSON payload schema;
* :mod:`~robot_agent.logs.writer`: :class:`EpisodeLogWriter`, crash-safe recording;
* :mod:`~robot_agent.logs.mcapio`: reading MCAP files safely with the ``mcap`` library;
* :mod:`~robot_agent.logs.recovery`: finishing a recording, :func:`recover` after a crash;
* :mod:`~robot_agent.logs.reader`: :class:`EpisodeLogReader`, :func:`find_episode_logs`;
* :mod:`~robot_agent.logs.recording`: the agent's episode recorder (sim clock, sampling);
* :mod:`~robot_agent.logs.replay` and :mod:`~robot_agent.logs.export`: replay in PyBullet,
  training examples (imported on their own: they pull in the simulator and the policy).

Example::

    with EpisodeLogWriter(path, "ep-0001", meta={"task": task, "scene": "tabletop"}) as log:
        log.task(task)
        log.plan(["pick(red_block)", "place(red_block, drawer)"])
        ...
    for event in EpisodeLogReader(path).events(EVENT_TOPICS):
        print(event.t_ns, event.kind, event.data)

``docs/episode_log.md`` documents the format.
"""

from robot_agent.errors import EpisodeLogError
from robot_agent.logs.reader import EpisodeLogReader, EpisodeSummary, LogEvent, find_episode_logs
from robot_agent.logs.recovery import RecoveryReport, recover
from robot_agent.logs.schema import (
    CORRECTION_SOURCES,
    CORRECTION_TOPIC,
    EVENT_FIELDS,
    EVENT_TOPICS,
    IMAGE_TOPIC,
    JOINT_STATES_TOPIC,
    KNOWLEDGE_TOPIC,
    LOCK_NAME,
    META_TOPIC,
    OUTCOME_TOPIC,
    PLAN_TOPIC,
    SCHEMA_VERSION,
    SENSOR_TOPICS,
    SKILL_CALL_TOPIC,
    SKILL_RESULT_TOPIC,
    SUPPORTED_SCHEMA_VERSIONS,
    TASK_TOPIC,
    TOPIC_TYPES,
    UNDERSTOOD_TOPIC,
    event_kind,
    schema_name,
)
from robot_agent.logs.writer import EpisodeLogWriter

__all__ = [
    "CORRECTION_SOURCES",
    "CORRECTION_TOPIC",
    "EVENT_FIELDS",
    "EVENT_TOPICS",
    "IMAGE_TOPIC",
    "JOINT_STATES_TOPIC",
    "KNOWLEDGE_TOPIC",
    "LOCK_NAME",
    "META_TOPIC",
    "OUTCOME_TOPIC",
    "PLAN_TOPIC",
    "SCHEMA_VERSION",
    "SENSOR_TOPICS",
    "SKILL_CALL_TOPIC",
    "SKILL_RESULT_TOPIC",
    "SUPPORTED_SCHEMA_VERSIONS",
    "TASK_TOPIC",
    "TOPIC_TYPES",
    "UNDERSTOOD_TOPIC",
    "EpisodeLogError",
    "EpisodeLogReader",
    "EpisodeLogWriter",
    "EpisodeSummary",
    "LogEvent",
    "RecoveryReport",
    "event_kind",
    "find_episode_logs",
    "recover",
    "schema_name",
]
