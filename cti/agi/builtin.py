"""A minimal built-in ``ivr`` so the demo works before the YAML flow engine exists (it will replace it)."""

from __future__ import annotations

from cti.agi import variables
from cti.agi.call import AgiCall
from cti.agi.registry import Registry

# Key -> queue; key 1 and no key keep the dialplan's default (public), set before AGI runs.
MENU_QUEUES = {"2": "enterprise", "9": "supervision"}


async def ivr(call: AgiCall) -> None:
    """Greeting, one key, queue choice: the dialogue recorded in the asterisk-22 fixtures."""
    await call.stream_file("hello-world")
    choice = await call.get_data("beep", 6000, 1)
    queue = MENU_QUEUES.get(choice.digits)
    if queue:
        await call.set_variable(variables.CTIQUEUE, queue)
    await call.get_variable("CALLERID(num)")
    await call.verbose("ivr done", 1)


def default_registry() -> Registry:
    registry = Registry()
    registry.add("ivr", ivr)
    return registry
