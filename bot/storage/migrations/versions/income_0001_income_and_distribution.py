"""income: income due and received per asset and period, the distribution plan, its shares and records

Revision ID: income_0001
Revises: fidelity_0001
Create Date: 2026-12-02
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = 'income_0001'
down_revision = 'fidelity_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('asset_income',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('due', sa.Numeric(14, 4), nullable=True),
    sa.Column('received', sa.Numeric(14, 4), nullable=True),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('entered_by', sa.Integer(), nullable=True),
    sa.Column('problem_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], ),
    sa.ForeignKeyConstraint(['entered_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['problem_id'], ['problem.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('asset_id', 'period', name='uq_asset_income_period')
    )
    with op.batch_alter_table('asset_income', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_asset_income_asset_id'), ['asset_id'], unique=False)

    op.create_table('distribution_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('total', sa.Numeric(14, 4), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('return_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('submitted_by', sa.Integer(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(), nullable=True),
    sa.Column('approved_by', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(), nullable=True),
    sa.Column('filed_by', sa.Integer(), nullable=True),
    sa.Column('filed_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['submitted_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['approved_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['filed_by'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('asset_id', 'year', name='uq_distribution_plan_year')
    )
    with op.batch_alter_table('distribution_plan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_distribution_plan_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_distribution_plan_status'), ['status'], unique=False)

    op.create_table('distribution_share',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('percent', sa.Numeric(7, 4), nullable=False),
    sa.Column('amount', sa.Numeric(14, 4), nullable=False),
    sa.Column('households', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['plan_id'], ['distribution_plan.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('plan_id', 'category', name='uq_distribution_share_category')
    )
    with op.batch_alter_table('distribution_share', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_distribution_share_plan_id'), ['plan_id'], unique=False)

    op.create_table('distribution_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(14, 4), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('attachment', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('recorded_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['distribution_plan.id'], ),
    sa.ForeignKeyConstraint(['recorded_by'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('distribution_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_distribution_record_plan_id'), ['plan_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('distribution_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_distribution_record_plan_id'))
    op.drop_table('distribution_record')
    with op.batch_alter_table('distribution_share', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_distribution_share_plan_id'))
    op.drop_table('distribution_share')
    with op.batch_alter_table('distribution_plan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_distribution_plan_status'))
        batch_op.drop_index(batch_op.f('ix_distribution_plan_asset_id'))
    op.drop_table('distribution_plan')
    with op.batch_alter_table('asset_income', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_asset_income_asset_id'))
    op.drop_table('asset_income')
