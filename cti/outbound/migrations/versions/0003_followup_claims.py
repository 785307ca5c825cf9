"""outbound_followups.claimed_by / claimed_until: which layer instance is calling a follow-up, until when
(issue 22, two hosts on one outbound.database_url: a citizen is called by one host only, and a host that
died leaves its calls to the other once the lease has passed). Rows of older versions have neither: a
restart of any instance releases their 'calling' rows, as one host did before.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 11:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbound_followups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbound_followups', schema=None) as batch_op:
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claimed_by')
