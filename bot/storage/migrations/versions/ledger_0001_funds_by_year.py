"""ledger: the funds of an asset by ledger year (seed 000 附件1, cross-year projects split by year)

Revision ID: ledger_0001
Revises: ops_0001
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = 'ledger_0001'
down_revision = 'ops_0001'
branch_labels = None
depends_on = None

MONEY = ('funds_total', 'funds_central', 'funds_province', 'funds_city', 'funds_county', 'funds_other')


def upgrade() -> None:
    op.create_table(
        'asset_funds_year',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('asset_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        *[sa.Column(name, sa.Numeric(precision=14, scale=4), nullable=False) for name in MONEY],
        sa.ForeignKeyConstraint(['asset_id'], ['asset.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('asset_id', 'year', name='uq_asset_funds_year'),
    )
    with op.batch_alter_table('asset_funds_year', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_asset_funds_year_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_asset_funds_year_year'), ['year'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('asset_funds_year', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_asset_funds_year_year'))
        batch_op.drop_index(batch_op.f('ix_asset_funds_year_asset_id'))
    op.drop_table('asset_funds_year')
