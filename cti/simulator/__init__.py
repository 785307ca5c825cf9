"""The PBX simulator: a protocol-faithful stand-in for Asterisk 22 (AMI server, FastAGI client)."""

from .clock import Clock
from .config import AgentTiming, DepartmentTiming, QueueConfig, SimConfig
from .simulator import Simulator

__all__ = ["AgentTiming", "Clock", "DepartmentTiming", "QueueConfig", "SimConfig", "Simulator"]
