"""``robot-agent listen``: spoken corrections to the running agent over ROS 2.

Audio comes from WAV files (``--wav FILE...``), an audio topic (``--topic``) or the
microphone (push-to-talk or continuous with a wake word, ``speech.mode``). Every
utterance goes through :class:`robot_agent.speech.SpeechListener` (grammar-constrained
pocketsphinx, built from the scene the agent sees), and each transcript is published on
the agent's ``~/correction`` as a ``Correction`` (``source`` "spoken", the recognizer's ``confidence``). A spoken
"stop" (spotted in the stream before the utterance ends, or transcribed) calls ``~/stop``
at once and is also published as a correction, so it is in the transcript and the episode
log; the second report of the same stop (spotter, then recognizer) is not sent again.

The audio topic carries ``std_msgs/UInt8MultiArray`` messages whose ``data`` is interleaved
PCM, as ``audio_common_msgs/AudioData`` does (that package is not on PyPI); rate, channels
and sample format are options, as an ``AudioInfo`` message would give them.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from robot_agent.errors import ConfigError, MessageError, SpeechError
from robot_agent.ros import messages
from robot_agent.ros.console import FAILED, NO_AGENT, OK, _no_agent, _Session, add_agent_options, agent_path

#: seconds within which a second "stop" is taken as the same one (spotter, then recognizer)
STOP_DEBOUNCE_S = 2.0


class SpokenCorrections:
    """Publishes transcripts as spoken corrections and follows what the agent made of them.

    Args:
        session: the console session (its node is spun by this object's callers).
        out: where to print what was heard and understood.
    """

    def __init__(self, session: _Session, out: TextIO = sys.stdout) -> None:
        from std_srvs.srv import Trigger

        self.s = session
        self.out = out
        self.pub = session.correction_publisher()
        self._stop_client: Any = session.node.create_client(Trigger, session.topic("stop"))
        self._stop_futures: list[Any] = []
        self._last_stop = -float("inf")
        self._pending: list[tuple[str, float]] = []  # (lower-case text, wall time sent)
        self.answers: list[dict[str, Any]] = []
        self.sent: list[str] = []
        self.stops = 0
        self.failed = 0
        from robot_agent_interfaces.msg import TranscriptEvent

        session.subscribe(TranscriptEvent, "transcript", self._on_transcript)

    def wait_for_agent(self, timeout: float) -> bool:
        """Until the agent subscribes to ``~/correction`` (DDS discovery)."""
        return self.s.wait_for_agent(self.pub, timeout)

    def _on_transcript(self, msg: Any) -> None:
        if msg.type not in ("understood", "dropped", "stop"):
            return  # a question follows its utterance's own answer
        ev = {
            "text": msg.text,
            "kind": msg.kind,
            "summary": msg.summary,
            "outcome": msg.outcome,
            "question": msg.question,
            "choices": list(msg.choices),
            "source": msg.source,
        }
        text = msg.text.strip().lower()
        for i, (want, sent_at) in enumerate(self._pending):
            if text == want and messages.from_time(msg.stamp) >= sent_at:
                del self._pending[i]
                self.answers.append(ev)
                outcome = str(ev.get("outcome", ""))
                # A spoken stop acts through ~/stop; its copy on ~/correction is for the record, and
                # the task it ended may finish before that copy is understood: not a failure then
                # (the stop service's own answer is checked in settle()).
                stop_copy = want == "stop" and outcome.startswith("dropped")
                if outcome.startswith(("dropped", "refused")) and not stop_copy:
                    self.failed += 1
                print(f"  understood as: {ev.get('summary') or ev.get('kind')} [{outcome}]", file=self.out)
                if ev.get("question"):
                    print(f"  robot asks: {ev['question']}", file=self.out)
                return

    def handle(self, transcript: Any) -> None:
        """Act on one transcript (a :class:`robot_agent.speech.Transcript`): stop at once, or publish it."""
        if transcript.is_stop:
            now = time.monotonic()
            if now - self._last_stop < STOP_DEBOUNCE_S:
                return  # the same stop, reported again when its utterance ended
            self._last_stop = now
            self.stops += 1
            if self._stop_client.service_is_ready():
                from std_srvs.srv import Trigger

                self._stop_futures.append(self._stop_client.call_async(Trigger.Request()))
            # The correction too (it also stops): the transcript and the episode log show the spoken stop.
            self._send("stop", None, f"heard: stop ({transcript.source or 'recognizer'}) -> stopping the arm")
            return
        unsure = bool(getattr(transcript, "question", None))  # --verify: the two decodes disagree
        if unsure and not transcript.text:
            print(f"heard: not sure -> {transcript.question} (nothing to send)", file=self.out)
            return
        line = f'heard: "{transcript.text}"'
        if unsure:  # sent marked unsure: the agent holds the arm and asks "Did you say ...?"
            line = f'heard, not sure: "{transcript.text}" -> the robot holds and asks'
        try:
            self._send(transcript.text, transcript.confidence, line, unsure=unsure)
        except MessageError as exc:
            self.failed += 1
            print(f"  not sent: {exc}", file=self.out)

    def _send(self, text: str, confidence: float | None, line: str, unsure: bool = False) -> None:
        conf = None if confidence is None else min(1.0, max(0.0, float(confidence)))
        msg = messages.correction_msg(text, "spoken", conf, unsure=unsure)
        print(line, file=self.out)
        self._pending.append((msg.text.lower(), time.time() - 0.05))
        self.pub.publish(msg)
        self.sent.append(text)

    def settle(self, timeout: float) -> bool:
        """Spin until every sent correction was answered and every stop call returned (at most ``timeout``)."""
        ok = self.s.spin_until(lambda: not self._pending and all(f.done() for f in self._stop_futures), timeout)
        for fut in self._stop_futures:
            res = fut.result() if fut.done() else None
            if res is not None:
                print(f"  stop service: {res.message}", file=self.out)
            if res is None or not res.success:
                self.failed += 1  # the arm may not have been told to stop: say so in the exit code
        self._stop_futures.clear()
        for text, _ in self._pending:
            print(f'  no answer from the agent for "{text}" within {timeout:g} s', file=self.out)
            self.failed += 1
        self._pending.clear()
        return ok


def _scene_objects(session: _Session, topic: str, timeout: float) -> list[str]:
    """Object names from the perception topic, for the grammar (empty when none arrives in time)."""
    from robot_agent.ros import qos
    from robot_agent_interfaces.msg import Scene

    names: list[str] = []

    def on_scene(msg: Scene) -> None:
        try:
            names[:] = sorted(messages.parse_scene(msg))
        except MessageError:
            pass  # the agent reports a bad scene on its own status; the grammar just lacks the objects

    sub = session.node.create_subscription(Scene, topic, on_scene, qos.SCENE_IN)
    session.spin_until(lambda: bool(names), timeout)
    session.node.destroy_subscription(sub)
    return names


def listen(
    *,
    wavs: Iterable[str | Path] = (),
    topic: str = "",
    mic: bool = False,
    agent: str = "robot_agent",
    namespace: str = "",
    objects: Iterable[str] | None = None,
    scene_topic: str = "scene/objects",
    scene_timeout: float = 3.0,
    timeout: float = 15.0,
    duration: float = 0.0,
    audio_rate: int = 16000,
    audio_channels: int = 1,
    audio_format: str = "S16LE",
    mode: str | None = None,
    config_path: str | None = None,
    verify: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    """Turn audio into spoken corrections for the agent node (the ``listen`` command).

    Exactly one source: ``wavs``, ``topic`` or ``mic``.

    Returns:
        0 when every utterance was sent and understood, 1 when one was dropped, refused,
        unanswered, a stop call got no success, or the audio could not be read, 2 when no agent
        node is listening. A spoken stop's record copy dropped because that stop already ended
        the task is not a failure.
    """
    from robot_agent.config import AgentConfig
    from robot_agent.speech import listen_wav, make_listener, make_recognizer, read_wav

    wavs = [Path(w) for w in wavs]
    chosen = [name for name, on in (("--wav", bool(wavs)), ("--topic", bool(topic)), ("--mic", mic)) if on]
    if len(chosen) != 1:
        print(
            f"error: give exactly one audio source (--wav FILE..., --topic TOPIC or --mic), got "
            f"{', '.join(chosen) or 'none'}",
            file=sys.stderr,
        )
        return FAILED
    try:
        config = AgentConfig.load(config_path) if config_path else AgentConfig.load()
        speech_cfg = config.speech
        if mode is not None:
            from dataclasses import replace

            speech_cfg = replace(speech_cfg, mode=mode)
        for w in wavs:  # fail on a bad file before anything is started
            read_wav(w)
        if mic:
            from robot_agent.speech import _sounddevice

            _sounddevice()
    except (SpeechError, ConfigError, ImportError) as exc:  # ImportError: sounddevice, with its install hint
        print(f"error: {exc}", file=sys.stderr)
        return FAILED
    s = _Session(agent_path(agent, namespace), namespace)
    spoken: SpokenCorrections | None = None
    try:
        spoken = SpokenCorrections(s, out)
        if not spoken.wait_for_agent(min(timeout, 10.0)):
            print(f"error: {_no_agent(s.agent, 'correction')}", file=sys.stderr)
            return NO_AGENT
        names = list(objects) if objects is not None else _scene_objects(s, scene_topic, scene_timeout)
        if not names:
            print(
                f"  (no scene on {s.node.resolve_topic_name(scene_topic)}: object names are not in the grammar)",
                file=out,
            )
        try:
            hearer = None
            if verify and speech_cfg.backend == "pocketsphinx":  # grammar + open decodes (robot_agent.speech.hear)
                from robot_agent.speech import Hearer

                hearer = Hearer(names, noise_floor=speech_cfg.noise_floor, wake_word=speech_cfg.wake_word)
            recognizer = hearer.grammar if hearer is not None else make_recognizer(speech_cfg, names)
            listener = make_listener(speech_cfg, recognizer, hearer=hearer)
        except SpeechError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return FAILED
        # let the transcript subscription match the agent's publisher before the first answer
        s.spin_until(lambda: s.node.count_publishers(s.topic("transcript")) > 0, min(timeout, 5.0))
        if wavs:
            for w in wavs:
                print(f"{w}:", file=out)
                heard = listen_wav(listener, w)
                if not heard:
                    print("  (nothing heard)", file=out)
                for t in heard:
                    spoken.handle(t)
                    spoken.settle(timeout)
        elif topic:
            _listen_topic(s, spoken, listener, topic, audio_rate, audio_channels, audio_format, duration, timeout)
        else:
            _listen_mic(s, spoken, listener, recognizer, speech_cfg, duration, timeout)
        spoken.settle(timeout)
        return OK if spoken.failed == 0 else FAILED
    except SpeechError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return FAILED
    except KeyboardInterrupt:
        return OK if spoken is not None and spoken.failed == 0 else FAILED
    finally:
        s.close()


def _listen_topic(
    s: _Session,
    spoken: SpokenCorrections,
    listener: Any,
    topic: str,
    rate: int,
    channels: int,
    fmt: str,
    duration: float,
    timeout: float,
) -> None:
    """Feed audio-topic messages to the listener until ``duration`` s pass (0 = until Ctrl-C)."""
    from std_msgs.msg import UInt8MultiArray

    from robot_agent.ros import qos
    from robot_agent.speech import audio_chunk_to_pcm

    chunks: queue.Queue[bytes] = queue.Queue(maxsize=1000)
    bad: list[str] = []

    def on_audio(msg: UInt8MultiArray) -> None:
        try:
            chunks.put_nowait(bytes(msg.data))
        except queue.Full:
            bad.append("audio queue full: a chunk was dropped (decoding is slower than real time)")

    s.node.create_subscription(UInt8MultiArray, topic, on_audio, qos.COMMANDS)
    print(
        f"listening on {topic} ({rate} Hz, {channels} channel(s), {fmt})"
        + (f" for {duration:g} s" if duration else "; Ctrl-C to end"),
        file=spoken.out,
    )
    end = time.monotonic() + duration if duration > 0 else float("inf")
    while time.monotonic() < end:
        s.executor.spin_once(timeout_sec=0.02)
        while True:
            try:
                raw = chunks.get_nowait()
            except queue.Empty:
                break
            try:
                pcm = audio_chunk_to_pcm(raw, rate, channels, fmt)
            except SpeechError as exc:
                bad.append(str(exc))
                continue
            for t in listener.feed(pcm):
                spoken.handle(t)
        while bad:
            print(f"  audio refused: {bad.pop(0)}", file=spoken.out)
    for t in listener.flush():
        spoken.handle(t)


def _listen_mic(
    s: _Session, spoken: SpokenCorrections, listener: Any, recognizer: Any, cfg: Any, duration: float, timeout: float
) -> None:
    """The microphone, push-to-talk (Enter to start and to send) or continuous (wake word; Ctrl-C ends)."""
    from robot_agent.speech import MicrophoneSource, record_push_to_talk

    with MicrophoneSource(device=cfg.device) as mic:
        if cfg.mode == "continuous":
            blocks: queue.Queue[Any] = queue.Queue(maxsize=500)
            done = threading.Event()

            def capture() -> None:  # the mic blocks; DDS must keep spinning meanwhile
                for block in mic.frames():
                    if done.is_set():
                        return
                    try:
                        blocks.put(block, timeout=1.0)
                    except queue.Full:
                        pass

            threading.Thread(target=capture, name="mic", daemon=True).start()
            print(
                f'listening (say "{cfg.wake_word} ..." before a correction; "stop" always works); Ctrl-C to end',
                file=spoken.out,
            )
            end = time.monotonic() + duration if duration > 0 else float("inf")
            try:
                while time.monotonic() < end:
                    s.executor.spin_once(timeout_sec=0.01)
                    while not blocks.empty():
                        for t in listener.feed(blocks.get_nowait()):
                            spoken.handle(t)
            finally:
                done.set()
            return
        while True:
            print("press Enter to talk (Ctrl-D to end)", file=spoken.out)
            if sys.stdin.readline() == "":
                return
            released = threading.Event()
            threading.Thread(target=lambda ev=released: (sys.stdin.readline(), ev.set()), daemon=True).start()
            print("  recording... press Enter to send", file=spoken.out)
            pcm = record_push_to_talk(mic.frames(), released, max_s=cfg.max_utterance_s)
            t = listener.hearer.hear(pcm).to_transcript() if listener.hearer else recognizer.transcribe(pcm)
            if t.text:
                spoken.handle(t)
                spoken.settle(timeout)
            else:
                print("  (nothing heard)", file=spoken.out)


def _cmd_listen(args: argparse.Namespace) -> int:
    objects = [o.strip() for o in args.objects.split(",") if o.strip()] if args.objects is not None else None
    return listen(
        wavs=args.wav or (),
        topic=args.topic or "",
        mic=args.mic,
        agent=args.agent,
        namespace=args.namespace,
        objects=objects,
        scene_topic=args.scene_topic,
        timeout=args.timeout,
        duration=args.duration,
        audio_rate=args.audio_rate,
        audio_channels=args.audio_channels,
        audio_format=args.audio_format,
        mode=args.mode,
        config_path=args.config,
        verify=args.verify,
    )


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``listen`` to the ``robot-agent`` command."""
    p = sub.add_parser(
        "listen",
        help="spoken corrections to the running agent (ROS 2): WAV files, audio topic, mic",
        description="Recognize spoken corrections (offline, pocketsphinx with a grammar built from the "
        "scene) and publish them on the agent's ~/correction with source 'spoken'. A "
        "spoken 'stop' calls ~/stop at once. The agent must be running (robot-agent up).",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--wav", nargs="+", metavar="FILE", help="WAV files, each streamed as if live")
    src.add_argument("--topic", help="audio topic (std_msgs/UInt8MultiArray of interleaved PCM)")
    src.add_argument("--mic", action="store_true", help="the microphone (needs sounddevice and PortAudio)")
    p.add_argument("--mode", choices=("push_to_talk", "continuous"), help="microphone mode (default: speech.mode)")
    p.add_argument(
        "--verify",
        action="store_true",
        help="decode each utterance twice (grammar and open vocabulary, docs/speech.md): when they "
        "disagree, send the words marked unsure: the agent holds the arm and asks 'Did you say ...?'",
    )
    add_agent_options(p)
    p.add_argument("--objects", help="comma-separated object names for the grammar (default: from the scene topic)")
    p.add_argument(
        "--scene-topic",
        default="scene/objects",
        help="perception topic (robot_agent_interfaces/Scene), relative to the namespace",
    )
    p.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for the agent's answer to each")
    p.add_argument(
        "--duration", type=float, default=0.0, help="topic / continuous mic: seconds to listen (0 = until Ctrl-C)"
    )
    p.add_argument("--audio-rate", type=int, default=16000, help="audio topic sample rate (Hz)")
    p.add_argument("--audio-channels", type=int, default=1, help="audio topic interleaved channels")
    p.add_argument("--audio-format", default="S16LE", help="audio topic sample format: S16LE, S32LE, F32LE, U8")
    p.add_argument("--config", help="agent config YAML for the speech.* settings (default: config/agent.yaml)")
    p.set_defaults(func=_cmd_listen)
