"""ops: the shared pacing windows of outgoing Telegram calls (several processes, one allowance)

Revision ID: ops_0001
Revises: duties_0001
Create Date: 2026-12-02
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = 'ops_0001'
down_revision = 'duties_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rate_window',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('window', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', 'window')
    )


def downgrade() -> None:
    op.drop_table('rate_window')
