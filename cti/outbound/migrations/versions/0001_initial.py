"""Outbound schema as the layer made it before issue 13 (create_all, no version table): campaigns,
follow-ups without network_failures, the do-not-call list, 110 linkage. An unversioned outbound database
is stamped here by `cti db upgrade` (cti.schema), then upgraded.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-30 10:09:38.314798
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outbound_campaigns',
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('outbound_do_not_call',
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('added_at', sa.Float(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('number')
    )
    op.create_table('outbound_followups',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('campaign', sa.String(length=80), nullable=False),
    sa.Column('ticket_id', sa.String(length=40), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.Float(), nullable=False),
    sa.Column('last_outcome', sa.String(length=20), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('settled', sa.Boolean(), nullable=True),
    sa.Column('result_ticket', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbound_followups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbound_followups_campaign'), ['campaign'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_followups_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_followups_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('outbound_linkage',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('direction', sa.String(length=12), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbound_linkage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbound_linkage_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_linkage_direction'), ['direction'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbound_linkage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbound_linkage_direction'))
        batch_op.drop_index(batch_op.f('ix_outbound_linkage_at'))

    op.drop_table('outbound_linkage')
    with op.batch_alter_table('outbound_followups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbound_followups_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_outbound_followups_state'))
        batch_op.drop_index(batch_op.f('ix_outbound_followups_campaign'))

    op.drop_table('outbound_followups')
    op.drop_table('outbound_do_not_call')
    op.drop_table('outbound_campaigns')
