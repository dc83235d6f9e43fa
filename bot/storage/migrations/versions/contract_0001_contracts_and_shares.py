"""contract: an asset's operating contracts, their attachments, and its owners' shares (issue 17)

Revision ID: contract_0001
Revises: income_0001
Create Date: 2026-12-02
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = 'contract_0001'
down_revision = 'income_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'asset_contract',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('asset_id', sa.Integer(), nullable=False),
        sa.Column('operator', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column('start', sa.Date(), nullable=True),
        sa.Column('end', sa.Date(), nullable=True),
        sa.Column('income_amount', sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column('income_terms', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('poverty_mechanism', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('risk_terms', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('current', sa.Boolean(), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['asset_id'], ['asset.id']),
        sa.ForeignKeyConstraint(['created_by'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('asset_contract', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_asset_contract_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_asset_contract_end'), ['end'], unique=False)
        batch_op.create_index(batch_op.f('ix_asset_contract_current'), ['current'], unique=False)
    op.create_table(
        'contract_attachment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contract_id', sa.Integer(), nullable=False),
        sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('mime', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('size_bytes', sa.Integer(), nullable=False),
        sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['contract_id'], ['asset_contract.id']),
        sa.ForeignKeyConstraint(['created_by'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('contract_attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contract_attachment_contract_id'), ['contract_id'], unique=False)
    op.create_table(
        'asset_owner_share',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('asset_id', sa.Integer(), nullable=False),
        sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('share', sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['asset_id'], ['asset.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('asset_owner_share', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_asset_owner_share_asset_id'), ['asset_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('asset_owner_share', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_asset_owner_share_asset_id'))
    op.drop_table('asset_owner_share')
    with op.batch_alter_table('contract_attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contract_attachment_contract_id'))
    op.drop_table('contract_attachment')
    with op.batch_alter_table('asset_contract', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_asset_contract_current'))
        batch_op.drop_index(batch_op.f('ix_asset_contract_end'))
        batch_op.drop_index(batch_op.f('ix_asset_contract_asset_id'))
    op.drop_table('asset_contract')
