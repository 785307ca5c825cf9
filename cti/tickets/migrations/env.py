"""Alembic environment for the tickets schema; run by cti.schema (start, `cti db upgrade`) or `alembic`."""

from alembic import context

from cti.schema import run_env
from cti.tickets.db import SCHEMA

run_env(context, SCHEMA)
