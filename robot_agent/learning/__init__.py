"""Learning from episodes, and measuring it.

:mod:`robot_agent.learning.training` retrains the local high-level policy on episode logs (LoRA,
CPU); :mod:`robot_agent.learning.bench` is the correction benchmark: how many corrections the
agent needs on novel instances, per memory method. Heavy dependencies (torch, peft) load only
when training starts.
"""
