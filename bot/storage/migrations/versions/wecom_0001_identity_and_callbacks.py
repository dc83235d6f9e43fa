"""wecom: WeCom members bound to users, and the callbacks already handled (replays dropped)

Revision ID: wecom_0001
Revises: scoring_0001
Create Date: 2026-12-02
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = 'wecom_0001'
down_revision = 'scoring_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('wecom_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('userid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('reachable', sa.Boolean(), nullable=False),
    sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('bound_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('active_report_id', sa.Integer(), nullable=True),
    sa.Column('follow_up', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('userid'),
    sa.UniqueConstraint('user_id')
    )
    op.create_table('wecom_callback',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('wecom_callback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wecom_callback_at'), ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('wecom_callback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wecom_callback_at'))
    op.drop_table('wecom_callback')
    op.drop_table('wecom_identity')
