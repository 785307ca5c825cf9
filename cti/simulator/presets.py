"""Presets: a 12345 centre sized like Nantong's city platform.

Nantong 2022: 2,671,942 answered calls (about 7,300 a day), 171.49 s average talk, 9.44 s average
wait, 97.73% answered within 10 s; about 107 seats. Queues: public (key 1 / no key), enterprise
(key 2, "一企来"), supervision (key 9).
"""

from __future__ import annotations

import random

from .config import AgentTiming, DepartmentTiming, QueueConfig, SimConfig
from .queues_conf import SHIPPED_QUEUES, queue_configs
from .traffic import TrafficProfile

PUBLIC_SEATS, ENTERPRISE_SEATS, SUPERVISION_SEATS = 85, 15, 7
AVERAGE_TALK = 171.49


def nantong_config(config: SimConfig | None = None, seed: int | None = None) -> SimConfig:
    cfg = config or SimConfig()
    if seed is not None:
        cfg.seed = seed  # the traffic generator draws its callers from the same seed
    rng = random.Random(seed)
    cfg.rng = random.Random(seed)
    public = [str(6001 + i) for i in range(PUBLIC_SEATS)]
    enterprise = [str(6101 + i) for i in range(ENTERPRISE_SEATS)]
    supervision = [str(6201 + i) for i in range(SUPERVISION_SEATS)]
    # the shipped queues_cti.conf's settings (strategy, servicelevel, timeout, retry, wrapuptime, autofill),
    # with the seats as static members
    seats = {"public": public, "enterprise": enterprise, "supervision": supervision}
    shipped = queue_configs(members=seats) if SHIPPED_QUEUES.is_file() else []
    cfg.queues = [q for q in shipped if q.name in seats] or [
        QueueConfig(name, members, timeout=15, retry=1, autofill=True) for name, members in seats.items()]
    # talk time: lognormal with the reported mean; answer delay a few seconds; short wrap-up
    sigma = 0.8
    mu = _lognormal_mu(AVERAGE_TALK - 0.5, sigma)
    for ext in public + enterprise + supervision:
        cfg.agents[ext] = AgentTiming(
            ring_delay=lambda r=rng: r.uniform(1.0, 4.0),
            talk_time=lambda r=rng: min(6856.0, max(10.0, r.lognormvariate(mu, sigma))),
            wrapup=lambda r=rng: r.uniform(5.0, 20.0))
    cfg.default_department = DepartmentTiming(answer_delay=lambda r=rng: r.uniform(3.0, 12.0),
                                              talk_time=lambda r=rng: r.uniform(60.0, 240.0),
                                              no_answer_rate=0.03)
    cfg.prompts.update({"welcome": 6.0, "menu": 8.0, "yiqilai-menu": 6.0})
    return cfg


def nantong_traffic(rate_factor: float = 1.0) -> TrafficProfile:
    return TrafficProfile(calls_per_day=7300.0, rate_factor=rate_factor)


def demo_traffic() -> TrafficProfile:
    """Nantong's day, but a first caller at once and a call a minute at night: a demo is never idle."""
    return TrafficProfile(calls_per_day=7300.0, min_per_hour=60.0, first_at_once=True)


def _lognormal_mu(mean: float, sigma: float) -> float:
    import math
    return math.log(mean) - sigma * sigma / 2
