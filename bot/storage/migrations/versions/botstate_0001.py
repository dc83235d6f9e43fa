"""botstate: the Telegram bot's pending follow-ups (a reason or note being typed) in the database

Revision ID: botstate_0001
Revises: 0003
Create Date: 2026-12-02
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = 'botstate_0001'
down_revision = 'spam_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('telegram_follow_up',
    sa.Column('telegram_user_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('chat_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('argument', sa.JSON(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('telegram_user_id', 'chat_id')
    )
    with op.batch_alter_table('telegram_follow_up', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_telegram_follow_up_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('telegram_follow_up', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_telegram_follow_up_expires_at'))
    op.drop_table('telegram_follow_up')
