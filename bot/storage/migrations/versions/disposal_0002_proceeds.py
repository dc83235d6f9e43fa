"""disposal: the uses of a disposal's proceeds (处置收入用于扶贫项目)

Revision ID: disposal_0002
Revises: disposal_0001
Create Date: 2026-12-03
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = 'disposal_0002'
down_revision = 'disposal_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('asset_disposal_proceeds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('disposal_id', sa.Integer(), nullable=False),
    sa.Column('used_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=4), nullable=False),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('recorded_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['disposal_id'], ['asset_disposal.id'], ),
    sa.ForeignKeyConstraint(['recorded_by'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('asset_disposal_proceeds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_asset_disposal_proceeds_disposal_id'), ['disposal_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('asset_disposal_proceeds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_asset_disposal_proceeds_disposal_id'))
    op.drop_table('asset_disposal_proceeds')
