"""Follow-up (回访) answers stored on their ticket.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ticket_followups',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('ticket_id', sa.String(length=40), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=False),
    sa.Column('settled', sa.Boolean(), nullable=True),
    sa.Column('call_id', sa.String(length=80), nullable=True),
    sa.Column('outcome', sa.String(length=40), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ticket_followups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_followups_ticket_id'), ['ticket_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ticket_followups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_followups_ticket_id'))

    op.drop_table('ticket_followups')
