"""Monitor schema as the layer made it before versioned schemas (create_all, no version table): queue
legs, department legs, 110 hand-overs, follow-up attempts. An unversioned monitor database is stamped here
by `cti db upgrade` (cti.schema), then upgraded.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-30 10:09:38.284778
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('monitor_department_legs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance', sa.String(length=64), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('owner', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('emergency', sa.Boolean(), nullable=False),
    sa.Column('ringing_at', sa.Float(), nullable=False),
    sa.Column('answer_seconds', sa.Float(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('instance', 'call_id', 'number', 'ringing_at')
    )
    with op.batch_alter_table('monitor_department_legs', schema=None) as batch_op:
        batch_op.create_index('ix_mdl_ringing', ['ringing_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_monitor_department_legs_call_id'), ['call_id'], unique=False)

    op.create_table('monitor_followups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance', sa.String(length=64), nullable=False),
    sa.Column('followup_id', sa.String(length=64), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('exhausted', sa.Boolean(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('settled', sa.Boolean(), nullable=True),
    sa.Column('at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('monitor_followups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monitor_followups_at'), ['at'], unique=False)

    op.create_table('monitor_linkage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance', sa.String(length=64), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('monitor_linkage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monitor_linkage_at'), ['at'], unique=False)

    op.create_table('monitor_queue_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance', sa.String(length=64), nullable=False),
    sa.Column('uniqueid', sa.String(length=64), nullable=False),
    sa.Column('linkedid', sa.String(length=64), nullable=False),
    sa.Column('queue', sa.String(length=128), nullable=False),
    sa.Column('hotline', sa.String(length=32), nullable=False),
    sa.Column('joined_at', sa.Float(), nullable=False),
    sa.Column('left_at', sa.Float(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('connected_at', sa.Float(), nullable=True),
    sa.Column('ended_at', sa.Float(), nullable=True),
    sa.Column('agent', sa.String(length=128), nullable=False),
    sa.Column('tags', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('instance', 'uniqueid', 'joined_at')
    )
    with op.batch_alter_table('monitor_queue_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monitor_queue_calls_linkedid'), ['linkedid'], unique=False)
        batch_op.create_index('ix_mqc_left', ['left_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('monitor_queue_calls', schema=None) as batch_op:
        batch_op.drop_index('ix_mqc_left')
        batch_op.drop_index(batch_op.f('ix_monitor_queue_calls_linkedid'))

    op.drop_table('monitor_queue_calls')
    with op.batch_alter_table('monitor_linkage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monitor_linkage_at'))

    op.drop_table('monitor_linkage')
    with op.batch_alter_table('monitor_followups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monitor_followups_at'))

    op.drop_table('monitor_followups')
    with op.batch_alter_table('monitor_department_legs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monitor_department_legs_call_id'))
        batch_op.drop_index('ix_mdl_ringing')

    op.drop_table('monitor_department_legs')
