"""Example workflows, shown in Orange under Help -> Examples."""
