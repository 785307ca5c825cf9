"""The PBX simulator: a protocol-faithful stand-in for Asterisk 22 (AMI server, FastAGI client).

What it models: AMI login, actions and events with Asterisk 22's field layouts, each manager user's read
classes and eventfilter (the shipped ``config/asterisk/manager_cti.conf`` by default, :mod:`.manager_conf`);
app_queue (strategy, servicelevel, timeout, retry, wrapuptime, autofill from a queues.conf such as the
shipped ``queues_cti.conf``, :mod:`.queues_conf`; its counters and event order); the shipped
``extensions_cti.conf`` call flow for [cti-inbound]/[cti-ivr] (:mod:`.shipped`: the layer's FastAGI IVR,
MixMonitor's ``<uid>.raw``, Queue() option c, UserEvent QueueResult after Queue() and from ``h``),
[departments] (:mod:`.dial`: Dial(CTI_DEPT_DIAL), its second Local pair optimised away after a three-way
merge, cti-dial-cause) and [cti-transfer] (CTITransferFailed, back to CTIQUEUE); Local channel pairs with
inherited ``_``/``__`` variables; the FastAGI commands with Asterisk 22's one-file rule; the features.conf
transfer codes (attended, three-way, blind); ``core restart now`` through AMI's Command action; a simulated
clock. ``cti demo``'s traffic dials [cti-inbound].

What it does not model: SIP/PJSIP (a non-Local dial string is a remote phone per ``SimConfig.departments``),
media (no audio except the optional recordings), the CLI beyond ``core restart now`` (reloads...), dialplan
functions and contexts beyond the shipped ones (the recorded lab's ``[from-pstn]``/``[caller]``/``[agents]``,
and ``[departments]`` without CTI_DEPT_DIAL, remain for the older tests), CDR/CEL and ARI.

The contract is ``tests/real_asterisk/test_parity.py``: scripted scenarios run on a real Asterisk 22.10.1
with the shipped snippets and on this simulator at once, and the layer's AMI user must receive the same
events per party (names, order, key fields, times within a tolerance). A behaviour is the real switch's
only once a parity scenario covers it; a parity failure is the simulator's bug to fix.
"""

from .clock import Clock
from .config import AgentTiming, DepartmentTiming, QueueConfig, SimConfig
from .simulator import Simulator

__all__ = ["AgentTiming", "Clock", "DepartmentTiming", "QueueConfig", "SimConfig", "Simulator"]
