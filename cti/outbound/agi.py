"""The ``followup`` AGI handler: the survey of a follow-up call (回访) to a citizen.

Asks the rating (1 satisfied, 2 basically satisfied, 3 dissatisfied) and "was your request settled?
1 yes 2 no"; each question is asked twice at most. The follow-up id is the dialplan extension
(Originate Exten of [cti-followup]).
"""

from __future__ import annotations

from dataclasses import dataclass

from cti.messages import Rating

RATING_PROMPT = "cti12345/followup-rating"    # 您好，这里是12345热线回访。满意请按1，基本满意请按2，不满意请按3。
SETTLED_PROMPT = "cti12345/followup-settled"  # 您反映的问题是否已解决？已解决请按1，未解决请按2。
THANKS_PROMPT = "cti12345/survey-thanks"
TRANSFER_PROMPT = "cti12345/transfer-agent"   # 正在为您转接人工服务，请稍候。


@dataclass(frozen=True)
class Answer:
    followup_id: int | None
    rating: Rating | None
    settled: bool | None


async def ask(call, prompt: str, valid: str, timeout_ms: int = 6000) -> str | None:
    for _ in range(2):
        got = await call.get_data(prompt, timeout_ms, 1)
        if got.failed:
            return None
        if got.digits and got.digits[0] in valid:
            return got.digits[0]
    return None


async def survey(call) -> Answer:
    ext = call.env.get("agi_extension", "")
    fid = int(ext) if ext.isdigit() else None
    rating = await ask(call, RATING_PROMPT, "123")
    settled = await ask(call, SETTLED_PROMPT, "12") if rating is not None else None
    return Answer(fid, Rating.from_key(rating), None if settled is None else settled == "1")


async def hand_to_queue(call, queue: str, timeout: int) -> None:
    """[cti-followup] continues into cti-ivr,s,queue when CTIQUEUE is set after the AGI."""
    await call.stream_file(TRANSFER_PROMPT, "")
    await call.set_variable("CTI_QUEUE_TIMEOUT", str(timeout))
    await call.set_variable("CTIQUEUE", queue)
