"""The pages people see: doctors, partner operators and admins (Flask blueprints)."""
