"""inventory: the yearly inventory and income settlement of each asset (seed 003 年初清查、清算)

Revision ID: inventory_0001
Revises: contract_0001
Create Date: 2026-12-02
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = 'inventory_0001'
down_revision = 'contract_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'inventory_check',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('asset_id', sa.Integer(), nullable=False),
        sa.Column('exists', sa.Boolean(), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('value', sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column('income_settled', sa.Boolean(), nullable=False),
        sa.Column('income_received', sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column('confirmed_by', sa.Integer(), nullable=True),
        sa.Column('confirmed_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['asset_id'], ['asset.id']),
        sa.ForeignKeyConstraint(['confirmed_by'], ['app_user.id']),
        sa.ForeignKeyConstraint(['village_id'], ['org_unit.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('asset_id', 'year', name='uq_inventory_check'),
    )
    with op.batch_alter_table('inventory_check', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inventory_check_village_id'), ['village_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inventory_check_year'), ['year'], unique=False)
        batch_op.create_index(batch_op.f('ix_inventory_check_asset_id'), ['asset_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inventory_check', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inventory_check_asset_id'))
        batch_op.drop_index(batch_op.f('ix_inventory_check_year'))
        batch_op.drop_index(batch_op.f('ix_inventory_check_village_id'))
    op.drop_table('inventory_check')
