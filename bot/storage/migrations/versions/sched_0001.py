"""sched: a county's own profile kept in the database; the last planning error of each county

Revision ID: sched_0001
Revises: 0003
Create Date: 2026-12-02
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = 'sched_0001'
down_revision = 'sessions_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('policy_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('profile_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('content', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('profile_id'),
    )
    with op.batch_alter_table('schedule_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column('error_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('schedule_state', schema=None) as batch_op:
        batch_op.drop_column('error_at')
        batch_op.drop_column('error')
    op.drop_table('policy_document')
