"""One AGI call from routing to the final CTI_RESULT, shared by the FastAGI server and process AGI.

Fail-open: whatever goes wrong (unknown script, handler exception, timeout, shutdown) ends only this
call; if the channel is still there it gets ``CTI_RESULT=failed`` so the dialplan queues the caller
on the default queue. A call the handler finishes gets ``CTI_RESULT=ok``. A caller who hung up gets
nothing (there is no channel left to read it).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging

from cti.agi import variables
from cti.agi.call import AgiCall
from cti.agi.errors import AgiError, CallHungUp, CommandTimeout, PeerGone, ProtocolError
from cti.agi.protocol import AgiEnv, format_command, quote
from cti.agi.registry import Registry
from cti.agi.transport import Transport

log = logging.getLogger("cti.agi")

# Writing CTI_RESULT after a failure gets this long at most: the caller is waiting in silence.
FAIL_OPEN_TIMEOUT = 2.0


class Outcome(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"
    HUNG_UP = "hung_up"


async def run_call(
    env: AgiEnv,
    transport: Transport,
    registry: Registry,
    *,
    command_timeout: float = 60.0,
    fail_open_timeout: float = FAIL_OPEN_TIMEOUT,
) -> Outcome:
    """Route the call to its handler, run it, and write CTI_RESULT; never raises but CancelledError."""
    call = AgiCall(env, transport, command_timeout)
    who = f"script={env.script!r} caller={call.masked_caller} uniqueid={env.uniqueid or '-'}"
    handler = registry.get(env.script)
    if handler is None:
        log.warning("agi call failed: no handler for this script, %s", who)
        await _report(call, variables.RESULT_FAILED, fail_open_timeout)
        return Outcome.FAILED

    log.debug("agi call start %s", who)
    try:
        await handler(call)
    except CallHungUp:
        log.info("agi call ended: caller hung up %s", who)
        return Outcome.HUNG_UP
    except PeerGone:
        if call.hung_up:
            log.info("agi call ended: caller hung up, connection closed %s", who)
            return Outcome.HUNG_UP
        log.warning("agi call failed: peer disconnected %s", who)
        return Outcome.FAILED
    except asyncio.CancelledError:
        log.warning("agi call failed: cancelled at shutdown %s", who)
        await _report(call, variables.RESULT_FAILED, fail_open_timeout)
        raise
    except (CommandTimeout, ProtocolError) as exc:
        log.warning("agi call failed: %s %s", exc, who)
    except AgiError as exc:
        log.warning("agi call failed: %s: %s %s", type(exc).__name__, exc, who)
    except Exception:
        log.exception("agi call failed: handler raised %s", who)
    else:
        if call.hung_up_by_us:
            log.info("agi call ok: handler hung up %s", who)
            return Outcome.OK
        if call.hung_up:
            log.info("agi call ended: caller hung up %s", who)
            return Outcome.HUNG_UP
        await _report(call, variables.RESULT_OK, fail_open_timeout)
        log.info("agi call ok %s", who)
        return Outcome.OK
    await _report(call, variables.RESULT_FAILED, fail_open_timeout)
    return Outcome.FAILED


async def _report(call: AgiCall, value: str, timeout: float) -> None:
    """Write CTI_RESULT if the channel is still there; failures here are logged, never raised."""
    if call.hung_up:
        return
    line = format_command("SET VARIABLE", variables.CTI_RESULT, quote(value))
    try:
        await call.command(line, timeout=timeout)
    except CallHungUp:
        pass
    except (AgiError, OSError) as exc:
        log.warning("agi could not set %s=%s: %s caller=%s", variables.CTI_RESULT, value, exc, call.masked_caller)


async def close_quietly(transport: Transport) -> None:
    with contextlib.suppress(Exception):
        await transport.close()
