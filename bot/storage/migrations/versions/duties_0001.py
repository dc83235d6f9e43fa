"""duties: how a duty was recorded as done (form, sign-off, officer's record) and the officer's record

Revision ID: duties_0001
Revises: 0003
Create Date: 2026-12-02
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = 'duties_0001'
down_revision = 'botstate_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('duty_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('by', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False,
                                      server_default='form'))
        batch_op.add_column(sa.Column('occurred_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True))
        batch_op.add_column(sa.Column('attachment', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))
        batch_op.add_column(sa.Column('attachment_name', sqlmodel.sql.sqltypes.AutoString(length=200),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('duty_record', schema=None) as batch_op:
        batch_op.drop_column('attachment_name')
        batch_op.drop_column('attachment')
        batch_op.drop_column('note')
        batch_op.drop_column('occurred_on')
        batch_op.drop_column('by')
