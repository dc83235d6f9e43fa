"""cycle: reports about a village or township, and the steps of the yearly cycle

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.alter_column('asset_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('org_unit_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_report_org_unit_id'), ['org_unit_id'], unique=False)
        batch_op.create_foreign_key('fk_report_org_unit_id', 'org_unit', ['org_unit_id'], ['id'])
        batch_op.create_unique_constraint('uq_report_unit_version', ['org_unit_id', 'form_id', 'period', 'version'])

    op.create_table('cycle_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('org_unit_id', sa.Integer(), nullable=False),
    sa.Column('form_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('by_user_id', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['by_user_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('org_unit_id', 'period', 'form_id', 'step', name='uq_cycle_step')
    )
    with op.batch_alter_table('cycle_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cycle_step_org_unit_id'), ['org_unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cycle_step_report_id'), ['report_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cycle_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cycle_step_report_id'))
        batch_op.drop_index(batch_op.f('ix_cycle_step_org_unit_id'))
    op.drop_table('cycle_step')
    op.execute("DELETE FROM report WHERE asset_id IS NULL")
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_constraint('uq_report_unit_version', type_='unique')
        batch_op.drop_constraint('fk_report_org_unit_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_report_org_unit_id'))
        batch_op.drop_column('org_unit_id')
        batch_op.alter_column('asset_id', existing_type=sa.Integer(), nullable=False)
