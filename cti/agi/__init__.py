"""FastAGI server and process-AGI transport: handlers registered by script name, fail-open calls.

Public API: ``AgiServer``, ``Registry``, ``AgiCall``, ``default_registry``; ``cti.agi.script.run_script``
for process AGI.
"""

from cti.agi.builtin import default_registry
from cti.agi.call import AgiCall, DigitInput, Playback
from cti.agi.errors import AgiError, CallHungUp, CommandFailed, CommandTimeout
from cti.agi.registry import Registry
from cti.agi.server import AgiServer, AgiStats

__all__ = [
    "AgiCall",
    "AgiError",
    "AgiServer",
    "AgiStats",
    "CallHungUp",
    "CommandFailed",
    "CommandTimeout",
    "DigitInput",
    "Playback",
    "Registry",
    "default_registry",
]
