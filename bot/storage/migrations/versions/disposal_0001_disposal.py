"""disposal: an asset's disposal (处置) from request to record, and its steps

Revision ID: disposal_0001
Revises: inventory_0001
Create Date: 2026-12-02
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = 'disposal_0001'
down_revision = 'inventory_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('asset_disposal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('method', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('valuation', sa.Numeric(precision=14, scale=4), nullable=True),
    sa.Column('valuer', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('valued_on', sa.Date(), nullable=True),
    sa.Column('valuation_file', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('valuation_file_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('meeting_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('meeting_on', sa.Date(), nullable=True),
    sa.Column('meeting_attendees', sa.Integer(), nullable=True),
    sa.Column('meeting_result', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('notice_from', sa.Date(), nullable=True),
    sa.Column('notice_until', sa.Date(), nullable=True),
    sa.Column('outcome_on', sa.Date(), nullable=True),
    sa.Column('outcome_method', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('outcome_amount', sa.Numeric(precision=14, scale=4), nullable=True),
    sa.Column('counterpart', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('outcome_note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('closed_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('class_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], ),
    sa.ForeignKeyConstraint(['class_id'], ['asset_class.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('asset_disposal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_asset_disposal_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_asset_disposal_status'), ['status'], unique=False)
    op.create_table('asset_disposal_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('disposal_id', sa.Integer(), nullable=False),
    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.ForeignKeyConstraint(['actor_user_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['disposal_id'], ['asset_disposal.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('asset_disposal_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_asset_disposal_step_disposal_id'), ['disposal_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('asset_disposal_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_asset_disposal_step_disposal_id'))
    op.drop_table('asset_disposal_step')
    with op.batch_alter_table('asset_disposal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_asset_disposal_status'))
        batch_op.drop_index(batch_op.f('ix_asset_disposal_asset_id'))
    op.drop_table('asset_disposal')
