"""audit: signature scheme and key id of each audit entry (HMAC-SHA256 over every column)

Entries already written keep scheme 0 (the legacy plain SHA-256) and are verified as before.

Revision ID: audit_0001
Revises: 0003
Create Date: 2026-12-02
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = 'audit_0001'
down_revision = 'sched_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scheme', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('key_id', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_column('key_id')
        batch_op.drop_column('scheme')
